#!/usr/bin/env python3
"""Failover drill for an HA Mesos cluster: plan, inject, observe, check, report.

Standard library only (Python >= 3.9), so the same file runs on the controller and, copied by
``ansible.builtin.script``, on the managed hosts. Used by playbooks/failover-drill.yml (one
subcommand per step) and imported by the Molecule failover test
(tests/lib/mesos_ha_testlib/failover.py), so the runbook and the test share one definition of
every condition, bound and invariant. See docs/failover.md.

Controller subcommands (all waits are bounded; only the cluster's own addresses are contacted)::

  check    --cluster C [--baseline B] [--wait S] [--out F]   the cluster is at its baseline
  timing   --cluster C --host-config F... [--scale X]        bounds from the live configuration
  plan     --cluster C --fault NAME --baseline B              targets, injection, holds, restore
  observe  --cluster C --out SAMPLES --stop-file F           poll every <= 200 ms until stopped
  wait     --cluster C --samples S --until COND [--arg k=v]  block until COND holds in SAMPLES
  analyze  --plan P --samples S --timing T --final F ...     one fault's timeline and verdict
  report   --out-dir D RESULT...                             JSON report + table (+ PNG)
  bench    REPORT...                                         min/median/max per fault

Host subcommand (``act``, runs on a managed host as root): kill/stop/start/ensure-started a
unit's daemon, SIGSTOP/SIGCONT a whole unit, partition/heal with a dedicated nftables table,
read step-down and registry-recovery lines from the journal, report units and timing config.
Every ``act`` prints one JSON object whose ``time`` is the wall-clock time of the action.
"""
from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import re
import signal
import socket
import ssl
import statistics
import struct
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

POLL_INTERVAL = 0.15  # the observer starts a probe of every target this often (the issue asks <= 0.2 s)
CADENCE_P95 = 0.2     # asserted: 95% of the gaps between a target's probe starts are <= 0.2 s ...
CADENCE_MAX = 1.0     # ... and none exceeds 1 s (a loaded 2-core host stalls the observer now and then)
PROBE_TIMEOUT = 0.8  # one HTTP/4lw probe; a target that does not answer within it is "no answer"
STATE_TIMEOUT = 2.0  # the leader's /master/state (larger body)
NFT_TABLE = "mesos_ha_failover_drill"
FAULTS = ("leader_kill", "leader_stop", "leader_hang", "leader_partition",
          "zk_leader_kill", "zk_quorum_loss", "agent_hang")
DESCRIPTIONS = {
    "leader_kill": "leading master's daemon SIGKILLed",
    "leader_stop": "leading master stopped (systemctl stop), then started",
    "leader_hang": "leading master's daemon SIGSTOPped (hung)",
    "leader_partition": "leading master cut off from the other hosts (nftables)",
    "zk_leader_kill": "ZooKeeper leader's JVM SIGKILLed",
    "zk_quorum_loss": "2 of 3 ZooKeeper members stopped, then started",
    "agent_hang": "an agent's host hung, then resumed",
}

# Margins added to the configuration-derived bounds (seconds); docs/failover.md explains them.
DETECT_MARGIN = 1.0      # observer: poll interval + probe timeout
REGISTRY_MARGIN = 10.0   # new leader: registrar recovery from the replicated log + MasterInfo write
RESTART_MARGIN = 5.0     # after RestartSec: supervisor exit, then two Python start-ups (supervisor, daemon)
HANG_MARGIN = 5.0        # watchdog: supervisor probe timeout + systemd abort + reap
START_MARGIN = 15.0      # a (re)started Python daemon or JVM answering on a loaded 2-core host
ZK_ELECTION_MARGIN = 3.0  # fast leader election (FLE) rounds + srvr polling
AGENT_MARGIN = 5.0       # agent: leader detection, (re-)registration round trips over TLS, retries
STEPDOWN_MARGIN = 5.0    # a leader cut off from ZooKeeper: local session timer + exit + journal


# ============================================================================ cluster model
@dataclass(frozen=True)
class Node:
    """A cluster host as the drill sees it: inventory name, address, Mesos hostname."""

    name: str
    address: str
    hostname: str = ""


@dataclass
class Cluster:
    """Where the masters, agents and ZooKeeper members answer, and how to talk to them."""

    masters: list[Node]
    agents: list[Node]
    zookeepers: list[Node]
    master_port: int = 5050
    agent_port: int = 5051
    zk_port: int = 2181
    zk_path: str = "/mesos"
    scheme: str = "http"
    ca_file: str | None = None
    credentials: tuple[str, str] | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Cluster":
        """Build from the JSON the playbook writes (lists of {name, address, hostname})."""
        def nodes(key: str) -> list[Node]:
            return [Node(str(n["name"]), str(n["address"]), str(n.get("hostname") or n["name"]))
                    for n in data.get(key, [])]
        creds = data.get("credentials")
        return cls(nodes("masters"), nodes("agents"), nodes("zookeepers"),
                   int(data.get("master_port", 5050)), int(data.get("agent_port", 5051)),
                   int(data.get("zk_port", 2181)), str(data.get("zk_path", "/mesos")),
                   str(data.get("scheme", "http")), data.get("ca_file") or None,
                   (str(creds["principal"]), str(creds["secret"])) if creds else None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (credentials omitted)."""
        data = asdict(self)
        data["credentials"] = None
        return data

    @property
    def master_quorum(self) -> int:
        """Masters that must answer for a leader to count as agreed (a majority)."""
        return len(self.masters) // 2 + 1

    def master(self, name: str) -> Node:
        """The master named `name` (KeyError otherwise)."""
        return _by_name(self.masters, name)

    def master_by_hostname(self, hostname: str) -> str | None:
        """Inventory name of the master whose Mesos hostname (or name/address) is `hostname`."""
        for node in self.masters:
            if hostname in (node.hostname, node.name, node.address):
                return node.name
        return None

    def all_nodes(self) -> list[Node]:
        """Every distinct host of the cluster (by name)."""
        seen: dict[str, Node] = {}
        for node in self.zookeepers + self.masters + self.agents:
            seen.setdefault(node.name, node)
        return list(seen.values())


def _by_name(nodes: Iterable[Node], name: str) -> Node:
    for node in nodes:
        if node.name == name:
            return node
    raise KeyError(name)


def load_json(path: str | Path) -> Any:
    """A JSON file's content."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def dump_json(path: str | Path, data: Any) -> None:
    """Write JSON atomically (tmp + rename)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(target)


# ============================================================================ probes
@dataclass(frozen=True)
class Answer:
    """One HTTP answer (never redirected); status 0 = no answer (error says why)."""

    status: int
    location: str = ""
    body: bytes = b""
    error: str = ""

    def json(self) -> Any:
        """The body as JSON (None when it is not JSON)."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except ValueError:
            return None


def http_get(cluster: Cluster, address: str, port: int, path: str, timeout: float = PROBE_TIMEOUT) -> Answer:
    """GET scheme://address:port/path once, without following redirects, bounded by timeout."""
    try:
        if cluster.scheme == "https":
            context = ssl.create_default_context(cafile=cluster.ca_file)
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(address, port, timeout=timeout,
                                                                           context=context)
        else:
            conn = http.client.HTTPConnection(address, port, timeout=timeout)
        headers = {"Accept": "application/json"}
        if cluster.credentials:
            token = base64.b64encode(":".join(cluster.credentials).encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        try:
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            return Answer(resp.status, resp.getheader("Location", "") or "", body)
        finally:
            conn.close()
    except (OSError, http.client.HTTPException) as exc:
        return Answer(0, error=f"{type(exc).__name__}: {exc}"[:200])


_LOCATION = re.compile(r"^//(?P<host>\[[^\]]+\]|[^:/]+):(?P<port>\d+)")


def location_host(location: str) -> str | None:
    """'//node1:5050' -> 'node1'; None when it is not a Mesos redirect location."""
    match = _LOCATION.match(location or "")
    return match["host"] if match else None


def zk_four_letter(address: str, word: str, port: int = 2181, timeout: float = PROBE_TIMEOUT) -> str | None:
    """A ZooKeeper four-letter word's whole answer; None when the member does not answer."""
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((address, port), timeout=timeout) as conn:
            conn.sendall(word.encode("ascii"))
            chunks = []
            while time.monotonic() < deadline:
                conn.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = conn.recv(4096)
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks).decode("utf-8", "replace")
    except OSError:
        return None


def zk_mode(address: str, port: int = 2181, timeout: float = PROBE_TIMEOUT) -> str:
    """'leader', 'follower', 'standalone', 'observer', 'not-serving' or 'down' (srvr)."""
    text = zk_four_letter(address, "srvr", port, timeout)
    if text is None:
        return "down"
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Mode":
            return value.strip()
    return "not-serving"


class ZkError(Exception):
    """A ZooKeeper request failed (member not serving, protocol error, error code)."""


def _zk_packet(conn: socket.socket, payload: bytes) -> bytes:
    conn.sendall(struct.pack(">i", len(payload)) + payload)
    header = _recv_exact(conn, 4)
    (length,) = struct.unpack(">i", header)
    if length < 0 or length > 16 * 1024 * 1024:
        raise ZkError(f"bad packet length {length}")
    return _recv_exact(conn, length)


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ZkError("connection closed by the server (not serving?)")
        data += chunk
    return data


def _zk_string(value: str) -> bytes:
    raw = value.encode("utf-8")
    return struct.pack(">i", len(raw)) + raw


def zk_children(address: str, path: str, port: int = 2181, timeout: float = 3.0) -> list[str] | None:
    """The children of `path` read from one member (ZooKeeper wire protocol, no watch).

    Returns None when the node does not exist; raises ZkError/OSError when the member does not
    serve. A session is opened and closed for the call (a 4 s session: no ephemerals are made).
    """
    with socket.create_connection((address, port), timeout=timeout) as conn:
        conn.settimeout(timeout)
        connect = struct.pack(">iqiqi", 0, 0, 4000, 0, 16) + b"\0" * 16 + b"\0"
        reply = _zk_packet(conn, connect)
        _version, session_timeout = struct.unpack(">ii", reply[:8])
        if session_timeout <= 0:
            raise ZkError("session refused")
        reply = _zk_packet(conn, struct.pack(">ii", 1, 8) + _zk_string(path) + b"\0")
        _xid, _zxid, err = struct.unpack(">iqi", reply[:16])
        result: list[str] | None
        if err == -101:
            result = None
        elif err != 0:
            raise ZkError(f"getChildren({path}) failed with error {err}")
        else:
            (count,) = struct.unpack(">i", reply[16:20])
            offset, result = 20, []
            for _ in range(count):
                (size,) = struct.unpack(">i", reply[offset:offset + 4])
                result.append(reply[offset + 4:offset + 4 + size].decode("utf-8"))
                offset += 4 + size
        try:
            _zk_packet(conn, struct.pack(">ii", 2, -11))
        except (OSError, ZkError):
            pass
        return sorted(result) if result is not None else None


def zk_children_any(cluster: Cluster, path: str) -> list[str] | None:
    """zk_children from the first serving member (ZkError when none serves)."""
    errors = []
    for node in cluster.zookeepers:
        try:
            return zk_children(node.address, path, cluster.zk_port)
        except (OSError, ZkError) as exc:
            errors.append(f"{node.name}: {exc}")
    raise ZkError("; ".join(errors) or "no ZooKeeper members")


# ============================================================================ durations
_MESOS_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "secs": 1.0, "mins": 60.0, "hrs": 3600.0,
                "days": 86400.0, "weeks": 604800.0}


