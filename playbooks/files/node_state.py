#!/usr/bin/env python3
"""Report one node's cluster state as JSON (standard library only; runs on the managed host).

Used by playbooks/status.yml. Every probe is read-only and bounded by a short timeout; a
service that is absent or down is reported as such, never as an error of this script.
"""
from __future__ import annotations

import argparse
import base64
import json
import re
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request

TIMEOUT = 3.0


def unit_state(unit: str) -> dict:
    """ActiveState, SubState, restart count and start time of a systemd unit ('absent' if unknown).
    started_at: when the unit's main process started (epoch seconds, 0 if it never ran)."""
    out = subprocess.run(
        ["systemctl", "show", unit, "--timestamp=unix", "-p",
         "LoadState,ActiveState,SubState,NRestarts,WatchdogUSec,ActiveEnterTimestamp,ExecMainStartTimestamp,MainPID"],
        capture_output=True, text=True, check=False).stdout
    props = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    if props.get("LoadState") in (None, "not-found"):
        return {"state": "absent"}
    return {"state": props.get("ActiveState", "unknown"), "sub": props.get("SubState", ""),
            "restarts": int(props.get("NRestarts", "0") or 0),
            "watchdog": props.get("WatchdogUSec", "0") not in ("0", "infinity", ""),
            "watchdog_usec": props.get("WatchdogUSec", ""),
            "since": _utc(_epoch(props.get("ActiveEnterTimestamp", ""))),
            "started_at": _epoch(props.get("ExecMainStartTimestamp", "")),
            "pid": int(props.get("MainPID", "0") or 0)}


def _epoch(value: str) -> float:
    """'@1700000000' (systemctl --timestamp=unix) -> 1700000000.0; 0.0 when unset."""
    try:
        return float(value.lstrip("@")) if value.startswith("@") else 0.0
    except ValueError:
        return 0.0


def _utc(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch)) if epoch else ""


def package_info(name: str) -> dict:
    """The installed version of a Debian/RPM package and when it was installed (epoch seconds);
    {"version": ""} when it is not installed."""
    for argv in (["dpkg-query", "-W", "-f", "${Version} ${db-fsys:Last-Modified}", name],
                 ["rpm", "-q", "--qf", "%{VERSION}-%{RELEASE} %{INSTALLTIME}", name]):
        try:
            done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=TIMEOUT)
        except OSError:
            continue
        if done.returncode == 0 and done.stdout.strip():
            version, _, installed = done.stdout.strip().partition(" ")
            return {"version": version, "installed_at": float(installed) if installed.isdigit() else 0.0}
    return {"version": ""}


def restart_pending(unit: dict, package: dict) -> bool:
    """True when a running unit's main process started before its package was (re)installed:
    it still runs the old binary (the upgrade runbook restarts exactly these)."""
    return bool(unit.get("state") == "active" and package.get("installed_at")
                and unit.get("started_at", 0) < package["installed_at"])


def running_version(base_url: str, ca_file: str | None) -> str:
    """The running daemon's version from /version (no authentication needed); '' without an answer.
    Mesos reports its release only (1.11.0): which package build runs is known from the package's
    install time against the process's start time (restart_pending)."""
    status, _, body = http_get(f"{base_url}/version", None, ca_file)
    return str(body.get("version", "")) if status == 200 else ""


def four_letter(host: str, port: int, word: str) -> str | None:
    """Send a ZooKeeper four-letter word; None when nothing answers."""
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
            sock.sendall(word.encode())
            chunks = []
            while chunk := sock.recv(4096):
                chunks.append(chunk)
            return b"".join(chunks).decode(errors="replace")
    except OSError:
        return None


def zk_state(host: str, port: int) -> dict:
    reply = four_letter(host, port, "srvr")
    if reply is None:
        return {"mode": "down"}
    fields = dict(line.split(": ", 1) for line in reply.splitlines() if ": " in line)
    # Debian's build leaves a Maven placeholder in the version: '3.8.0-${mvngit.commit.id}'.
    version = re.sub(r"-\$\{[^}]*\}$", "", fields.get("Zookeeper version", "").split(",")[0])
    return {"mode": fields.get("Mode", "not-serving"), "version": version, "zxid": fields.get("Zxid", "")}


