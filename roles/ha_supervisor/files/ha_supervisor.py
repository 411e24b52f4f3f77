#!/usr/bin/python3
"""ha-supervisor: make systemd's watchdog reflect the real health of a daemon.

Neither Apache Mesos nor ZooKeeper speaks sd_notify.  This program runs as the
unit's main process (``Type=notify``, ``NotifyAccess=main``, ``WatchdogSec=``),
starts the daemon as its child and turns health probes into notifications:

* ``READY=1`` is sent once, when every (non-sticky) probe passes in one round.
  Nothing else is pinged before that: systemd arms the watchdog only when the
  unit becomes ready, and an early ``WATCHDOG=1`` would arm it during a slow
  start.  The start phase is bounded by ``--start-timeout`` instead (keep
  ``TimeoutStartSec=`` above start-timeout + stop-timeout).
* After that, one probe round runs every *effective interval*:
  ``min(--interval, WATCHDOG_USEC/2)``.  A round that ends with no probe at or
  above its failure threshold sends ``WATCHDOG=1``, so a healthy daemon pings at
  least every WATCHDOG_USEC/2 (plus the duration of one round, at most
  ``--timeout``).  Keep ``WatchdogSec`` > interval + timeout.
* When a probe fails ``--failures`` rounds in a row (``--sticky-failures`` for a
  sticky probe) the supervisor logs the reason once, stops sending
  ``WATCHDOG=1`` for good (the decision latches: systemd is expected to restart
  the unit) and, with ``--trigger-on-failure`` (default), sends
  ``WATCHDOG=trigger`` so that systemd acts at once instead of after
  ``WatchdogSec`` (supported by systemd 252, Debian 12; it works even without
  ``WatchdogSec=``, so it is not sent when ``WATCHDOG_PID`` names another process).
* Failures below the threshold still feed the watchdog: a flapping probe does
  not restart anything.

Detection time after a hang (trigger sent) is at most
interval + (failures - 1) x max(interval, timeout) + timeout: 8 s with the defaults.

Usage::

    ha-supervisor [options] -- DAEMON [ARG...]

Probe specs (``--probe``, repeatable):

``http:URL``
    GET URL; healthy iff the status is 200 (redirects are not followed, proxy
    variables are ignored).  For Mesos ``/health``.
``metric:URL#KEY=VALUE``
    GET URL (JSON object, e.g. ``/metrics/snapshot``); healthy iff 200 and
    ``KEY`` equals ``VALUE`` (numbers compare numerically: ``1`` == ``1.0``).
``zk:HOST:PORT``
    ZooKeeper four-letter words: ``ruok`` must answer ``imok`` and ``srvr``
    must report ``Mode: leader|follower|standalone|observer``.  A member that
    is up but outside a quorum ("not currently serving requests") is unhealthy.
    ZooKeeper must whitelist both words (``4lw.commands.whitelist=ruok,srvr``).
``tcp:HOST:PORT``
    A TCP connection succeeds.
``registered:AGENT_URL|MASTER_URL[,MASTER_URL...]``
    A Mesos agent is registered: its id (``/state`` of AGENT_URL) is listed and
    active in ``/master/slaves`` of the *elected* master (the one of MASTER_URLs
    that answers 200; the others redirect).  The agent's own
    ``slave/registered`` metric is no evidence: it is 1 as soon as the agent
    has detected a leader, before it authenticated or registered.
``sticky:SPEC``
    Any of the above, enforced only once it has passed once, and with its own
    threshold ``--sticky-failures`` (default 30 rounds).  It does not gate
    READY=1.  Meant for ``sticky:registered:...``: an agent must be registered
    once it has been, but a long leader-less period in the cluster restarts each
    agent at most once (after sticky-failures rounds); the restarted agent's
    sticky probe is dormant again until the agent registers, so there is no
    restart loop.

Never probe ``master/elected``: a non-elected master is healthy.

HTTP options apply to all http/metric probes: ``--http-credentials FILE``
(JSON ``{"principal": ..., "secret": ...}``, sent as preemptive Basic auth and
never logged), ``--ca-file`` (https is always verified unless ``--insecure``,
which exists for tests only), ``--client-cert``/``--client-key``.

Options can also come from a JSON object in ``--config FILE`` whose keys are the
long option names (``"probe"`` is a list; ``"command"`` may hold the daemon
argv).  Command-line values win; ``--probe`` on the command line replaces the
file's list.

Signals: SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 are forwarded to
the daemon.  After SIGTERM the daemon gets ``--stop-timeout`` seconds before
SIGKILL.  SIGABRT (systemd's watchdog signal) SIGKILLs the daemon at once (even
a stopped one), reaps it and exits 134.  Only the daemon's pid is signalled;
other processes of the unit are left to systemd's ``KillMode=``.  The daemon is
started with the parent-death signal SIGKILL (Linux), so it never outlives the
supervisor, even under ``KillMode=process`` when systemd SIGKILLs the supervisor
alone (the Mesos agent's unit: its executors must survive, the agent must not).

One-shot check: ``ha-supervisor --check SPEC [options]`` runs one probe once,
prints ``{"ok": ..., "detail": ...}`` and exits 0 when it passed, 1 when not
(the roles' waits use the same probes as the watchdog).

Exit codes:

* the daemon's exit code when it exits, or 128+N when signal N killed it
  (e.g. 143 after a forwarded SIGTERM: list it in ``SuccessExitStatus=``);
* 2: invalid command line or configuration;
* 70: internal error of the supervisor (the daemon is killed);
* 124: the daemon was not healthy within ``--start-timeout`` (it is stopped);
* 126 / 127: the daemon could not be executed / was not found;
* 134: SIGABRT received (watchdog timeout): the daemon was SIGKILLed.

Unit file: ``Type=notify``, ``NotifyAccess=main``, ``WatchdogSec=`` > interval +
timeout, ``TimeoutStartSec=`` > start-timeout + stop-timeout, ``TimeoutStopSec=`` >
stop-timeout, ``KillMode=mixed`` (SIGTERM/SIGABRT reach only this process, which
forwards them; the final SIGKILL still covers the whole cgroup) or
``KillMode=process`` where other processes of the unit must survive it, and
``SuccessExitStatus=143``.

Environment: ``NOTIFY_SOCKET`` (AF_UNIX datagram; ``@`` = abstract namespace;
when unset the supervisor runs anyway), ``WATCHDOG_USEC`` and ``WATCHDOG_PID``
(honoured only when unset or equal to our pid).  These three are removed from
the daemon's environment.  Sockets systemd passes (``LISTEN_FDS`` with
``LISTEN_PID`` = our pid, e.g. from ``Sockets=``) are handed on to the daemon:
the descriptors stay open for it and ``LISTEN_PID`` names the daemon, set by a
``/bin/sh`` that execs it (the daemon's pid is known only after the fork).
"""