def mesos_duration(text: str) -> float:
    """A Mesos duration ('10secs', '1mins', '500ms') in seconds."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([a-z]+)\s*", text or "")
    if not match or match[2] not in _MESOS_UNITS:
        raise ValueError(f"not a Mesos duration: {text!r}")
    return float(match[1]) * _MESOS_UNITS[match[2]]


def systemd_seconds(text: str) -> float:
    """systemd's '20s', '1min 30s', '500ms', '100ms' in seconds; 'infinity'/'0'/'' -> 0."""
    text = (text or "").strip()
    if text in ("", "0", "infinity"):
        return 0.0
    total = 0.0
    for part in text.split():
        match = re.fullmatch(r"([0-9.]+)(us|ms|s|min|h)?", part)
        if not match:
            raise ValueError(f"not a systemd time span: {text!r}")
        total += float(match[1]) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0,
                                    None: 1.0}[match[2]]
    return total


# ============================================================================ timing and bounds
@dataclass(frozen=True)
class Timing:
    """The configuration that bounds failover, as read from the live hosts."""

    tick_s: float
    init_limit: int
    sync_limit: int
    zk_session_timeout_s: float
    registration_backoff_s: float
    agent_total_ping_s: float
    master_watchdog_s: float
    master_restart_s: float
    agent_watchdog_s: float
    agent_restart_s: float
    zk_restart_s: float
    sources: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Bound:
    """A bound in seconds: its configured value x scale, and how it was derived."""

    name: str
    seconds: float
    formula: str


def bounds(timing: Timing, scale: float = 1.0) -> dict[str, Bound]:
    """Every bound the drill asserts, derived from the configuration (x scale, for proof runs)."""
    t = timing
    zk_expiry = t.zk_session_timeout_s + t.tick_s  # the server expires sessions in tick buckets
    zk_reelect = (t.sync_limit + t.init_limit) * t.tick_s + ZK_ELECTION_MARGIN
    raw = {
        "new_leader": (zk_expiry + REGISTRY_MARGIN + DETECT_MARGIN,
                       f"zk_session_timeout {t.zk_session_timeout_s:g} + tickTime {t.tick_s:g} + registry "
                       f"{REGISTRY_MARGIN:g} + detection {DETECT_MARGIN:g}"),
        # The partitioned node also hosted the ZooKeeper leader: the majority first re-elects, and
        # the new ZooKeeper leader restarts every session's clock.
        "new_leader_zk_partitioned": (zk_reelect + zk_expiry + REGISTRY_MARGIN + DETECT_MARGIN,
                                      f"ZooKeeper re-election (syncLimit + initLimit) x tickTime + "
                                      f"{ZK_ELECTION_MARGIN:g} = {zk_reelect:g} + zk_session_timeout "
                                      f"{t.zk_session_timeout_s:g} + tickTime {t.tick_s:g} + registry "
                                      f"{REGISTRY_MARGIN:g} + detection {DETECT_MARGIN:g}"),
        # An agent retries registration after [0, b*2^n] (Mesos 1.11, slave.cpp): attempts made
        # while the new leader still recovers its registry fail, so allow three back-off rounds
        # (b + 2b + 4b) - a loaded CI machine needed 10.8 s after a partition of the ZK leader's host.
        "agents_after_leader": (7 * t.registration_backoff_s + AGENT_MARGIN + DETECT_MARGIN,
                                f"registration back-off 3 rounds 7 x {t.registration_backoff_s:g} + agent "
                                f"{AGENT_MARGIN:g} + detection {DETECT_MARGIN:g}"),
        "killed_master_restarted": (t.master_restart_s + RESTART_MARGIN,
                                    f"RestartSec {t.master_restart_s:g} + {RESTART_MARGIN:g}"),
        "hung_master_restarted": (t.master_watchdog_s + t.master_restart_s + HANG_MARGIN,
                                  f"WatchdogSec {t.master_watchdog_s:g} + RestartSec {t.master_restart_s:g} "
                                  f"+ {HANG_MARGIN:g}"),
        "master_back": (START_MARGIN + t.init_limit * t.tick_s + DETECT_MARGIN,
                        f"start {START_MARGIN:g} + initLimit x tickTime {t.init_limit * t.tick_s:g} + "
                        f"detection {DETECT_MARGIN:g} (after restart/start/heal)"),
        "isolated_stepdown": (t.zk_session_timeout_s * 5 / 3 + STEPDOWN_MARGIN,
                              f"zk_session_timeout {t.zk_session_timeout_s:g} x (1 + 2/3 read timeout) + "
                              f"{STEPDOWN_MARGIN:g}"),
        "zk_reelection": (zk_reelect,
                          f"(syncLimit {t.sync_limit} + initLimit {t.init_limit}) x tickTime {t.tick_s:g} + "
                          f"{ZK_ELECTION_MARGIN:g}"),
        "zk_member_back": (t.zk_restart_s + START_MARGIN + t.init_limit * t.tick_s,
                           f"RestartSec {t.zk_restart_s:g} + JVM start {START_MARGIN:g} + initLimit x tickTime "
                           f"{t.init_limit * t.tick_s:g}"),
        "quorum_loss_stepdown": (t.zk_session_timeout_s * 5 / 3 + STEPDOWN_MARGIN,
                                 f"zk_session_timeout {t.zk_session_timeout_s:g} x (1 + 2/3) + {STEPDOWN_MARGIN:g}"),
        "zk_quorum_back": (START_MARGIN + (t.sync_limit + t.init_limit) * t.tick_s + ZK_ELECTION_MARGIN,
                           f"JVM start {START_MARGIN:g} + (syncLimit + initLimit) x tickTime "
                           f"{(t.sync_limit + t.init_limit) * t.tick_s:g} + {ZK_ELECTION_MARGIN:g}"),
        "leader_after_quorum": (zk_expiry + REGISTRY_MARGIN + DETECT_MARGIN,
                                f"zk_session_timeout {t.zk_session_timeout_s:g} + tickTime {t.tick_s:g} + "
                                f"registry {REGISTRY_MARGIN:g} + detection {DETECT_MARGIN:g} (old leader's znode)"),
        "agent_reregistered": (1.0 + t.registration_backoff_s + AGENT_MARGIN + DETECT_MARGIN,
                               f"heartbeat 1 + registration_backoff_factor {t.registration_backoff_s:g} + "
                               f"{AGENT_MARGIN:g} + detection {DETECT_MARGIN:g}"),
    }
    suffix = f" x scale {scale:g}" if scale != 1.0 else ""
    return {name: Bound(name, round(value * scale, 3), formula + suffix) for name, (value, formula) in raw.items()}


def parse_zoo_cfg(text: str) -> dict[str, str]:
    """key -> value of a zoo.cfg."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def timing_from_config(cluster: Cluster, host_configs: Mapping[str, Mapping[str, Any]]) -> Timing:
    """Timing from the hosts' `act config` output (zoo.cfg, units) and the masters'/agents' /flags."""
    sources: dict[str, str] = {}
    zoo: dict[str, str] = {}
    units: dict[str, dict[str, str]] = {}
    for host, config in sorted(host_configs.items()):
        if config.get("zoo_cfg") and not zoo:
            zoo = parse_zoo_cfg(config["zoo_cfg"])
            sources["zoo.cfg"] = f"{host}:{config.get('zoo_cfg_path')}"
        for unit, props in (config.get("units") or {}).items():
            units.setdefault(unit, props)
            sources.setdefault(unit, host)
    if not zoo:
        raise ValueError("no host reported a zoo.cfg")

    def flag(nodes: Sequence[Node], port: int, name: str, parse: Callable[[str], float] = mesos_duration) -> float:
        """The largest value of a flag over `nodes` (from their /flags)."""
        values = []
        for node in nodes:
            answer = http_get(cluster, node.address, port, "/flags", timeout=5.0)
            data = answer.json() if answer.status == 200 else None
            if not data:
                raise ValueError(f"{node.name}: /flags answered {answer.status} {answer.error}")
            values.append(parse(data["flags"][name]))
        sources[name] = "/flags of " + ",".join(n.name for n in nodes)
        return max(values)

    def unit_seconds(unit: str, prop: str) -> float:
        if unit not in units:
            raise ValueError(f"no host reported unit {unit}")
        return systemd_seconds(units[unit].get(prop, ""))

    ping = flag(cluster.masters, cluster.master_port, "agent_ping_timeout")
    pings = flag(cluster.masters, cluster.master_port, "max_agent_ping_timeouts", float)
    return Timing(
        tick_s=int(zoo["tickTime"]) / 1000.0, init_limit=int(zoo["initLimit"]), sync_limit=int(zoo["syncLimit"]),
        zk_session_timeout_s=flag(cluster.masters, cluster.master_port, "zk_session_timeout"),
        registration_backoff_s=flag(cluster.agents, cluster.agent_port, "registration_backoff_factor"),
        agent_total_ping_s=ping * pings,
        master_watchdog_s=unit_seconds("mesos-master.service", "WatchdogUSec"),
        master_restart_s=unit_seconds("mesos-master.service", "RestartUSec"),
        agent_watchdog_s=unit_seconds("mesos-agent.service", "WatchdogUSec"),
        agent_restart_s=unit_seconds("mesos-agent.service", "RestartUSec"),
        zk_restart_s=unit_seconds("zookeeper.service", "RestartUSec"),
        sources=sources)