def http_get(url: str, auth: tuple[str, str] | None, ca_file: str | None) -> tuple[int, dict, dict]:
    """GET url without following redirects; returns (status, headers, JSON body or {})."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # noqa: D102 - keep 307s visible
            return None

    try:
        context = ssl.create_default_context(cafile=ca_file) if url.startswith("https") else None
    except OSError:  # the CA is not deployed (yet): report "no answer" rather than crash
        return 0, {}, {}
    opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(context=context))
    request = urllib.request.Request(url)
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with opener.open(request, timeout=TIMEOUT) as response:
            body = response.read()
            return response.status, dict(response.headers), json.loads(body) if body.strip() else {}
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers or {}), {}
    except (OSError, ValueError):
        return 0, {}, {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--zk", help="host:port of the local ZooKeeper member")
    parser.add_argument("--master", help="base URL of the local Mesos master")
    parser.add_argument("--agent", help="base URL of the local Mesos agent")
    parser.add_argument("--credentials", help="JSON file {principal, secret} for HTTP Basic auth")
    parser.add_argument("--ca-file")
    parser.add_argument("--package", help="Mesos package name: report its installed version")
    parser.add_argument("--zk-package", help="ZooKeeper package name: report its installed version")
    args = parser.parse_args()

    auth = None
    if args.credentials:
        try:
            with open(args.credentials, encoding="utf-8") as handle:
                cred = json.load(handle)
            auth = (cred["principal"], cred["secret"])
        except (OSError, ValueError, KeyError):
            auth = None  # not deployed (yet): the Mesos probes then show the refusal (HTTP 401)

    report: dict = {"system": subprocess.run(["systemctl", "is-system-running"], capture_output=True,
                                             text=True, check=False).stdout.strip()}
    mesos_package = package_info(args.package) if args.package else {}
    if args.zk:
        host, port = args.zk.rsplit(":", 1)
        unit = unit_state("zookeeper.service")
        report["zookeeper"] = {**zk_state(host, int(port)), "unit": unit}
        if args.zk_package:
            package = package_info(args.zk_package)
            report["zookeeper"].update(package=package["version"],
                                       restart_pending=restart_pending(unit, package))
    if args.master:
        status, headers, metrics = http_get(f"{args.master}/metrics/snapshot", auth, args.ca_file)
        redirect, rheaders, _ = http_get(f"{args.master}/redirect", None, args.ca_file)
        unit = unit_state("mesos-master.service")
        elected = int(metrics.get("master/elected", 0))
        # Only the elected master knows which agents are registered: an agent's own
        # slave/registered is 1 once it has detected a leader, before it registered.
        active_ids: list[str] = []
        if elected:
            _, _, slaves = http_get(f"{args.master}/master/slaves", auth, args.ca_file)
            active_ids = sorted(a.get("id", "") for a in slaves.get("slaves", []) if a.get("active"))
        report["mesos_master"] = {
            "http": status, "elected": elected, "agent_ids_active": active_ids,
            "leader": rheaders.get("Location", "").lstrip("/") if redirect == 307 else None,
            "agents_active": int(metrics.get("master/slaves_active", 0)),
            "recovered": int(metrics.get("registrar/log/recovered", 0)),
            "version": running_version(args.master, args.ca_file),
            "unit": unit, "restart_pending": restart_pending(unit, mesos_package)}
    if args.agent:
        status, _, metrics = http_get(f"{args.agent}/metrics/snapshot", auth, args.ca_file)
        _, _, state = http_get(f"{args.agent}/state", auth, args.ca_file)
        unit = unit_state("mesos-agent.service")
        report["mesos_agent"] = {
            "http": status, "detected": int(metrics.get("slave/registered", 0)),
            "id": state.get("id", ""), "version": running_version(args.agent, args.ca_file) or state.get("version", ""),
            "unit": unit, "restart_pending": restart_pending(unit, mesos_package)}
    if args.package:
        report["mesos_package"] = mesos_package["version"]
    print(json.dumps(report, sort_keys=True))


if __name__ == "__main__":
    main()