from __future__ import annotations

import argparse
import base64
import collections
import ctypes
import http.client
import json
import os
import select
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

PROG = "ha-supervisor"

EXIT_USAGE = 2
EXIT_INTERNAL = 70
EXIT_START_TIMEOUT = 124
EXIT_CANNOT_EXECUTE = 126
EXIT_NOT_FOUND = 127
EXIT_WATCHDOG_ABORT = 128 + signal.SIGABRT  # 134

FORWARDED_SIGNALS = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
)
SYSTEMD_ENV = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")
ZK_SERVING_MODES = ("leader", "follower", "standalone", "observer")
MAX_BODY = 8 * 1024 * 1024
MAX_4LW_REPLY = 64 * 1024


class UsageError(Exception):
    """Invalid command line or configuration (exit code 2)."""


# --------------------------------------------------------------------------- logging


class Logger:
    """Writes one line per decision to stderr (the journal under systemd)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, message: str) -> None:
        try:
            sys.stderr.write(f"{PROG}[{self.name}]: {message}\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


# --------------------------------------------------------------------------- sd_notify


def notify_address(value: str) -> str | bytes:
    """Return the socket address for a NOTIFY_SOCKET value (``@`` = abstract)."""
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    return value


class Notifier:
    """Sends sd_notify datagrams; a no-op when NOTIFY_SOCKET is unset."""

    def __init__(self, socket_path: Optional[str], log: Logger) -> None:
        self._log = log
        self._address: str | bytes | None = None
        self._sock: Optional[socket.socket] = None
        self._failed = False
        if socket_path:
            self._address = notify_address(socket_path)
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.setblocking(False)

    @property
    def enabled(self) -> bool:
        """True when there is a socket to send to."""
        return self._sock is not None

    def send(self, message: str) -> bool:
        """Send one datagram; failures are logged once and otherwise ignored."""
        if self._sock is None or self._address is None:
            return False
        try:
            self._sock.sendto(message.encode(), self._address)
            self._failed = False
            return True
        except OSError as exc:
            if not self._failed:
                self._log(f"cannot send to NOTIFY_SOCKET: {exc.strerror or exc}")
            self._failed = True
            return False


def watchdog_usec(env: Mapping[str, str], pid: int) -> Optional[int]:
    """Return WATCHDOG_USEC if the watchdog is enabled for ``pid``, else None."""
    owner = env.get("WATCHDOG_PID", "").strip()
    if owner and owner != str(pid):
        return None
    try:
        usec = int(env.get("WATCHDOG_USEC", "").strip())
    except ValueError:
        return None
    return usec if usec > 0 else None


# --------------------------------------------------------------------------- probes


@dataclass(frozen=True)
class ProbeResult:
    """Outcome of one check: ``detail`` explains it (never contains secrets)."""

    ok: bool
    detail: str


@dataclass(frozen=True)
class HttpSettings:
    """TLS and authentication shared by all http/metric probes."""

    credentials: Optional[tuple[str, str]] = None
    ca_file: Optional[str] = None
    client_cert: Optional[str] = None
    client_key: Optional[str] = None
    insecure: bool = False


def describe_error(exc: BaseException, timeout: float) -> str:
    """Turn a probe exception into a short reason for the log."""
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        exc = exc.reason
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return f"timed out after {timeout:g}s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {getattr(exc, 'reason', None) or exc}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def split_host_port(value: str) -> tuple[str, int]:
    """Parse ``HOST:PORT`` or ``[IPv6]:PORT``."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"expected HOST:PORT, got {value!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def redact_url(url: str) -> str:
    """Drop any user:password@ part of a URL so that it can be logged."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def values_match(actual: Any, expected: str) -> bool:
    """Compare a JSON value with the expected text (numbers numerically)."""
    if isinstance(actual, bool):
        return expected.lower() in (("true", "1") if actual else ("false", "0"))
    if isinstance(actual, (int, float)):
        try:
            return float(actual) == float(expected)
        except ValueError:
            return False
    if actual is None:
        return expected in ("null", "")
    return str(actual) == expected


class Probe:
    """A health check.  ``check`` must return within about ``timeout`` seconds."""

    kind = "?"

    def __init__(self, target: str, sticky: bool = False) -> None:
        self.target = target
        self.sticky = sticky

    @property
    def label(self) -> str:
        """The spec as it is logged (secrets removed)."""
        return ("sticky:" if self.sticky else "") + f"{self.kind}:{self.target}"

    def check(self, timeout: float) -> ProbeResult:
        """Run the check once."""
        raise NotImplementedError


class TcpProbe(Probe):
    """``tcp:HOST:PORT``: healthy iff a connection can be made."""

    kind = "tcp"

    def __init__(self, target: str, sticky: bool = False) -> None:
        super().__init__(target, sticky)
        self.address = split_host_port(target)

    def check(self, timeout: float) -> ProbeResult:
        try:
            with socket.create_connection(self.address, timeout=timeout):
                return ProbeResult(True, "connected")
        except OSError as exc:
            return ProbeResult(False, describe_error(exc, timeout))


class ZooKeeperProbe(Probe):
    """``zk:HOST:PORT``: ``ruok`` -> ``imok`` and ``srvr`` -> a serving Mode."""

    kind = "zk"

    def __init__(self, target: str, sticky: bool = False) -> None:
        super().__init__(target, sticky)
        self.address = split_host_port(target)

    def _four_letter_word(self, word: str, deadline: float) -> str:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        chunks: list[bytes] = []
        size = 0
        with socket.create_connection(self.address, timeout=remaining) as sock:
            sock.sendall(word.encode())
            while size < MAX_4LW_REPLY:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                sock.settimeout(remaining)
                data = sock.recv(4096)
                if not data:
                    break
                chunks.append(data)
                size += len(data)
        return b"".join(chunks).decode("utf-8", "replace")

    def check(self, timeout: float) -> ProbeResult:
        deadline = time.monotonic() + timeout
        try:
            reply = self._four_letter_word("ruok", deadline).strip()
            if reply != "imok":
                return ProbeResult(False, f"ruok answered {reply[:80]!r}, expected 'imok'")
            reply = self._four_letter_word("srvr", deadline)
        except OSError as exc:
            return ProbeResult(False, describe_error(exc, timeout))
        if "not currently serving requests" in reply:
            return ProbeResult(False, "not currently serving requests (not in a quorum)")
        for line in reply.splitlines():
            if line.startswith("Mode:"):
                mode = line.partition(":")[2].strip()
                if mode in ZK_SERVING_MODES:
                    return ProbeResult(True, f"Mode: {mode}")
                return ProbeResult(False, f"unexpected Mode: {mode[:40]!r}")
        return ProbeResult(False, f"no Mode in srvr reply {reply.strip()[:80]!r}")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Report 3xx as it is: a redirect is not a 200."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class HttpProbe(Probe):
    """``http:URL``: healthy iff GET answers 200."""

    kind = "http"

    def __init__(self, target: str, settings: HttpSettings, sticky: bool = False) -> None:
        url = target
        scheme = urllib.parse.urlsplit(url).scheme
        if scheme not in ("http", "https") or not urllib.parse.urlsplit(url).hostname:
            raise UsageError(f"{self.kind} probe needs an http(s) URL, got {redact_url(url)!r}")
        super().__init__(redact_url(target), sticky)
        self.url = url
        self.headers = {"User-Agent": PROG, "Accept": "*/*"}
        if settings.credentials:
            token = base64.b64encode(":".join(settings.credentials).encode()).decode()
            self.headers["Authorization"] = f"Basic {token}"
        handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({}), _NoRedirect()]
        if scheme == "https":
            handlers.append(urllib.request.HTTPSHandler(context=self._tls_context(settings)))
        self.opener = urllib.request.build_opener(*handlers)

    @staticmethod
    def _tls_context(settings: HttpSettings) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=settings.ca_file)
        if settings.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if settings.client_cert:
            context.load_cert_chain(settings.client_cert, settings.client_key)
        return context

    def fetch(self, timeout: float, want_body: bool, query: str = "") -> tuple[int, bytes]:
        """GET the URL (plus ``query``); return (status, body).  Raises OSError on failure."""
        request = urllib.request.Request(self.url + query, headers=self.headers, method="GET")
        try:
            with self.opener.open(request, timeout=timeout) as response:
                return response.status, response.read(MAX_BODY) if want_body else b""
        except urllib.error.HTTPError as exc:
            exc.close()
            return exc.code, b""

    def check(self, timeout: float) -> ProbeResult:
        try:
            status, _ = self.fetch(timeout, want_body=False)
        except (OSError, http.client.HTTPException) as exc:
            return ProbeResult(False, describe_error(exc, timeout))
        if status != 200:
            return ProbeResult(False, f"HTTP {status}")
        return ProbeResult(True, "HTTP 200")


class MetricProbe(HttpProbe):
    """``metric:URL#KEY=VALUE``: GET a JSON object and compare one key."""

    kind = "metric"

    def __init__(self, target: str, settings: HttpSettings, sticky: bool = False) -> None:
        url, sep, condition = target.rpartition("#")
        key, eq, value = condition.partition("=")
        if not sep or not eq or not key:
            raise UsageError(f"metric probe needs URL#KEY=VALUE, got {redact_url(target)!r}")
        super().__init__(url, settings, sticky)
        self.key = key
        self.expected = value
        self.target = f"{redact_url(url)}#{key}={value}"

    def check(self, timeout: float) -> ProbeResult:
        try:
            status, body = self.fetch(timeout, want_body=True)
        except (OSError, http.client.HTTPException) as exc:
            return ProbeResult(False, describe_error(exc, timeout))
        if status != 200:
            return ProbeResult(False, f"HTTP {status}")
        try:
            data = json.loads(body)
        except ValueError:
            return ProbeResult(False, "response is not JSON")
        if not isinstance(data, dict) or self.key not in data:
            return ProbeResult(False, f"{self.key} not in response")
        actual = data[self.key]
        if not values_match(actual, self.expected):
            return ProbeResult(False, f"{self.key}={json.dumps(actual)[:40]}, expected {self.expected}")
        return ProbeResult(True, f"{self.key}={json.dumps(actual)[:40]}")


class RegisteredProbe(Probe):
    """``registered:AGENT_URL|MASTER_URL,...``: the elected master lists the agent as active."""

    kind = "registered"

    def __init__(self, target: str, settings: HttpSettings, sticky: bool = False) -> None:
        agent, sep, masters = target.partition("|")
        urls = [u for u in masters.split(",") if u]
        if not sep or not agent or not urls:
            raise UsageError(f"registered probe needs AGENT_URL|MASTER_URL[,...], got {redact_url(target)!r}")
        super().__init__(target, sticky)
        self.agent = HttpProbe(agent.rstrip("/") + "/state", settings)
        self.masters = [HttpProbe(u.rstrip("/") + "/master/slaves", settings) for u in urls]
        self.agent_id = ""  # an agent keeps its id for the life of its process
        self.leader = 0     # the master that answered last, asked first

    @staticmethod
    def _fetch_json(probe: HttpProbe, query: str, timeout: float) -> tuple[int, Any]:
        status, body = probe.fetch(timeout, want_body=True, query=query)
        if status != 200:
            return status, None
        try:
            return status, json.loads(body)
        except ValueError:
            return status, None

    def check(self, timeout: float) -> ProbeResult:
        deadline = time.monotonic() + timeout
        try:
            if not self.agent_id:
                status, state = self._fetch_json(self.agent, "", timeout)
                if status != 200 or not isinstance(state, dict):
                    return ProbeResult(False, f"agent /state: HTTP {status}")
                self.agent_id = str(state.get("id") or "")
                if not self.agent_id:
                    return ProbeResult(False, "the agent has no id yet (never registered)")
            answers = []
            order = self.masters[self.leader:] + self.masters[: self.leader]
            for probe in order:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return ProbeResult(False, f"timed out after {timeout:g}s asking the masters")
                try:
                    status, body = self._fetch_json(probe, f"?slave_id={urllib.parse.quote(self.agent_id)}", remaining)
                except (OSError, http.client.HTTPException) as exc:
                    answers.append(describe_error(exc, remaining))
                    continue
                if status != 200:
                    answers.append(f"HTTP {status}")
                    continue
                self.leader = self.masters.index(probe)
                slaves = body.get("slaves", []) if isinstance(body, dict) else []
                for slave in slaves:
                    if slave.get("id") == self.agent_id:
                        if slave.get("active"):
                            return ProbeResult(True, f"agent {self.agent_id} active on the elected master")
                        return ProbeResult(False, f"agent {self.agent_id} is not active on the elected master")
                return ProbeResult(False, f"the elected master does not list agent {self.agent_id}")
            return ProbeResult(False, f"no elected master answered ({', '.join(answers)})")
        except (OSError, http.client.HTTPException) as exc:
            return ProbeResult(False, describe_error(exc, timeout))


def parse_probe(spec: str, settings: HttpSettings) -> Probe:
    """Build a probe from its spec (see the module docstring)."""
    body = spec
    sticky = body.startswith("sticky:")
    if sticky:
        body = body[len("sticky:") :]
    kind, sep, target = body.partition(":")
    if not sep or not target:
        raise UsageError(f"invalid probe {redact_url(spec)!r}: expected TYPE:TARGET")
    if kind == "http":
        return HttpProbe(target, settings, sticky)
    if kind == "metric":
        return MetricProbe(target, settings, sticky)
    if kind == "registered":
        return RegisteredProbe(target, settings, sticky)
    if kind == "zk":
        return ZooKeeperProbe(target, sticky)
    if kind == "tcp":
        return TcpProbe(target, sticky)
    raise UsageError(f"unknown probe type {kind!r} in {redact_url(spec)!r} (http, metric, registered, zk, tcp)")


# --------------------------------------------------------------------------- configuration


@dataclass
class Config:
    """Effective settings: defaults < --config file < command line."""

    command: list[str]
    name: str = ""
    probe: list[str] = field(default_factory=list)
    interval: float = 2.0
    timeout: float = 2.0
    failures: int = 3
    sticky_failures: int = 30
    start_timeout: float = 120.0
    stop_timeout: float = 20.0
    trigger_on_failure: bool = True
    http_credentials: Optional[str] = None
    ca_file: Optional[str] = None
    client_cert: Optional[str] = None
    client_key: Optional[str] = None
    insecure: bool = False


OPTION_TYPES: dict[str, Callable[[Any], Any]] = {
    "name": str,
    "interval": float,
    "timeout": float,
    "failures": int,
    "sticky_failures": int,
    "start_timeout": float,
    "stop_timeout": float,
    "trigger_on_failure": bool,
    "http_credentials": str,
    "ca_file": str,
    "client_cert": str,
    "client_key": str,
    "insecure": bool,
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # type: ignore[override]
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser.  Defaults are None so that a config file can fill them."""
    p = _Parser(
        prog=PROG,
        usage=f"{PROG} [options] -- DAEMON [ARG...]",
        description="Run DAEMON and drive systemd's READY/WATCHDOG notifications from health probes.",
        argument_default=None,
    )
    p.add_argument("--config", metavar="FILE", help="JSON object with option values (CLI wins)")
    p.add_argument("--name", help="name used in log lines (default: basename of DAEMON)")
    p.add_argument(
        "--probe",
        action="append",
        metavar="SPEC",
        help="http:URL, metric:URL#KEY=VALUE, registered:AGENT_URL|MASTER_URL,..., zk:HOST:PORT, tcp:HOST:PORT,"
        " optionally prefixed by sticky: (repeatable)",
    )
    p.add_argument(
        "--interval",
        type=float,
        metavar="SECONDS",
        help="probe period (default 2; capped to WATCHDOG_USEC/2)",
    )
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="per-probe timeout (default 2)")
    p.add_argument(
        "--failures",
        type=int,
        metavar="N",
        help="consecutive failed rounds before WATCHDOG=1 is withheld (default 3)",
    )
    p.add_argument("--sticky-failures", type=int, metavar="N", help="same for sticky probes (default 30)")
    p.add_argument(
        "--start-timeout",
        type=float,
        metavar="SECONDS",
        help="max wait for the first healthy round (default 120)",
    )
    p.add_argument(
        "--stop-timeout",
        type=float,
        metavar="SECONDS",
        help="grace after SIGTERM before SIGKILL (default 20)",
    )
    p.add_argument(
        "--trigger-on-failure",
        action=argparse.BooleanOptionalAction,
        help="send WATCHDOG=trigger when a threshold is reached (default on)",
    )
    p.add_argument(
        "--http-credentials",
        metavar="FILE",
        help='JSON {"principal": ..., "secret": ...} for HTTP Basic auth',
    )
    p.add_argument("--ca-file", metavar="FILE", help="CA bundle to verify https probes")
    p.add_argument("--client-cert", metavar="FILE", help="client certificate (PEM) for https probes")
    p.add_argument("--client-key", metavar="FILE", help="client key (PEM) for https probes")
    p.add_argument(
        "--insecure", action="store_const", const=True, help="do not verify https certificates (tests only)"
    )
    return p


def _read_config_file(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as exc:
        raise UsageError(f"cannot read config {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise UsageError(f"config {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"config {path} must hold a JSON object")
    values: dict[str, Any] = {}
    for raw_key, value in data.items():
        key = str(raw_key).replace("-", "_")
        key = {"probes": "probe"}.get(key, key)
        if key in ("probe", "command"):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise UsageError(f"config {path}: {raw_key} must be a list of strings")
            values[key] = list(value)
        elif key in OPTION_TYPES:
            kind = OPTION_TYPES[key]
            if kind is bool and not isinstance(value, bool):
                raise UsageError(f"config {path}: {raw_key} must be true or false")
            try:
                values[key] = kind(value)
            except (TypeError, ValueError):
                raise UsageError(f"config {path}: invalid value for {raw_key}") from None
        else:
            raise UsageError(f"config {path}: unknown key {raw_key!r}")
    return values


def load_config(argv: list[str]) -> Config:
    """Parse ``[options] -- DAEMON ARG...`` plus an optional --config file."""
    if "--" in argv:
        split = argv.index("--")
        options, command = argv[:split], argv[split + 1 :]
    else:
        options, command = argv, []
    args = build_parser().parse_args(options)
    values = _read_config_file(args.config) if args.config else {}
    for key, value in vars(args).items():
        if key != "config" and value is not None:
            values[key] = value
    if command:
        values["command"] = command
    if not values.get("command"):
        raise UsageError("no daemon given: use -- DAEMON [ARG...]")
    config = Config(**values)
    if not config.name:
        config.name = os.path.basename(config.command[0])
    for key in ("interval", "timeout"):
        if not getattr(config, key) > 0:
            raise UsageError(f"--{key} must be > 0")
    for key in ("start_timeout", "stop_timeout"):
        if getattr(config, key) < 0:
            raise UsageError(f"--{key.replace('_', '-')} must be >= 0")
    for key in ("failures", "sticky_failures"):
        if getattr(config, key) < 1:
            raise UsageError(f"--{key.replace('_', '-')} must be >= 1")
    if config.client_key and not config.client_cert:
        raise UsageError("--client-key needs --client-cert")
    return config


def read_credentials(path: str) -> tuple[str, str]:
    """Read ``{"principal", "secret"}``; error messages never include the content."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        principal, secret = data["principal"], data["secret"]
    except OSError as exc:
        raise UsageError(f"cannot read credentials file {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError):
        raise UsageError(f"credentials file {path} must be JSON with principal and secret") from None
    if not isinstance(principal, str) or not isinstance(secret, str):
        raise UsageError(f"credentials file {path}: principal and secret must be strings")
    return principal, secret


def build_probes(config: Config) -> list[Probe]:
    """Instantiate the configured probes (reads the credentials file)."""
    credentials = read_credentials(config.http_credentials) if config.http_credentials else None
    settings = HttpSettings(
        credentials, config.ca_file, config.client_cert, config.client_key, config.insecure
    )
    try:
        return [parse_probe(spec, settings) for spec in config.probe]
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"cannot set up TLS: {describe_error(exc, 0)}") from None


# --------------------------------------------------------------------------- supervision


def exit_status(returncode: int) -> int:
    """Popen returncode -> shell-style status (128+N for signal N)."""
    return 128 - returncode if returncode < 0 else returncode


def describe_status(returncode: int) -> str:
    """Human-readable daemon exit for the log."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"was killed by {name} (status {exit_status(returncode)})"
    return f"exited with status {returncode}"


SD_LISTEN_FDS_START = 3


def listen_fds_for_daemon(command: list[str], env: dict[str, str], pid: int) -> tuple[list[str], tuple[int, ...]]:
    """Hand systemd's socket-activation descriptors (LISTEN_FDS for ``pid``) on to the daemon.

    Returns the command to run and the descriptors to keep open.  ``env`` loses LISTEN_PID; a
    shell sets it to its own pid and execs the daemon, which keeps that pid.
    """
    if env.get("LISTEN_PID", "").strip() != str(pid):
        env.pop("LISTEN_PID", None)
        env.pop("LISTEN_FDS", None)
        env.pop("LISTEN_FDNAMES", None)
        return command, ()
    try:
        count = int(env.get("LISTEN_FDS", "0"))
    except ValueError:
        count = 0
    env.pop("LISTEN_PID", None)
    if count <= 0:
        return command, ()
    fds = tuple(range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + count))
    return ["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$0" "$@"', *command], fds


PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> Optional[Callable[[], None]]:
    """A preexec_fn that makes the child get SIGKILL when the supervisor dies (Linux prctl).

    Runs in the child before exec, while the supervisor has no other thread yet.  The signal
    survives exec (not fork: the daemon's own children do not inherit it).  If the supervisor
    died before prctl took effect the child would wait for a death that already happened, so
    it checks its parent afterwards.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None

    def preexec() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(EXIT_INTERNAL)

    return preexec


class ProbeState:
    """Per-probe bookkeeping across rounds."""

    def __init__(self, probe: Probe, threshold: int) -> None:
        self.probe = probe
        self.threshold = threshold
        self.consecutive_failures = 0
        self.passed_once = False
        self.last_detail = ""
        self.worker: Optional[threading.Thread] = None
        self.result: Optional[tuple[int, ProbeResult]] = None  # (round id, result)

    @property
    def enforced(self) -> bool:
        """Sticky probes are enforced only after their first pass."""
        return not self.probe.sticky or self.passed_once


class Supervisor:
    """Runs the daemon, the probe rounds and the notifications."""

    STARTING, RUNNING, UNHEALTHY, STOPPING = "starting", "running", "unhealthy", "stopping"

    def __init__(self, config: Config, probes: list[Probe], log: Logger) -> None:
        self.config = config
        self.log = log
        self.pid = os.getpid()
        self.notifier = Notifier(os.environ.get("NOTIFY_SOCKET"), log)
        self.watchdog_usec = watchdog_usec(os.environ, self.pid)
        self.interval = config.interval
        if self.watchdog_usec:
            self.interval = min(config.interval, self.watchdog_usec / 2e6)
        self.states = [ProbeState(p, config.sticky_failures if p.sticky else config.failures) for p in probes]
        self.phase = self.STARTING
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.pending_signals: collections.deque[int] = collections.deque()
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.wake_w.setblocking(False)
        self.status_text = ""
        self.started_at = 0.0
        self.round_id = 0
        self.round_deadline: Optional[float] = None
        self.next_round = 0.0
        self.kill_at: Optional[float] = None
        self.stop_exit: Optional[int] = None

    # -- plumbing

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.pending_signals.append(signum)

    def _wake(self) -> None:
        try:
            self.wake_w.send(b"\0")
        except OSError:
            pass

    def _set_status(self, text: str) -> None:
        if text != self.status_text:
            self.status_text = text
            self.notifier.send(f"STATUS={text}")

    def _install_signals(self) -> None:
        signal.set_wakeup_fd(self.wake_w.fileno(), warn_on_full_buffer=False)
        for signum in FORWARDED_SIGNALS + (signal.SIGABRT, signal.SIGCHLD):
            signal.signal(signum, self._on_signal)

    def _spawn(self) -> int:
        env = {k: v for k, v in os.environ.items() if k not in SYSTEMD_ENV}
        command, pass_fds = listen_fds_for_daemon(self.config.command, env, self.pid)
        try:
            self.proc = subprocess.Popen(
                command, env=env, process_group=0, pass_fds=pass_fds, preexec_fn=die_with_parent(self.pid)
            )
        except FileNotFoundError:
            self.log(f"cannot start daemon: {self.config.command[0]} not found")
            return EXIT_NOT_FOUND
        except OSError as exc:
            self.log(f"cannot start daemon {self.config.command[0]}: {exc.strerror or exc}")
            return EXIT_CANNOT_EXECUTE
        self.started_at = time.monotonic()
        return 0

    def _signal_daemon(self, signum: int) -> None:
        if self.proc is not None and self.proc.returncode is None:
            try:
                os.kill(self.proc.pid, signum)
            except ProcessLookupError:
                pass

    # -- main loop

    def run(self) -> int:
        """Supervise until the daemon is gone; return the exit code."""
        self._install_signals()
        if not self.notifier.enabled:
            self.log("NOTIFY_SOCKET is not set; running without systemd notifications")
        if self.watchdog_usec:
            self.log(
                f"watchdog enabled (WATCHDOG_USEC={self.watchdog_usec}); probing every {self.interval:g}s"
            )
            if self.config.timeout + self.interval >= self.watchdog_usec / 1e6:
                self.log(
                    "warning: interval + timeout >= WatchdogSec; slow probes may let the watchdog expire"
                )
        elif os.environ.get("WATCHDOG_USEC"):
            self.log("WATCHDOG_PID is not ours; not sending WATCHDOG=1")
        code = self._spawn()
        if code:
            self._set_status(f"cannot start {self.config.command[0]}")
            return code
        assert self.proc is not None
        probes = ", ".join(s.probe.label for s in self.states) or "none (process liveness only)"
        self.log(f"started {self.config.command[0]} (pid {self.proc.pid}); probes: {probes}")
        self._set_status("starting: waiting for the daemon to become healthy")
        self.next_round = time.monotonic()
        try:
            return self._loop()
        except Exception as exc:  # keep the host sane whatever happens
            self.log(f"internal error: {type(exc).__name__}: {exc}; killing the daemon")
            self._kill_daemon()
            return EXIT_INTERNAL

    def _loop(self) -> int:
        assert self.proc is not None
        while True:
            while self.pending_signals:
                code = self._handle_signal(self.pending_signals.popleft())
                if code is not None:
                    return code
            returncode = self.proc.poll()
            if returncode is not None:
                return self._daemon_gone(returncode)
            now = time.monotonic()
            if self.phase == self.STOPPING:
                if self.kill_at is not None and now >= self.kill_at:
                    self.log(
                        f"daemon still running {self.config.stop_timeout:g}s after SIGTERM; sending SIGKILL"
                    )
                    self._signal_daemon(signal.SIGCONT)
                    self._signal_daemon(signal.SIGKILL)
                    self.kill_at = None
            else:
                if self.round_deadline is not None and (now >= self.round_deadline or self._round_complete()):
                    self._finish_round()
                if self.phase == self.STARTING and now - self.started_at >= self.config.start_timeout:
                    self._give_up()
                    continue
                if (
                    self.round_deadline is None
                    and self.phase in (self.STARTING, self.RUNNING)
                    and now >= self.next_round
                ):
                    self._start_round(now)
            self._sleep_until(self._next_event())

    def _next_event(self) -> float:
        candidates = [time.monotonic() + 1.0]
        if self.phase == self.STOPPING:
            if self.kill_at is not None:
                candidates.append(self.kill_at)
        else:
            if self.round_deadline is not None:
                candidates.append(self.round_deadline)
            elif self.phase in (self.STARTING, self.RUNNING):
                candidates.append(self.next_round)
            if self.phase == self.STARTING:
                candidates.append(self.started_at + self.config.start_timeout)
        return min(candidates)

    def _sleep_until(self, when: float) -> None:
        delay = max(0.0, when - time.monotonic())
        try:
            select.select([self.wake_r], [], [], delay)
        except InterruptedError:
            pass
        try:
            while self.wake_r.recv(512):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    # -- probe rounds

    def _run_probe(self, state: ProbeState, round_id: int) -> None:
        try:
            result = state.probe.check(self.config.timeout)
        except Exception as exc:  # a probe bug must count as a failure, not kill us
            result = ProbeResult(False, f"probe error: {type(exc).__name__}")
        state.result = (round_id, result)
        self._wake()

    def _round_complete(self) -> bool:
        return all(s.result is not None and s.result[0] == self.round_id for s in self.states)

    def _start_round(self, now: float) -> None:
        self.round_id += 1
        self.round_deadline = now + self.config.timeout
        self.next_round = now + self.interval  # start-to-start; back to back if timeout > interval
        for state in self.states:
            if state.worker is not None and state.worker.is_alive():
                # The previous check is stuck past its deadline: do not pile up threads.
                detail = f"timed out after {self.config.timeout:g}s (previous check still running)"
                state.result = (self.round_id, ProbeResult(False, detail))
                continue
            state.result = None
            state.worker = threading.Thread(target=self._run_probe, args=(state, self.round_id), daemon=True)
            state.worker.start()

    def _finish_round(self) -> None:
        """Collect this round's results; a missing one is a timeout."""
        self.round_deadline = None
        timed_out = ProbeResult(False, f"timed out after {self.config.timeout:g}s")
        results = [
            s.result[1] if s.result is not None and s.result[0] == self.round_id else timed_out
            for s in self.states
        ]
        if self.phase == self.STARTING:
            self._finish_start_round(results)
        elif self.phase == self.RUNNING:
            self._finish_running_round(results)

    def _finish_start_round(self, results: list[ProbeResult]) -> None:
        waiting: list[str] = []
        for state, result in zip(self.states, results):
            if result.ok:
                state.passed_once = True
            elif not state.probe.sticky:
                waiting.append(state.probe.label)
                if result.detail != state.last_detail:
                    self.log(f"waiting for probe {state.probe.label}: {result.detail}")
            state.last_detail = result.detail
        if waiting:
            passing = len(self.states) - len(waiting)
            self._set_status(
                f"starting: {passing}/{len(self.states)} probes passing; waiting for {waiting[0]}"
            )
            return
        elapsed = time.monotonic() - self.started_at
        self.phase = self.RUNNING
        for state in self.states:
            state.consecutive_failures = 0
        self.log(f"daemon healthy after {elapsed:.1f}s; READY=1")
        self.notifier.send("READY=1")
        self._set_status(f"healthy ({len(self.states)} probes passing)")

    def _finish_running_round(self, results: list[ProbeResult]) -> None:
        tripped: list[ProbeState] = []
        failing: list[str] = []
        for state, result in zip(self.states, results):
            label = state.probe.label
            if result.ok:
                if state.probe.sticky and not state.passed_once:
                    self.log(f"sticky probe {label} passed; enforced from now on ({state.threshold} rounds)")
                elif state.consecutive_failures:
                    self.log(f"probe {label} recovered after {state.consecutive_failures} failed round(s)")
                state.passed_once = True
                state.consecutive_failures = 0
            elif state.enforced:
                state.consecutive_failures += 1
                count = f"{state.consecutive_failures}/{state.threshold}"
                if state.consecutive_failures >= state.threshold:
                    tripped.append(state)
                else:
                    self.log(f"probe {label} failed {count} ({result.detail})")
                failing.append(f"{label} failing {count} ({result.detail})")
            state.last_detail = result.detail
        if tripped:
            self._declare_unhealthy(tripped, results)
            return
        if self.watchdog_usec:
            self.notifier.send("WATCHDOG=1")
        if failing:
            self._set_status("degraded: " + "; ".join(failing))
        else:
            self._set_status(f"healthy ({len(self.states)} probes passing)")

    def _declare_unhealthy(self, tripped: list[ProbeState], results: list[ProbeResult]) -> None:
        self.phase = self.UNHEALTHY
        reasons = []
        for state in tripped:
            detail = results[self.states.index(state)].detail
            reason = (
                f"probe {state.probe.label} failed {state.consecutive_failures}/{state.threshold} ({detail})"
            )
            reasons.append(reason)
            self.log(f"{reason}; withholding WATCHDOG=1")
        self._set_status("unhealthy: " + "; ".join(reasons) + "; watchdog withheld")
        can_trigger = self.notifier.enabled and (
            self.watchdog_usec is not None or not os.environ.get("WATCHDOG_PID")
        )
        if self.config.trigger_on_failure and can_trigger:
            self.notifier.send("WATCHDOG=trigger")
            self.log("sent WATCHDOG=trigger")
        elif not self.watchdog_usec:
            self.log("watchdog is not enabled for this process; nothing will restart the daemon")

    # -- signals and endings

    def _handle_signal(self, signum: int) -> Optional[int]:
        if signum == signal.SIGCHLD:
            return None
        name = signal.Signals(signum).name
        if signum == signal.SIGABRT:
            self.log("watchdog abort (SIGABRT); killing the daemon")
            self._set_status("watchdog abort: killing the daemon")
            self._kill_daemon()
            return EXIT_WATCHDOG_ABORT
        assert self.proc is not None
        if signum == signal.SIGTERM and self.phase != self.STOPPING:
            self.log(
                f"received SIGTERM; forwarding to daemon (pid {self.proc.pid}), SIGKILL in {self.config.stop_timeout:g}s"
            )
            self._begin_stop(None)
        else:
            self.log(f"forwarding {name} to daemon (pid {self.proc.pid})")
            self._signal_daemon(signum)
        return None

    def _begin_stop(self, exit_code: Optional[int]) -> None:
        self.phase = self.STOPPING
        self.stop_exit = exit_code
        self.round_deadline = None
        self.kill_at = time.monotonic() + self.config.stop_timeout
        self.notifier.send("STOPPING=1")
        self._set_status("stopping the daemon")
        self._signal_daemon(signal.SIGTERM)
        self._signal_daemon(signal.SIGCONT)  # like systemd: a stopped daemon must see the SIGTERM

    def _give_up(self) -> None:
        waiting = [
            f"{s.probe.label}: {s.last_detail or 'no result'}" for s in self.states if not s.probe.sticky
        ]
        self.log(
            f"daemon not healthy after {self.config.start_timeout:g}s ({'; '.join(waiting)}); stopping it"
        )
        self._begin_stop(EXIT_START_TIMEOUT)

    def _kill_daemon(self) -> None:
        """SIGKILL (and SIGCONT, in case it is stopped) the daemon and reap it."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self._signal_daemon(signal.SIGKILL)
        self._signal_daemon(signal.SIGCONT)
        try:
            returncode = self.proc.wait(timeout=10)
            self.log(f"daemon {describe_status(returncode)}")
        except subprocess.TimeoutExpired:
            self.log(f"daemon (pid {self.proc.pid}) did not die within 10s of SIGKILL")

    def _daemon_gone(self, returncode: int) -> int:
        self.log(f"daemon {describe_status(returncode)}")
        self._set_status(f"daemon {describe_status(returncode)}")
        if self.stop_exit is not None:
            self.log(f"exiting with status {self.stop_exit}")
            return self.stop_exit
        return exit_status(returncode)


def check_once(argv: list[str]) -> int:
    """``--check SPEC [options]``: run one probe once, print the result as JSON, exit 0 or 1."""
    spec = argv[argv.index("--check") + 1] if argv.index("--check") + 1 < len(argv) else ""
    rest = argv[: argv.index("--check")] + argv[argv.index("--check") + 2 :]
    try:
        config = load_config([*rest, "--probe", spec, "--", "check"])
        probe = build_probes(config)[0]
    except UsageError as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        return EXIT_USAGE
    result = probe.check(config.timeout)
    print(json.dumps({"ok": result.ok, "detail": result.detail, "probe": probe.label}))
    return 0 if result.ok else 1


def main(argv: Optional[list[str]] = None) -> int:
    """Entry point: parse options, supervise, return the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    if "--check" in argv and "--" not in argv[: argv.index("--check")]:
        return check_once(argv)
    try:
        config = load_config(argv)
        log = Logger(config.name)
        probes = build_probes(config)
    except UsageError as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        return EXIT_USAGE
    return Supervisor(config, probes, log).run()


if __name__ == "__main__":
    sys.exit(main())