# ============================================================================ samples and observer
@dataclass
class Sample:
    """One probe of one target. t0/t1: wall-clock start and end of the decisive request."""

    role: str  # master | agent | zk
    node: str
    t0: float
    t1: float
    ok: bool
    elected: bool | None = None
    leader: str | None = None          # master: /redirect's leader (inventory name), "" = none
    uptime: float | None = None        # master/uptime_secs or slave/uptime_secs
    log_recovered: bool | None = None  # registrar/log/recovered
    active_ids: list[str] | None = None  # leader: agents active in /master/state
    known_ids: list[str] | None = None   # leader: slaves + recovered_slaves in /master/state
    detected: bool | None = None         # agent: slave/registered (a leader detected, not registration)
    agent_id: str | None = None          # agent: /state id
    mode: str | None = None              # zk: srvr mode
    error: str | None = None

    def to_json(self) -> str:
        """One compact JSON line (None fields dropped)."""
        return json.dumps({k: v for k, v in asdict(self).items() if v is not None}, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Sample":
        """Inverse of to_json."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})  # type: ignore[attr-defined]


def probe_master(cluster: Cluster, node: Node) -> Sample:
    """/metrics/snapshot (decisive: elected), /redirect and, on an elected master, /master/state."""
    t0 = time.time()
    metrics = http_get(cluster, node.address, cluster.master_port, "/metrics/snapshot")
    t1 = time.time()
    data = metrics.json() if metrics.status == 200 else None
    if not isinstance(data, dict):
        return Sample("master", node.name, t0, t1, False, error=metrics.error or f"HTTP {metrics.status}")
    sample = Sample("master", node.name, t0, t1, True, elected=bool(data.get("master/elected")),
                    uptime=float(data.get("master/uptime_secs", 0.0)),
                    log_recovered=bool(data.get("registrar/log/recovered")))
    redirect = http_get(cluster, node.address, cluster.master_port, "/redirect")
    if redirect.status == 307:
        host = location_host(redirect.location) or ""
        sample.leader = cluster.master_by_hostname(host) or f"?{host}"
    elif redirect.status == 503:
        sample.leader = ""
    if sample.elected:
        state = http_get(cluster, node.address, cluster.master_port, "/master/state", STATE_TIMEOUT)
        body = state.json() if state.status == 200 else None
        if isinstance(body, dict):
            slaves = body.get("slaves") or []
            sample.active_ids = sorted(s["id"] for s in slaves if s.get("active"))
            sample.known_ids = sorted({s["id"] for s in slaves} |
                                      {s["id"] for s in body.get("recovered_slaves") or [] if "id" in s})
    return sample


def probe_agent(cluster: Cluster, node: Node) -> Sample:
    """/metrics/snapshot (decisive: the agent answers; slave/registered says it detected a leader)
    and /state (the agent id). Registration itself is the elected master's word (active_ids)."""
    t0 = time.time()
    metrics = http_get(cluster, node.address, cluster.agent_port, "/metrics/snapshot")
    t1 = time.time()
    data = metrics.json() if metrics.status == 200 else None
    if not isinstance(data, dict):
        return Sample("agent", node.name, t0, t1, False, error=metrics.error or f"HTTP {metrics.status}")
    sample = Sample("agent", node.name, t0, t1, True, detected=bool(data.get("slave/registered")),
                    uptime=float(data.get("slave/uptime_secs", 0.0)))
    state = http_get(cluster, node.address, cluster.agent_port, "/state", STATE_TIMEOUT)
    body = state.json() if state.status == 200 else None
    if isinstance(body, dict):
        sample.agent_id = str(body.get("id") or "")
    return sample


def probe_zk(cluster: Cluster, node: Node) -> Sample:
    """srvr of one ZooKeeper member."""
    t0 = time.time()
    mode = zk_mode(node.address, cluster.zk_port)
    return Sample("zk", node.name, t0, time.time(), mode not in ("down",), mode=mode)


class Observer:
    """Polls every master, agent and ZooKeeper member on a fixed POLL_INTERVAL grid: a scheduler
    thread starts one probe per target every interval (probes run in a bounded thread pool, so a
    slow or hung target never delays the others' cadence, nor its own next probe; at most
    MAX_IN_FLIGHT probes per target are outstanding). Bounded by max_seconds. Samples are kept in
    memory and, with `sink`, appended to a JSON-lines file as they complete.
    """

    MAX_IN_FLIGHT = 8  # > PROBE_TIMEOUT / POLL_INTERVAL: a target that does not answer keeps its cadence

    def __init__(self, cluster: Cluster, interval: float = POLL_INTERVAL, max_seconds: float = 900.0,
                 sink: str | Path | None = None) -> None:
        # The drill times failovers to a fraction of a second (POLL_INTERVAL); watching a long
        # runbook for gaps of many seconds (tests/lib/mesos_ha_testlib/continuity.py) may poll
        # less often, which keeps the probes' own load off a small test machine.
        if interval > 1.0:
            raise ValueError("the observer must poll at least every second")
        self.cluster = cluster
        self.interval = interval
        self.max_seconds = max_seconds
        self.samples: list[Sample] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._scheduler: threading.Thread | None = None
        self._in_flight: dict[str, int] = {}
        self._pool_threads: list[threading.Thread] = []
        self._jobs: list[tuple[Node, Callable[[Cluster, Node], Sample], str]] = []
        self._work: list[tuple[Node, Callable[[Cluster, Node], Sample], str]] = []
        self._work_ready = threading.Condition(self._lock)
        self._sink = open(sink, "a", encoding="utf-8") if sink else None  # noqa: SIM115 - closed in stop()
        self.started = 0.0
        self.skipped = 0  # ticks skipped because a target already had MAX_IN_FLIGHT probes out

    def _targets(self) -> list[tuple[Node, Callable[[Cluster, Node], Sample], str]]:
        jobs: list[tuple[Node, Callable[[Cluster, Node], Sample], str]] = []
        for role, probe, nodes in (("master", probe_master, self.cluster.masters),
                                   ("agent", probe_agent, self.cluster.agents),
                                   ("zk", probe_zk, self.cluster.zookeepers)):
            jobs += [(n, probe, f"{role}/{n.name}") for n in nodes]
        return jobs

    def _schedule(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        tick = time.monotonic()
        while not self._stop.is_set() and time.monotonic() < deadline:
            with self._lock:
                for job in self._jobs:
                    if self._in_flight.get(job[2], 0) >= self.MAX_IN_FLIGHT:
                        self.skipped += 1
                        continue
                    self._in_flight[job[2]] = self._in_flight.get(job[2], 0) + 1
                    self._work.append(job)
                self._work_ready.notify_all()
            tick += self.interval
            self._stop.wait(max(0.0, tick - time.monotonic()))
        with self._lock:
            self._work_ready.notify_all()

    def _worker(self) -> None:
        while True:
            with self._lock:
                while not self._work and not self._stop.is_set():
                    self._work_ready.wait(0.5)
                if not self._work:
                    return
                node, probe, key = self._work.pop(0)
            try:
                sample = probe(self.cluster, node)
            except Exception as exc:  # noqa: BLE001 - a probe bug must not kill the observer silently
                now = time.time()
                sample = Sample(key.split("/")[0], node.name, now, now, False, error=f"probe error {exc!r}"[:200])
            self.add(sample)
            with self._lock:
                self._in_flight[key] -= 1

    def add(self, sample: Sample) -> None:
        """Record one sample (thread-safe)."""
        with self._lock:
            self.samples.append(sample)
            if self._sink:
                self._sink.write(sample.to_json() + "\n")
                self._sink.flush()

    def start(self) -> "Observer":
        """Start the scheduler and a pool of probe threads."""
        self.started = time.time()
        self._jobs = self._targets()
        for index in range(len(self._jobs) * self.MAX_IN_FLIGHT):
            thread = threading.Thread(target=self._worker, daemon=True, name=f"observe-{index}")
            thread.start()
            self._pool_threads.append(thread)
        self._scheduler = threading.Thread(target=self._schedule, daemon=True, name="observe-scheduler")
        self._scheduler.start()
        return self

    def stop(self) -> list[Sample]:
        """Stop polling (bounded joins: a probe ends within its timeouts) and return the samples by t1."""
        self._stop.set()
        with self._lock:
            self._work.clear()
            self._work_ready.notify_all()
        for thread in ([self._scheduler] if self._scheduler else []) + self._pool_threads:
            thread.join(STATE_TIMEOUT + 2 * PROBE_TIMEOUT + 1.0)
        with self._lock:
            if self._sink:
                self._sink.close()
                self._sink = None
            return sorted(self.samples, key=lambda s: s.t1)

    def snapshot(self) -> list[Sample]:
        """The samples so far, sorted by t1."""
        with self._lock:
            return sorted(self.samples, key=lambda s: s.t1)

    def view(self) -> "View":
        """The latest sample of every target."""
        view = View()
        for sample in self.snapshot():
            view.update(sample)
        return view

    def __enter__(self) -> "Observer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def read_samples(path: str | Path) -> list[Sample]:
    """Samples from a JSON-lines file (a torn last line is ignored), sorted by t1."""
    samples = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                samples.append(Sample.from_dict(json.loads(line)))
            except (ValueError, TypeError):
                continue
    return sorted(samples, key=lambda s: s.t1)


# ============================================================================ conditions
class View:
    """The latest sample per (role, node): the cluster as the observer last saw it."""

    def __init__(self) -> None:
        self.latest: dict[tuple[str, str], Sample] = {}
        self.time = 0.0

    def update(self, sample: Sample) -> None:
        """Take a sample into account unless a probe started later has already answered."""
        current = self.latest.get((sample.role, sample.node))
        if current is None or sample.t0 >= current.t0:
            self.latest[(sample.role, sample.node)] = sample
        self.time = max(self.time, sample.t1)

    def get(self, role: str, node: str) -> Sample | None:
        """The latest sample of one target (None before its first)."""
        return self.latest.get((role, node))


def elected_masters(cluster: Cluster, view: View) -> list[str]:
    """Masters whose latest answer says master/elected=1 (a master that does not answer is not
    counted: a hung or partitioned master cannot be asked)."""
    return [n.name for n in cluster.masters
            if (s := view.get("master", n.name)) is not None and s.ok and s.elected]


def agreed_leader(cluster: Cluster, view: View) -> str | None:
    """The leader when exactly one master says it is elected and every answering master's
    /redirect names it, with at least a majority of masters answering; else None."""
    elected = elected_masters(cluster, view)
    if len(elected) != 1:
        return None
    answering = [s for n in cluster.masters if (s := view.get("master", n.name)) is not None and s.ok]
    if len(answering) < cluster.master_quorum or any(s.leader != elected[0] for s in answering):
        return None
    return elected[0]


def agents_registered(cluster: Cluster, view: View, baseline_ids: Mapping[str, str]) -> bool:
    """The agreed leader lists every baseline agent id as active (registration is the elected
    master's word), and every agent answers under its baseline id with a leader detected."""
    leader = agreed_leader(cluster, view)
    sample = view.get("master", leader) if leader else None
    if sample is None or sample.active_ids is None or not set(baseline_ids.values()) <= set(sample.active_ids):
        return False
    for agent in cluster.agents:
        own = view.get("agent", agent.name)
        if own is None or not own.ok or not own.detected or own.agent_id != baseline_ids.get(agent.name):
            return False
    return True


def zk_leader(cluster: Cluster, view: View) -> str | None:
    """The ZooKeeper leader when the ensemble has quorum (one leader, a majority serving)."""
    modes = {n.name: (s.mode if (s := view.get("zk", n.name)) else "unknown") for n in cluster.zookeepers}
    leaders = [name for name, mode in modes.items() if mode == "leader"]
    serving = sum(1 for mode in modes.values() if mode in ("leader", "follower"))
    if len(leaders) == 1 and serving >= len(cluster.zookeepers) // 2 + 1:
        return leaders[0]
    if len(cluster.zookeepers) == 1 and modes and next(iter(modes.values())) == "standalone":
        return cluster.zookeepers[0].name
    return None


def master_back(cluster: Cluster, view: View, node: str, since: float) -> bool:
    """`node` answers as a follower of the agreed leader with a daemon started after `since`."""
    sample = view.get("master", node)
    leader = agreed_leader(cluster, view)
    if sample is None or not sample.ok or sample.elected or leader is None or sample.leader != leader:
        return False
    return sample.t1 - (sample.uptime or 0.0) >= since - 0.5


def daemon_started(sample: Sample) -> float:
    """When the sampled daemon started (wall clock), from its uptime metric."""
    return sample.t1 - (sample.uptime or 0.0)


def agent_active(cluster: Cluster, view: View, agent_id: str) -> bool:
    """The agreed leader lists `agent_id` as active (registered, not marked unreachable)."""
    leader = agreed_leader(cluster, view)
    sample = view.get("master", leader) if leader else None
    return sample is not None and sample.active_ids is not None and agent_id in sample.active_ids


def condition(name: str, args: Mapping[str, Any]) -> Callable[[Cluster, View], bool]:
    """A named condition on the observer's view, as used by `wait`, plans and the test."""
    if name == "observing":
        return lambda c, v: all(v.get(r, n.name) for r, nodes in
                                (("master", c.masters), ("agent", c.agents), ("zk", c.zookeepers)) for n in nodes)
    if name == "new-leader":
        return lambda c, v: (leader := agreed_leader(c, v)) is not None and leader != args.get("not")
    if name == "no-leader":
        return lambda c, v: not elected_masters(c, v)
    if name == "zk-new-leader":
        return lambda c, v: (leader := zk_leader(c, v)) is not None and leader != args.get("not")
    if name == "zk-member-serving":
        return lambda c, v: (s := v.get("zk", args["node"])) is not None and s.mode in ("leader", "follower")
    if name == "master-back":
        return lambda c, v: master_back(c, v, str(args["node"]), float(args["since"]))
    if name == "agents-registered":
        return lambda c, v: agents_registered(c, v, args["baseline_ids"])
    if name == "agent-active":
        return lambda c, v: agent_active(c, v, str(args["agent_id"]))
    raise ValueError(f"unknown condition {name!r}")


def first_time(cluster: Cluster, samples: Sequence[Sample], start: float,
               predicate: Callable[[Cluster, View], bool]) -> float | None:
    """Replay the samples (by t1) and return the first t1 >= start at which predicate holds."""
    view = View()
    for sample in samples:
        view.update(sample)
        if sample.t1 >= start and predicate(cluster, view):
            return sample.t1
    return None


def wait_until(cluster: Cluster, views: Callable[[], View], predicate: Callable[[Cluster, View], bool],
               timeout: float, what: str) -> float:
    """Poll views() every 0.1 s until predicate holds; return the wall-clock time (TimeoutError)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate(cluster, views()):
            return time.time()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not reached within {timeout:.0f} s")
        time.sleep(0.1)


class SampleTail:
    """Reads a growing JSON-lines sample file incrementally into a View."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.offset = 0
        self.buffer = ""
        self.view_ = View()

    def view(self) -> View:
        """The view after reading whatever was appended since the last call."""
        if self.path.exists():
            with open(self.path, encoding="utf-8") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
                self.offset = handle.tell()
            lines = (self.buffer + chunk).split("\n")
            self.buffer = lines.pop()
            for line in lines:
                try:
                    self.view_.update(Sample.from_dict(json.loads(line)))
                except (ValueError, TypeError):
                    continue
        return self.view_


# ============================================================================ invariants
def split_brain(cluster: Cluster, samples: Sequence[Sample]) -> list[str]:
    """Intervals in which two masters were provably elected at once.

    A sample with elected=1 proves the master was elected at some instant of [t0, t1]; a run of
    consecutive elected=1 answers proves it throughout [t1 of the first, t0 of the last]. Two
    masters violate the invariant when their runs overlap, or when one's elected sample lies
    inside the other's run. Request latency therefore never produces a false alarm at a clean
    handover, and masters that do not answer (hung, partitioned) are not counted.
    """
    spans: dict[str, list[tuple[float, float]]] = {}
    windows: dict[str, list[tuple[float, float]]] = {}
    for node in cluster.masters:
        own = sorted((s for s in samples if s.role == "master" and s.node == node.name), key=lambda s: s.t0)
        run: list[Sample] = []
        spans[node.name], windows[node.name] = [], []
        for sample in own + [Sample("master", node.name, float("inf"), float("inf"), False)]:
            if sample.ok and sample.elected:
                run.append(sample)
                windows[node.name].append((sample.t0, sample.t1))
                continue
            if len(run) >= 2 and run[0].t1 < run[-1].t0:
                spans[node.name].append((run[0].t1, run[-1].t0))
            run = []
    problems = []
    names = [n.name for n in cluster.masters]
    for i, a in enumerate(names):
        for b in names:
            if a == b:
                continue
            for start_b, end_b in spans[b]:
                if i < names.index(b):
                    for start_a, end_a in spans[a]:
                        if min(end_a, end_b) - max(start_a, start_b) > 0:
                            problems.append(f"{a} and {b} both elected during "
                                            f"[{max(start_a, start_b):.3f}, {min(end_a, end_b):.3f}]")
                for w0, w1 in windows[a]:
                    if start_b <= w0 and w1 <= end_b:
                        problems.append(f"{a} answered elected=1 during [{w0:.3f}, {w1:.3f}] while {b} "
                                        f"was elected throughout [{start_b:.3f}, {end_b:.3f}]")
    return sorted(set(problems))


def agent_ids_seen(samples: Iterable[Sample]) -> set[str]:
    """Every agent id any agent or leader reported."""
    seen: set[str] = set()
    for sample in samples:
        if sample.agent_id:
            seen.add(sample.agent_id)
        seen.update(sample.known_ids or [])
        seen.update(sample.active_ids or [])
    return seen


def poll_gaps(samples: Sequence[Sample], role: str, node: str, answered: bool = False) -> list[float]:
    """Sorted gaps between consecutive probe starts of one target (cadence evidence); with
    `answered`, between consecutive answers instead."""
    times = sorted(s.t1 if answered else s.t0 for s in samples
                   if s.role == role and s.node == node and (s.ok or not answered))
    return sorted(b - a for a, b in zip(times, times[1:]))


def max_poll_gap(samples: Sequence[Sample], role: str, node: str, answered: bool = False) -> float:
    """Longest gap of poll_gaps() (0 without two samples)."""
    return max(poll_gaps(samples, role, node, answered), default=0.0)


def p95(values: Sequence[float]) -> float:
    """The 95th percentile (nearest rank) of sorted values (0 when empty)."""
    return values[min(len(values) - 1, int(len(values) * 0.95))] if values else 0.0


# ============================================================================ live checks
def check_cluster(cluster: Cluster, baseline_ids: Mapping[str, str] | None = None) -> dict[str, Any]:
    """One look at the live cluster; `ok` when it is at its baseline.

    Baseline: exactly one master elected and every master's /redirect names it; its registry log
    is recovered (registrar/log/recovered=1) and /master/state lists every agent active (with the
    baseline ids when given); every ZooKeeper member serves (one leader, the rest followers);
    /mesos exists with one json.info_ member per master and one log_replicas member per master;
    every agent answers with its baseline id and is listed active by the leader. Units are checked
    on the hosts.
    """
    problems: list[str] = []
    masters: dict[str, Any] = {}
    for node in cluster.masters:
        sample = probe_master(cluster, node)
        masters[node.name] = {"ok": sample.ok, "elected": sample.elected, "leader": sample.leader,
                              "log_recovered": sample.log_recovered, "uptime": sample.uptime,
                              "error": sample.error}
        if not sample.ok:
            problems.append(f"master {node.name} does not answer ({sample.error})")
    view = View()
    for name, info in masters.items():
        view.update(Sample("master", name, 0, 0, bool(info["ok"]), elected=info["elected"], leader=info["leader"]))
    elected = elected_masters(cluster, view)
    leader = agreed_leader(cluster, view)
    if len(elected) != 1:
        problems.append(f"elected masters: {elected}")
    elif leader is None:
        problems.append(f"masters disagree on the leader: { {n: i['leader'] for n, i in masters.items()} }")
    active: list[str] = []
    if leader:
        if not masters[leader]["log_recovered"]:
            problems.append(f"leader {leader}: registrar/log/recovered is not 1")
        state = http_get(cluster, cluster.master(leader).address, cluster.master_port, "/master/state", 5.0)
        body = state.json() if state.status == 200 else None
        if isinstance(body, dict):
            active = sorted(s["id"] for s in body.get("slaves") or [] if s.get("active"))
        else:
            problems.append(f"leader {leader}: /master/state answered {state.status} {state.error}")
    zk_modes = {n.name: zk_mode(n.address, cluster.zk_port, 2.0) for n in cluster.zookeepers}
    if len(cluster.zookeepers) > 1 and (sorted(zk_modes.values()).count("leader") != 1
                                        or any(m not in ("leader", "follower") for m in zk_modes.values())):
        problems.append(f"ZooKeeper modes: {zk_modes}")
    znodes: dict[str, Any] = {}
    try:
        children = zk_children_any(cluster, cluster.zk_path)
        replicas = zk_children_any(cluster, cluster.zk_path.rstrip("/") + "/log_replicas")
        members = [c for c in children or [] if c.startswith("json.info_")]
        znodes = {"exists": children is not None, "json_info": members, "log_replicas": replicas or []}
        if children is None:
            problems.append(f"{cluster.zk_path} does not exist")
        if len(members) != len(cluster.masters):
            problems.append(f"{len(members)} json.info_ members under {cluster.zk_path}: {members}")
        if len(replicas or []) != len(cluster.masters):
            problems.append(f"{len(replicas or [])} log_replicas members: {replicas}")
    except (OSError, ZkError) as exc:
        problems.append(f"znodes unreadable: {exc}")
    agents: dict[str, Any] = {}
    for node in cluster.agents:
        sample = probe_agent(cluster, node)
        registered = bool(sample.ok and sample.agent_id and sample.agent_id in active)
        agents[node.name] = {"registered": registered, "detected": sample.detected, "id": sample.agent_id,
                             "error": sample.error}
        if not sample.ok:
            problems.append(f"agent {node.name} does not answer ({sample.error})")
        elif baseline_ids and sample.agent_id != baseline_ids.get(node.name):
            problems.append(f"agent {node.name} has id {sample.agent_id}, baseline {baseline_ids.get(node.name)}")
        if sample.agent_id and leader and sample.agent_id not in active:
            problems.append(f"leader {leader} does not list agent {node.name} ({sample.agent_id}) as active")
    return {"ok": not problems, "time": time.time(), "leader": leader, "masters": masters, "zk": zk_modes,
            "zk_leader": next((n for n, m in zk_modes.items() if m == "leader"), None), "znodes": znodes,
            "agents": agents, "agent_ids": {n: a["id"] for n, a in agents.items()}, "active_ids": active,
            "problems": problems}


def wait_for_baseline(cluster: Cluster, baseline_ids: Mapping[str, str] | None, timeout: float) -> dict[str, Any]:
    """check_cluster() repeated (every 0.5 s) until ok or timeout; returns the last result."""
    deadline = time.monotonic() + timeout
    while True:
        result = check_cluster(cluster, baseline_ids)
        if result["ok"] or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def resolve_hostnames(cluster: Cluster) -> Cluster:
    """Fill each master's Mesos hostname from its /flags (what /redirect names)."""
    masters = []
    for node in cluster.masters:
        data = http_get(cluster, node.address, cluster.master_port, "/flags", 5.0).json() or {}
        hostname = (data.get("flags") or {}).get("hostname") or node.hostname or node.name
        masters.append(Node(node.name, node.address, hostname))
    cluster.masters = masters
    return cluster


def observer_address(target: str, port: int) -> str:
    """This machine's source address towards `target` (what the target sees the observer as)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((target, port))
        return str(sock.getsockname()[0])


# ============================================================================ plans
def plan_fault(cluster: Cluster, fault: str, baseline: Mapping[str, Any], timing: Timing,
               keep_ports: Sequence[int] = (22,)) -> dict[str, Any]:
    """What to break, what to wait for before restoring, and how to restore, for one fault.

    Targets follow the live cluster: the leading master, the ZooKeeper leader, the ZooKeeper
    members on the two nodes other than the Mesos leader's (quorum loss) or the first agent.
    `inject`/`restore` are lists of {host, args} for `act` on that host; `hold` lists the
    conditions (observer or host-side) that show the fault took effect, checked before restoring.
    "{inject}" in args stands for the injection time.
    """
    if fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}; choose from {', '.join(FAULTS)}")
    bnd = bounds(timing)
    leader, zk_lead = baseline["leader"], baseline["zk_leader"]
    plan: dict[str, Any] = {"fault": fault, "description": DESCRIPTIONS[fault], "old_leader": leader,
                            "old_zk_leader": zk_lead, "baseline_ids": baseline["agent_ids"], "hold": [],
                            "restore": [], "cluster": cluster.to_dict()}
    wait_leader = {"where": "observer", "until": "new-leader", "args": {"not": leader},
                   "timeout": bnd["new_leader"].seconds + 30}
    master_back_hold = {"where": "observer", "until": "master-back", "args": {"node": leader, "since": "{inject}"},
                        "timeout": bnd["hung_master_restarted"].seconds + bnd["master_back"].seconds + 30}
    ensure_master = {"host": leader, "args": ["ensure-started", "--unit", "mesos-master.service"]}
    if fault == "leader_kill":
        plan.update(target=leader, inject=[{"host": leader, "args": ["signal", "--unit", "mesos-master.service",
                                                                      "--signal", "KILL"]}],
                    hold=[wait_leader, master_back_hold], restore=[ensure_master])
    elif fault == "leader_stop":
        plan.update(target=leader, inject=[{"host": leader, "args": ["stop", "--unit", "mesos-master.service"]}],
                    hold=[wait_leader, {"where": "observer", "until": "agents-registered", "args": {},
                                        "timeout": bnd["agents_after_leader"].seconds + 30}],
                    restore=[{"host": leader, "args": ["start", "--unit", "mesos-master.service"]}])
    elif fault == "leader_hang":
        plan.update(target=leader, inject=[{"host": leader, "args": ["signal", "--unit", "mesos-master.service",
                                                                      "--signal", "STOP"]}],
                    hold=[wait_leader, master_back_hold],
                    restore=[{"host": leader, "args": ["signal", "--unit", "mesos-master.service", "--signal",
                                                       "CONT", "--if-stopped"]}, ensure_master])
    elif fault == "leader_partition":
        target = cluster.master(leader)
        peers = sorted({n.address for n in cluster.all_nodes() if n.name != leader}
                       | {observer_address(target.address, cluster.master_port)})
        keep = [str(p) for p in keep_ports]
        plan.update(target=leader, peers=peers, zk_leader_colocated=zk_lead == leader,
                    inject=[{"host": leader, "args": ["partition", "--peers", ",".join(peers),
                                                      "--keep-ports", ",".join(keep)]}],
                    hold=[wait_leader, {"where": "host", "host": leader,
                                        "args": ["stepdown", "--unit", "mesos-master.service", "--since", "{inject}",
                                                 "--timeout", str(round(bnd["isolated_stepdown"].seconds + 20))],
                                        "timeout": bnd["isolated_stepdown"].seconds + 30}],
                    restore=[{"host": leader, "args": ["heal"]}, ensure_master])
    elif fault == "zk_leader_kill":
        plan.update(target=zk_lead,
                    inject=[{"host": zk_lead, "args": ["signal", "--unit", "zookeeper.service", "--signal", "KILL",
                                                       "--match", "org.apache.zookeeper.server.quorum.QuorumPeerMain"]}],
                    hold=[{"where": "observer", "until": "zk-new-leader", "args": {"not": zk_lead},
                           "timeout": bnd["zk_reelection"].seconds + 30},
                          {"where": "observer", "until": "zk-member-serving", "args": {"node": zk_lead},
                           "timeout": bnd["zk_member_back"].seconds + 30}],
                    restore=[{"host": zk_lead, "args": ["ensure-started", "--unit", "zookeeper.service"]}])
    elif fault == "zk_quorum_loss":
        # A majority of members, preferring those not beside the Mesos leader: the leader then
        # keeps a live but non-serving member next to it, the most deceptive case.
        order = [n.name for n in cluster.zookeepers if n.name != leader] + [n.name for n in cluster.zookeepers
                                                                            if n.name == leader]
        victims = order[:len(cluster.zookeepers) // 2 + 1]
        plan.update(target=",".join(victims), victims=victims,
                    inject=[{"host": v, "args": ["stop", "--unit", "zookeeper.service"]} for v in victims],
                    hold=[{"where": "observer", "until": "no-leader", "args": {},
                           "timeout": bnd["quorum_loss_stepdown"].seconds + 30},
                          {"where": "observer", "until": "no-leader", "args": {}, "settle": 3.0,
                           "timeout": 10.0}],
                    restore=[{"host": v, "args": ["start", "--unit", "zookeeper.service"]} for v in victims])
    elif fault == "agent_hang":
        agent = cluster.agents[0].name
        agent_id = baseline["agent_ids"][agent]
        plan.update(target=agent, agent_id=agent_id,
                    inject=[{"host": agent, "args": ["signal-unit", "--unit", "mesos-agent.service",
                                                     "--signal", "STOP"]}],
                    # A host frozen for longer than the agent's ZooKeeper session (the resumed agent
                    # must re-detect the leader) but shorter than the agent's watchdog and half the
                    # masters' agent_ping_timeout x max_agent_ping_timeouts: Mesos promises the leader
                    # keeps such an agent registered (active) throughout, and the agent re-registers
                    # with its id once it resumes.
                    hold=[{"where": "observer", "until": "agent-active", "args": {"agent_id": agent_id},
                           "settle": agent_hang_seconds(timing), "timeout": 10.0}],
                    restore=[{"host": agent, "args": ["signal-unit", "--unit", "mesos-agent.service",
                                                      "--signal", "CONT"]}])
    return plan


def agent_hang_seconds(timing: Timing) -> float:
    """How long the agent's host stays hung: past its ZooKeeper session timeout (+2 s), below half
    the masters' ping timeout total and the agent watchdog minus 4 s."""
    limits = [timing.agent_total_ping_s / 2] + ([timing.agent_watchdog_s - 4.0] if timing.agent_watchdog_s else [])
    return round(max(1.0, min([timing.zk_session_timeout_s + 2.0] + limits)), 1)


def hold_condition(step: Mapping[str, Any], plan: Mapping[str, Any], inject_time: float
                   ) -> Callable[[Cluster, View], bool]:
    """The condition of an observer hold step, with "{inject}" resolved."""
    args = {k: (inject_time if v == "{inject}" else v) for k, v in step.get("args", {}).items()}
    if step["until"] == "agents-registered":
        args["baseline_ids"] = plan["baseline_ids"]
    return condition(step["until"], args)


def substitute(args: Sequence[str], inject_time: float) -> list[str]:
    """Host-side args with "{inject}" replaced by the injection time."""
    return [f"{inject_time:.3f}" if a == "{inject}" else str(a) for a in args]


# ============================================================================ analysis
def _rel(t: float | None, t_inject: float) -> float | None:
    return None if t is None else round(t - t_inject, 3)


def analyze(cluster: Cluster, plan: Mapping[str, Any], samples: Sequence[Sample], timing: Timing,
            marks: Mapping[str, float], final: Mapping[str, Any], units: Mapping[str, Any] | None = None,
            registry: Mapping[str, Any] | None = None, scale: float = 1.0,
            errors: Sequence[str] = ()) -> dict[str, Any]:
    """One fault's timeline, bound checks and invariant checks from the observer's samples.

    marks: wall-clock 'inject', 'restore', 'recovered' and, for a partition, 'stepdown'.
    final: check_cluster() after recovery. units: host -> {unit: state}. registry: the final
    leader's first "Recovered N agents from the registry" line since the injection
    ({"count": N or None, "time": t}). errors: drill steps that failed (a hold that timed out, a failed restore).
    Returns a JSON-serialisable result whose 'ok' is the verdict.
    """
    fault, t_inject = plan["fault"], marks["inject"]
    t_restore = marks.get("restore", t_inject)
    bnd = bounds(timing, scale)
    baseline_ids: dict[str, str] = dict(plan["baseline_ids"])
    old, target = str(plan.get("old_leader") or ""), str(plan.get("target") or "")
    events: dict[str, float | None] = {}
    checks: list[dict[str, Any]] = []  # bound checks
    info: dict[str, Any] = {}  # informational measurements (not asserted)

    def bound(name: str, measured: float | None, what: str) -> None:
        b = bnd[name]
        ok = measured is not None and measured <= b.seconds
        checks.append({"name": name, "what": what, "measured": None if measured is None else round(measured, 3),
                       "bound": b.seconds, "formula": b.formula, "ok": ok})

    def first(start: float | None, pred: Callable[[Cluster, View], bool]) -> float | None:
        return None if start is None else first_time(cluster, samples, start, pred)

    master_faults = ("leader_kill", "leader_stop", "leader_hang", "leader_partition")
    if fault in master_faults:
        events["leader_lost"] = first(t_inject, lambda c, v: (s := v.get("master", old)) is None
                                      or not (s.ok and s.elected))
        events["new_leader"] = first(events["leader_lost"], condition("new-leader", {"not": old}))
        events["agents_reregistered"] = first(events["new_leader"], condition("agents-registered",
                                                                                {"baseline_ids": baseline_ids}))
        back_since = t_restore if fault == "leader_stop" else t_inject
        events["node_back"] = first(max(t_inject, back_since), condition("master-back", {"node": old,
                                                                                        "since": back_since}))
        bound("new_leader_zk_partitioned" if plan.get("zk_leader_colocated") else "new_leader",
              _delta(events["new_leader"], t_inject), "injection -> new leader elected")
        bound("agents_after_leader", _delta(events["agents_reregistered"], events["new_leader"]),
              "new leader -> all agents re-registered")
        if fault in ("leader_kill", "leader_hang"):
            restarted = next((daemon_started(s) for s in samples if s.role == "master" and s.node == old and s.ok
                              and daemon_started(s) > t_inject), None)
            events["daemon_restarted"] = restarted
            bound("killed_master_restarted" if fault == "leader_kill" else "hung_master_restarted",
                  _delta(restarted, t_inject), "injection -> new daemon started by systemd")
            bound("master_back", _delta(events["node_back"], restarted), "daemon start -> back as follower")
        else:
            bound("master_back", _delta(events["node_back"], t_restore),
                  "start -> back as follower" if fault == "leader_stop" else "heal -> back as follower")
        if fault == "leader_partition":
            events["stepdown"] = marks.get("stepdown")
            bound("isolated_stepdown", _delta(marks.get("stepdown"), t_inject),
                  "injection -> isolated leader exits ('committing suicide')")
            # Informational: how long the isolated (unreachable) leader still believed it led
            # after the majority had elected a new one. It cannot act: every registry write
            # needs a quorum of replicas it cannot reach.
            overlap = _delta(marks.get("stepdown"), events["new_leader"])
            info["stale_leader_overlap_s"] = None if overlap is None else round(max(0.0, overlap), 3)
            info["zk_leader_colocated"] = bool(plan.get("zk_leader_colocated"))
    elif fault == "zk_leader_kill":
        zk_old = plan["old_zk_leader"]
        events["leader_lost"] = first(t_inject, lambda c, v: (s := v.get("zk", zk_old)) is None or s.mode != "leader")
        events["new_leader"] = first(events["leader_lost"], condition("zk-new-leader", {"not": zk_old}))
        events["agents_reregistered"] = first(events["new_leader"], condition("agents-registered",
                                                                                {"baseline_ids": baseline_ids}))
        events["node_back"] = first(events["leader_lost"], condition("zk-member-serving", {"node": zk_old}))
        bound("zk_reelection", _delta(events["new_leader"], t_inject), "kill -> ZooKeeper quorum with a new leader")
        bound("zk_member_back", _delta(events["node_back"], t_inject), "kill -> killed member serving again")
        # Lost = the old leader itself says elected=0, or another master says elected=1 (a probe
        # that times out on a loaded host is not a leader change).
        mesos_leader_lost = first(t_inject, lambda c, v: ((s := v.get("master", old)) is not None and s.ok
                                                          and not s.elected)
                                  or any(m != old for m in elected_masters(c, v)))
        events["mesos_leader_lost"] = mesos_leader_lost
        if final.get("leader") != old or mesos_leader_lost is not None:
            events["mesos_new_leader"] = first(mesos_leader_lost, lambda c, v: agreed_leader(c, v) is not None)
            bound("new_leader", _delta(events["mesos_new_leader"], t_inject), "kill -> Mesos leader agreed again")
    elif fault == "zk_quorum_loss":
        events["zk_quorum_lost"] = first(t_inject, lambda c, v: zk_leader(c, v) is None)
        events["leader_lost"] = first(t_inject, condition("no-leader", {}))
        events["restore"] = t_restore
        events["zk_quorum_back"] = first(t_restore, lambda c, v: zk_leader(c, v) is not None)
        events["new_leader"] = first(events["zk_quorum_back"], condition("new-leader", {}))
        events["agents_reregistered"] = first(events["new_leader"], condition("agents-registered",
                                                                                {"baseline_ids": baseline_ids}))
        events["node_back"] = first(t_restore, lambda c, v: all(
            (s := v.get("zk", n)) is not None and s.mode in ("leader", "follower") for n in plan["victims"]))
        bound("quorum_loss_stepdown", _delta(events["leader_lost"], t_inject), "quorum lost -> no master elected")
        bound("zk_quorum_back", _delta(events["zk_quorum_back"], t_restore), "start -> ZooKeeper quorum again")
        bound("leader_after_quorum", _delta(events["new_leader"], events["zk_quorum_back"]),
              "quorum back -> Mesos leader agreed")
        bound("agents_after_leader", _delta(events["agents_reregistered"], events["new_leader"]),
              "new leader -> all agents re-registered")
    elif fault == "agent_hang":
        agent_id = plan["agent_id"]
        info["hang_seconds"] = round(t_restore - t_inject, 3)
        events["restore"] = t_restore
        events["agents_reregistered"] = first(t_restore, condition("agents-registered", {"baseline_ids": baseline_ids}))
        events["node_back"] = first(t_restore, lambda c, v: (s := v.get("agent", target)) is not None and s.ok
                                    and bool(s.detected) and s.agent_id == agent_id)
        bound("agent_reregistered", _delta(events["agents_reregistered"], t_restore),
              "resume -> agent re-registered with its id")

    # ---------------------------------------------------------------- invariants
    invariants: list[dict[str, Any]] = []

    def invariant(name: str, ok: bool, detail: str) -> None:
        invariants.append({"name": name, "ok": bool(ok), "detail": detail})

    window = [s for s in samples if s.t1 >= t_inject - 1.0]
    masters_polled = [s for s in window if s.role == "master"]
    gaps = {f"{role}/{n.name}": poll_gaps(window, role, n.name)
            for role, nodes in (("master", cluster.masters), ("agent", cluster.agents), ("zk", cluster.zookeepers))
            for n in nodes}
    worst_p95 = max((p95(g) for g in gaps.values()), default=0.0)
    worst = max((g[-1] for g in gaps.values() if g), default=0.0)
    info["observer_cadence"] = {"scheduled_s": POLL_INTERVAL, "p95_gap_s": round(worst_p95, 3),
                                "max_gap_s": round(worst, 3), "samples": len(window)}
    invariant(f"observer probed every target every {POLL_INTERVAL:g} s (95% of gaps <= {CADENCE_P95:g} s, "
              f"none > {CADENCE_MAX:g} s)",
              len(masters_polled) > 0 and all(g for g in gaps.values()) and worst_p95 <= CADENCE_P95
              and worst <= CADENCE_MAX,
              f"{len(window)} samples; gaps between probe starts: p95 {worst_p95:.3f}s, max {worst:.3f}s; "
              "longest gap between answers: " + ", ".join(
                  f"{n.name} {max_poll_gap(window, 'master', n.name, answered=True):.2f}s" for n in cluster.masters))
    brain = split_brain(cluster, samples)
    invariant("at most one elected master at any time", not brain, "; ".join(brain[:5]) or
              "no overlap of elected masters among the answering ones")
    seen = agent_ids_seen(samples)
    extra = sorted(seen - set(baseline_ids.values()))
    invariant("agent ids stay the baseline ids", not extra,
              f"seen {sorted(seen)}" + (f"; NEW ids {extra}" if extra else ""))
    znodes = final.get("znodes") or {}
    invariant("cluster back at baseline after recovery", bool(final.get("ok")),
              "; ".join(final.get("problems") or []) or
              f"leader {final.get('leader')}, ZooKeeper {final.get('zk')}, agents {final.get('agent_ids')}")
    invariant("znodes and registry survive",
              bool(znodes.get("exists")) and len(znodes.get("json_info") or []) == len(cluster.masters)
              and len(znodes.get("log_replicas") or []) == len(cluster.masters)
              and bool((final.get("masters") or {}).get(final.get("leader") or "", {}).get("log_recovered"))
              and set(baseline_ids.values()) <= set(final.get("active_ids") or []),
              f"json.info_ {len(znodes.get('json_info') or [])}, log_replicas {len(znodes.get('log_replicas') or [])}"
              f", leader registrar/log/recovered {(final.get('masters') or {}).get(final.get('leader') or '', {}).get('log_recovered')}"
              f", leader lists {final.get('active_ids')}")
    if final.get("agent_ids") is not None:
        invariant("agents keep their ids", dict(final.get("agent_ids") or {}) == baseline_ids,
                  f"after {final.get('agent_ids')}, baseline {baseline_ids}")
    if units is not None:
        bad = {h: u for h, states in units.items() for u, st in states.items() if st != "active"}
        invariant("all units active after recovery", not bad, f"not active: {bad}" if bad else
                  f"{sum(len(s) for s in units.values())} units active")
    # Every election after the injection recovers the registry from the replicated log; Mesos
    # logs "Recovered N agents from the registry". Master faults and quorum loss always elect
    # again (possibly the same node), a ZooKeeper leader kill only if Mesos lost its leader.
    count = (registry or {}).get("count")
    reelected = fault in master_faults or fault == "zk_quorum_loss" or events.get("mesos_leader_lost") is not None
    if reelected or count is not None:
        invariant("the elected leader recovered every agent from the registry", count == len(baseline_ids),
                  f"{final.get('leader')} logged 'Recovered {count} agents from the registry' since the "
                  f"injection (expected {len(baseline_ids)})")
    if fault == "zk_quorum_loss":
        lost, back = events.get("leader_lost"), events.get("zk_quorum_back")
        elected_without_quorum = [f"{s.node}@{s.t0:.3f}" for s in samples if s.role == "master" and s.ok
                                  and s.elected and lost is not None and s.t0 > lost and (back is None or s.t1 < back)]
        invariant("no master elected without ZooKeeper quorum", lost is not None and not elected_without_quorum,
                  "stepped down" + (f"; re-elected without quorum: {elected_without_quorum[:5]}"
                                    if elected_without_quorum else " and stayed down until quorum returned")
                  if lost is not None else "the leader never stepped down")
    if fault == "agent_hang":
        others = sorted({s.node for s in samples if s.role == "master" and s.ok and s.elected and s.node != old
                         and s.t1 >= t_inject})
        invariant("leader unchanged while the agent hung", not others and final.get("leader") == old,
                  f"other elected masters: {others}; leader after: {final.get('leader')}")
        dropped = [round(s.t1 - t_inject, 2) for s in samples if s.role == "master" and s.ok and s.elected
                   and s.active_ids is not None and t_inject <= s.t1 <= t_restore and plan["agent_id"] not in s.active_ids]
        invariant("the leader kept the hung agent registered (hang < agent_ping_timeout x max_agent_ping_timeouts)",
                  not dropped, f"not active at {dropped[:5]} s" if dropped else
                  f"active on {old} through the {info.get('hang_seconds')} s hang")
    if fault == "leader_partition":
        invariant("isolated leader stepped down", marks.get("stepdown") is not None,
                  f"step-down line at {_rel(marks.get('stepdown'), t_inject)} s")
        invariant("isolated master rejoined as follower", events.get("node_back") is not None,
                  f"back at {_rel(events.get('node_back'), t_inject)} s")
    if fault == "zk_leader_kill":
        invariant("Mesos has one leader after the ZooKeeper re-election", bool(final.get("leader")),
                  f"leader before {old}, after {final.get('leader')}")
    invariant("drill steps completed", not errors, "; ".join(errors) or "inject, hold, restore and recovery all done")

    timeline = {name: _rel(value, t_inject) for name, value in events.items()}
    timeline["recovered"] = _rel(marks.get("recovered"), t_inject)
    if "restore" in marks:
        timeline["restore"] = _rel(marks["restore"], t_inject)
    ok = all(c["ok"] for c in checks) and all(i["ok"] for i in invariants)
    return {"fault": fault, "description": plan["description"], "target": target, "old_leader": old,
            "new_leader": final.get("leader"), "injected_at": t_inject,
            "injected_at_utc": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t_inject)) + f".{int(t_inject % 1 * 1000):03d}Z",
            "timeline": timeline, "events_at": {k: v for k, v in events.items() if v is not None},
            "bounds": checks, "info": info, "invariants": invariants, "ok": ok, "scale": scale,
            "samples": len(samples)}


def inputs_from_steps(steps: Mapping[str, Any], plan: Mapping[str, Any]) -> dict[str, Any]:
    """analyze()'s marks, final, units, registry and errors from the playbook's registered results
    (inject, hold, restore, after, units, registry: Ansible results of `act`/`check`/`wait`).
    A plan step without a result (the drill stopped before it) is an error too."""
    def parsed(result: Mapping[str, Any]) -> dict[str, Any] | None:
        try:
            value = json.loads((result.get("stdout") or "").strip().splitlines()[-1])
        except (ValueError, IndexError):
            return None
        return value if isinstance(value, dict) else None

    def results(name: str) -> list[Mapping[str, Any]]:
        registered = steps.get(name) or {}
        items: list[Mapping[str, Any]] = list(registered.get("results") or []) if "results" in registered \
            else [registered] if registered else []
        return [r for r in items if r and not r.get("skipped")]

    marks: dict[str, float] = {}
    errors: list[str] = []
    for name in ("inject", "hold", "restore"):
        times = []
        for result in results(name):
            out = parsed(result)
            if result.get("failed") or result.get("rc", 0) != 0 or out is None or out.get("ok") is False:
                detail = (out or {}).get("error") or (result.get("stderr") or result.get("msg") or "")[-300:]
                errors.append(f"{name} step {result.get('item', {}).get('args') or result.get('item')} failed: {detail}")
                continue
            if name == "hold" and (result.get("item") or {}).get("where") == "host":
                marks["stepdown"] = float(out["time"])
            elif name != "hold":
                times.append(float(out["time"]))
        if times:
            marks[name] = max(times) if name == "inject" else min(times)
        if len(results(name)) < len(plan.get(name) or []):
            errors.append(f"only {len(results(name))} of {len(plan.get(name) or [])} {name} steps ran")
    after = results("after")
    final = (parsed(after[0]) if after else None) or {"ok": False, "problems": ["the baseline check did not run"]}
    if final.get("ok"):
        marks["recovered"] = float(final["time"])
    units = {str(r.get("item")): (parsed(r) or {}).get("units", {"?": "no answer"}) for r in results("units")}
    registry = next((parsed(r) for r in results("registry")), None)
    return {"marks": marks, "final": final, "units": units or None, "registry": registry, "errors": errors}


def _delta(t: float | None, since: float | None) -> float | None:
    return None if t is None or since is None else t - since


# ============================================================================ report
COLUMNS = (("leader_lost", "LEADER LOST"), ("new_leader", "NEW LEADER"),
           ("agents_reregistered", "AGENTS BACK"), ("node_back", "NODE BACK"), ("recovered", "RECOVERED"))


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}s"


def table(results: Sequence[Mapping[str, Any]]) -> str:
    """A readable table: one row per fault (seconds after injection), then every bound."""
    header = ["FAULT", "TARGET"] + [title for _, title in COLUMNS] + ["BOUNDS", "INVARIANTS", "RESULT"]
    rows = []
    for r in results:
        tl = r["timeline"]
        lost = tl.get("leader_lost")
        new = tl.get("new_leader", tl.get("mesos_new_leader"))
        cells = [r["fault"], str(r.get("target")), _fmt(lost), _fmt(new), _fmt(tl.get("agents_reregistered")),
                 _fmt(tl.get("node_back")), _fmt(tl.get("recovered")),
                 f"{sum(c['ok'] for c in r['bounds'])}/{len(r['bounds'])}",
                 f"{sum(i['ok'] for i in r['invariants'])}/{len(r['invariants'])}", "ok" if r["ok"] else "FAILED"]
        rows.append(cells)
    widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in [header] + rows]
    lines.append("")
    lines.append("Times are seconds after the fault was injected. For agent_hang the leader never changes and keeps "
                 "the agent registered; for zk_leader_kill, LEADER/NEW LEADER are ZooKeeper's.")
    lines.append("")
    lines.append("BOUNDS (measured <= bound)")
    for r in results:
        for c in r["bounds"]:
            measured = "never" if c["measured"] is None else f"{c['measured']:.1f}s"
            lines.append(f"  {r['fault']:<17} {c['name']:<24} {measured:>7} <= {c['bound']:>5.1f}s  "
                         f"{'ok' if c['ok'] else 'EXCEEDED'}  ({c['what']}; {c['formula']})")
    failed = [(r["fault"], i) for r in results for i in r["invariants"] if not i["ok"]]
    lines.append("")
    lines.append("INVARIANTS: " + ("all held" if not failed else "BROKEN"))
    for fault, inv in failed:
        lines.append(f"  {fault}: {inv['name']}: {inv['detail']}")
    return "\n".join(lines) + "\n"


def write_report(out_dir: str | Path, results: Sequence[Mapping[str, Any]], timing: Timing | None,
                 extra: Mapping[str, Any] | None = None, name: str = "failover-report") -> dict[str, str]:
    """reports/failover/<name>.json and .txt (and .png when matplotlib is importable)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    scale = results[0]["scale"] if results else 1.0
    doc = {"generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "scale": scale,
           "timing": asdict(timing) if timing else None,
           "bounds": {k: asdict(v) for k, v in bounds(timing, scale).items()} if timing else None,
           "results": list(results), "ok": all(r["ok"] for r in results), **(extra or {})}
    paths = {"json": str(out / f"{name}.json"), "txt": str(out / f"{name}.txt")}
    dump_json(paths["json"], doc)
    Path(paths["txt"]).write_text(table(results), encoding="utf-8")
    png = _plot(out / f"{name}.png", results)
    if png:
        paths["png"] = png
    return paths


def _plot(path: Path, results: Sequence[Mapping[str, Any]]) -> str | None:
    """A timeline chart, only when matplotlib happens to be importable (never a dependency)."""
    try:
        import matplotlib  # type: ignore[import-not-found]
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # type: ignore[import-not-found]
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(10, 0.6 * len(results) + 1.5))
    for row, r in enumerate(results):
        for key, _title in COLUMNS:
            value = r["timeline"].get(key)
            if value is not None:
                ax.plot(value, row, "o")
                ax.annotate(key, (value, row), fontsize=6, rotation=30)
    ax.set_yticks(range(len(results)), [r["fault"] for r in results])
    ax.set_xlabel("seconds after injection")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return str(path)


def bench_summary(reports: Sequence[Mapping[str, Any]]) -> str:
    """min/median/max per fault and timeline column over several drill reports."""
    values: dict[tuple[str, str], list[float]] = {}
    verdicts: dict[str, list[bool]] = {}
    for report in reports:
        for r in report.get("results", []):
            verdicts.setdefault(r["fault"], []).append(bool(r["ok"]))
            for key, _title in COLUMNS:
                value = r["timeline"].get(key)
                if value is not None:
                    values.setdefault((r["fault"], key), []).append(float(value))
    lines = [f"{'FAULT':<17} {'EVENT':<20} {'N':>3} {'MIN':>7} {'MEDIAN':>7} {'MAX':>7}"]
    for fault in FAULTS:
        if fault not in verdicts:
            continue
        for key, title in COLUMNS:
            vals = values.get((fault, key))
            if vals:
                lines.append(f"{fault:<17} {title:<20} {len(vals):>3} {min(vals):>6.1f}s "
                             f"{statistics.median(vals):>6.1f}s {max(vals):>6.1f}s")
        ok = verdicts[fault]
        lines.append(f"{fault:<17} {'runs ok':<20} {sum(ok):>3}/{len(ok)}")
    return "\n".join(lines) + "\n"


# ============================================================================ host actions (act)
def _run(argv: Sequence[str], timeout: float = 30.0, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}: {result.stderr.strip() or result.stdout.strip()}")
    return result


def unit_props(unit: str, *props: str) -> dict[str, str]:
    """systemctl show for the given properties."""
    out = _run(["systemctl", "show", unit, "-p", ",".join(props)]).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def unit_pids(unit: str) -> list[int]:
    """Processes whose cgroup is the unit's (any hierarchy), from /proc."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cgroup", encoding="utf-8") as handle:
                if any(line.rstrip().endswith(f"/{unit}") for line in handle):
                    pids.append(int(entry))
        except OSError:
            continue
    return sorted(pids)


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def _ppid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def daemon_pid(unit: str, match: str | None = None) -> int:
    """The unit's daemon: the process matching `match`, else the main process's child (the
    daemon under ha-supervisor), else the main process itself."""
    pids = unit_pids(unit)
    if match:
        found = [p for p in pids if match in _cmdline(p)]
        if not found:
            raise RuntimeError(f"no process of {unit} matches {match!r}")
        return found[0]
    main = int(unit_props(unit, "MainPID").get("MainPID", "0") or 0)
    if not main:
        raise RuntimeError(f"{unit} has no main process")
    children = [p for p in pids if _ppid(p) == main]
    return children[0] if children else main


def _journal_lines(unit: str, since: float) -> list[tuple[float, str]]:
    out = _run(["journalctl", "-u", unit, "--since", f"@{int(since)}", "-o", "short-unix", "--no-pager"],
               check=False).stdout
    lines = []
    for line in out.splitlines():
        stamp, _, rest = line.partition(" ")
        try:
            lines.append((float(stamp), rest))
        except ValueError:
            continue
    return lines


def act(args: argparse.Namespace) -> dict[str, Any]:
    """Run one host-side action; returns the JSON printed (always with 'time')."""
    action = args.action
    unit = str(args.unit)
    if action == "signal":
        pid = daemon_pid(unit, args.match)
        sig = getattr(signal, f"SIG{args.signal}")
        if args.if_stopped and _state(pid) != "T":
            return {"time": time.time(), "pid": pid, "skipped": f"process state {_state(pid)!r}"}
        now = time.time()
        os.kill(pid, sig)
        return {"time": now, "pid": pid, "signal": args.signal, "cmdline": _cmdline(pid)[:200]}
    if action == "signal-unit":
        now = time.time()
        _run(["systemctl", "kill", f"--signal=SIG{args.signal}", unit])
        return {"time": now, "unit": unit, "signal": args.signal, "pids": unit_pids(unit)}
    if action in ("stop", "start"):
        now = time.time()
        _run(["systemctl", action, unit], timeout=120)
        return {"time": now, "unit": unit, "done": time.time(), **unit_props(unit, "ActiveState", "MainPID")}
    if action == "ensure-started":
        deadline = time.monotonic() + args.timeout
        now = time.time()
        while True:
            props = unit_props(unit, "ActiveState", "SubState")
            if props.get("ActiveState") == "active":
                return {"time": now, "unit": unit, "started": False, **props}
            if props.get("ActiveState") in ("inactive", "failed"):
                _run(["systemctl", "reset-failed", unit], check=False)
                _run(["systemctl", "start", unit], timeout=120)
                return {"time": now, "unit": unit, "started": True,
                        **unit_props(unit, "ActiveState", "SubState")}
            if time.monotonic() > deadline:  # activating / auto-restart longer than allowed
                raise RuntimeError(f"{unit} stayed {props} for {args.timeout} s")
            time.sleep(0.5)
    if action == "partition":
        peers = [p for p in args.peers.split(",") if p]
        keep = [int(p) for p in args.keep_ports.split(",") if p]
        if subprocess.run(["sh", "-c", "command -v nft"], capture_output=True, check=False).returncode != 0:
            raise RuntimeError("nft is not installed on this host (apt-get install nftables)")
        keep_rule = f"tcp dport {{ {', '.join(map(str, keep))} }} accept" if keep else ""
        keep_out = f"tcp sport {{ {', '.join(map(str, keep))} }} accept" if keep else ""
        ruleset = f"""
table inet {NFT_TABLE} {{
  set peers {{ type ipv4_addr; elements = {{ {', '.join(peers)} }} }}
  chain input {{ type filter hook input priority -10; policy accept; iifname "lo" accept; {keep_rule}
                ip saddr @peers drop; }}
  chain output {{ type filter hook output priority -10; policy accept; oifname "lo" accept; {keep_out}
                 ip daddr @peers drop; }}
}}
"""
        _run(["nft", "delete", "table", "inet", NFT_TABLE], check=False)
        now = time.time()
        subprocess.run(["nft", "-f", "-"], input=ruleset, text=True, capture_output=True, check=True, timeout=30)
        return {"time": now, "table": NFT_TABLE, "peers": peers, "kept_ports": keep}
    if action == "heal":
        now = time.time()
        has_nft = subprocess.run(["sh", "-c", "command -v nft"], capture_output=True, check=False).returncode == 0
        present = has_nft and _run(["nft", "list", "table", "inet", NFT_TABLE], check=False).returncode == 0
        if present:
            _run(["nft", "delete", "table", "inet", NFT_TABLE])
        return {"time": now, "table": NFT_TABLE, "removed": present}
    if action == "stepdown":
        deadline = time.monotonic() + args.timeout
        while True:
            for stamp, line in _journal_lines(unit, args.since):
                if stamp >= args.since and "committing suicide" in line:
                    forced = next((s for s, text in _journal_lines(unit, args.since)
                                   if s >= args.since and "Forcing ZooKeeper session" in text), None)
                    return {"time": stamp, "line": line[-200:], "session_expired_locally": forced}
            if time.monotonic() > deadline:
                raise RuntimeError(f"{unit}: no 'committing suicide' line since {args.since} within {args.timeout} s")
            time.sleep(0.5)
    if action == "registry-log":
        for stamp, line in _journal_lines(unit, args.since):
            match = re.search(r"Recovered (\d+) agents from the registry", line)
            if stamp >= args.since and match:
                return {"time": stamp, "count": int(match[1]), "line": line[-200:]}
        return {"time": time.time(), "count": None}
    if action == "units":
        states = {}
        for name in [u for u in args.units.split(",") if u]:
            if unit_props(name, "LoadState").get("LoadState") != "loaded":
                states[name] = "not-found"
            else:
                states[name] = _run(["systemctl", "is-active", name], check=False).stdout.strip()
        return {"time": time.time(), "units": states}
    if action == "config":
        config: dict[str, Any] = {"time": time.time(), "units": {}}
        for name in ("zookeeper.service", "mesos-master.service", "mesos-agent.service"):
            props = unit_props(name, "LoadState", "WatchdogUSec", "RestartUSec", "ExecStart")
            if props.get("LoadState") == "loaded":
                config["units"][name] = {k: props.get(k, "") for k in ("WatchdogUSec", "RestartUSec")}
                if name == "zookeeper.service":
                    cfg = next((tok for tok in props.get("ExecStart", "").split() if tok.endswith(".cfg")),
                               args.zoo_cfg)
                    config["zoo_cfg_path"] = cfg
                    config["zoo_cfg"] = Path(cfg).read_text(encoding="utf-8")
        return config
    raise ValueError(f"unknown action {action!r}")


# ============================================================================ CLI
def _cluster(path: str, resolve: bool = True) -> Cluster:
    """The cluster file; HTTP Basic credentials come from the JSON file named by
    $FAILOVER_DRILL_CREDENTIALS ({"principal": ..., "secret": ...}), never from the cluster file."""
    data = dict(load_json(path))
    creds_file = os.environ.get("FAILOVER_DRILL_CREDENTIALS")
    if creds_file:
        data["credentials"] = load_json(creds_file)
    cluster = Cluster.from_dict(data)
    return resolve_hostnames(cluster) if resolve else cluster


def _timing(path: str) -> Timing:
    data = load_json(path)
    data = data.get("timing", data)
    return Timing(**data)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("check", help="check the live cluster against its baseline")
    p.add_argument("--cluster", required=True)
    p.add_argument("--baseline", help="baseline JSON (agent ids to keep)")
    p.add_argument("--wait", type=float, default=0.0, help="retry for up to this many seconds")
    p.add_argument("--out")

    p = sub.add_parser("timing", help="bounds from the hosts' configuration")
    p.add_argument("--cluster", required=True)
    p.add_argument("--host-config", action="append", default=[], help="HOST=FILE with `act config` output")
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--out")

    p = sub.add_parser("plan", help="plan one fault against the live cluster")
    p.add_argument("--cluster", required=True)
    p.add_argument("--fault", required=True, choices=FAULTS)
    p.add_argument("--baseline", required=True)
    p.add_argument("--timing", required=True)
    p.add_argument("--keep-ports", default="22")
    p.add_argument("--out")

    p = sub.add_parser("observe", help="poll the cluster into a JSON-lines file until stopped")
    p.add_argument("--cluster", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--stop-file", required=True)
    p.add_argument("--max-seconds", type=float, default=900.0)

    p = sub.add_parser("wait", help="wait until a condition holds in the observer's samples")
    p.add_argument("--cluster", required=True)
    p.add_argument("--samples", required=True)
    p.add_argument("--plan", help="plan JSON (with --step)")
    p.add_argument("--step", type=int, help="index of the plan's hold step")
    p.add_argument("--inject-time", type=float, default=0.0)
    p.add_argument("--until", help="a condition without a plan (e.g. observing)")
    p.add_argument("--timeout", type=float, default=30.0)

    p = sub.add_parser("analyze", help="timeline and verdict of one fault")
    for name in ("--cluster", "--plan", "--samples", "--timing", "--steps", "--out"):
        p.add_argument(name, required=True)
    p.add_argument("--scale", type=float, default=float(os.environ.get("FAILOVER_BOUND_SCALE", "1") or 1))

    p = sub.add_parser("report", help="JSON report and table from analysed faults")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--timing")
    p.add_argument("--name", default="failover-report")
    p.add_argument("results", nargs="*")

    p = sub.add_parser("bench", help="min/median/max per fault over several reports")
    p.add_argument("reports", nargs="+")

    p = sub.add_parser("act", help="host-side action (run on a managed host as root)")
    p.add_argument("action", choices=("signal", "signal-unit", "stop", "start", "ensure-started", "partition",
                                      "heal", "stepdown", "registry-log", "units", "config"))
    p.add_argument("--unit", default="mesos-master.service")
    p.add_argument("--signal", choices=("KILL", "STOP", "CONT", "TERM"), default="KILL")
    p.add_argument("--match")
    p.add_argument("--if-stopped", action="store_true", help="signal only a stopped (T) process")
    p.add_argument("--peers", default="")
    p.add_argument("--keep-ports", default="22")
    p.add_argument("--since", type=float, default=0.0)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--units", default="zookeeper.service,mesos-master.service,mesos-agent.service")
    p.add_argument("--zoo-cfg", default="/etc/zookeeper/conf/zoo.cfg")

    args = parser.parse_args(argv)
    if args.command == "act":
        print(json.dumps(act(args), sort_keys=True))
        return 0
    if args.command == "check":
        cluster = _cluster(args.cluster)
        baseline_ids = load_json(args.baseline)["agent_ids"] if args.baseline else None
        result = wait_for_baseline(cluster, baseline_ids, args.wait)
        if args.out:
            dump_json(args.out, result)
        print(json.dumps(result, sort_keys=True))
        return 0 if result["ok"] else 1
    if args.command == "timing":
        cluster = _cluster(args.cluster)
        configs = {}
        for item in args.host_config:
            host, _, path = item.partition("=")
            configs[host] = load_json(path)
        timing = timing_from_config(cluster, configs)
        doc = {"timing": asdict(timing), "bounds": {k: asdict(v) for k, v in bounds(timing, args.scale).items()},
               "scale": args.scale}
        if args.out:
            dump_json(args.out, doc)
        print(json.dumps(doc, sort_keys=True))
        return 0
    if args.command == "plan":
        cluster = _cluster(args.cluster)
        plan = plan_fault(cluster, args.fault, load_json(args.baseline), _timing(args.timing),
                          [int(p) for p in args.keep_ports.split(",") if p])
        if args.out:
            dump_json(args.out, plan)
        print(json.dumps(plan, sort_keys=True))
        return 0
    if args.command == "observe":
        cluster = _cluster(args.cluster)
        observer = Observer(cluster, max_seconds=args.max_seconds, sink=args.out).start()
        deadline = time.monotonic() + args.max_seconds
        while not Path(args.stop_file).exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        samples = observer.stop()
        print(json.dumps({"samples": len(samples), "stopped": time.time()}))
        return 0
    if args.command == "wait":
        cluster = _cluster(args.cluster)
        plan = load_json(args.plan) if args.plan else {}
        step = plan["hold"][args.step] if args.step is not None else {"until": args.until, "timeout": args.timeout}
        tail = SampleTail(args.samples)
        predicate = hold_condition(step, plan, args.inject_time)
        try:
            reached = wait_until(cluster, tail.view, predicate, float(step["timeout"]), step["until"])
            settle = float(step.get("settle", 0.0))
            if settle:  # the condition must keep holding (e.g. no leader while there is no quorum)
                end = time.monotonic() + settle
                while time.monotonic() < end:
                    if not predicate(cluster, tail.view()):
                        raise TimeoutError(f"{step['until']} stopped holding during {settle} s")
                    time.sleep(0.1)
        except TimeoutError as exc:
            print(json.dumps({"ok": False, "error": str(exc)}))
            return 1
        print(json.dumps({"ok": True, "time": reached, "until": step["until"]}))
        return 0
    if args.command == "analyze":
        plan = load_json(args.plan)
        inputs = inputs_from_steps(load_json(args.steps), plan)
        if "inject" not in inputs["marks"]:
            print(json.dumps({"ok": False, "error": "the fault was not injected", "errors": inputs["errors"]}))
            return 1
        result = analyze(_cluster(args.cluster), plan, read_samples(args.samples),
                         _timing(args.timing), inputs["marks"], inputs["final"], inputs["units"],
                         inputs["registry"], args.scale, inputs["errors"])
        result["marks"] = inputs["marks"]
        dump_json(args.out, result)
        print(json.dumps({k: result[k] for k in ("fault", "ok", "timeline")}, sort_keys=True))
        return 0
    if args.command == "report":
        results = [load_json(p) for p in args.results if Path(p).exists()]  # a fault that failed early has none
        paths = write_report(args.out_dir, results, _timing(args.timing) if args.timing else None, name=args.name)
        sys.stdout.write(Path(paths["txt"]).read_text(encoding="utf-8"))
        return 0 if all(r["ok"] for r in results) else 1
    if args.command == "bench":
        sys.stdout.write(bench_summary([load_json(p) for p in args.reports]))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
