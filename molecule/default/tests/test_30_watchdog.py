"""Watchdog supervision on the HA cluster: a hung, killed or unhealthy daemon is restarted by
systemd within its configured bounds, the agent keeps its id, executors outlive the restart,
and a crash loop ends in start-limit-hit instead of flapping.

Bounds come from the units themselves (systemctl show): restart within
WatchdogSec + RestartSec + MARGIN for a hang, RestartSec + MARGIN for a crash.
"""
from __future__ import annotations

import http.client
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from mesos_ha_testlib import mesos

SCENARIO = os.environ.get("MOLECULE_SCENARIO_NAME", "default")
MARGIN = 5.0  # docker exec polling, process start-up and a loaded 2-core CI machine
TIMINGS: dict[str, float] = {}


def container(host: str) -> str:
    return f"{SCENARIO}-{host}"


def sh(host: str, command: str, check: bool = True, timeout: float = 60) -> str:
    """Run a shell command in a scenario host; return its stdout."""
    result = subprocess.run(["docker", "exec", container(host), "bash", "-c", command],
                            capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"{host}: '{command}' failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout.strip()


def unit(host: str, name: str) -> dict[str, str]:
    out = sh(host, f"systemctl show {name} -p NRestarts,ActiveState,SubState,Result,MainPID,WatchdogUSec,RestartUSec")
    return dict(line.split("=", 1) for line in out.splitlines())


def seconds(value: str) -> float:
    """systemd's '20s', '5s', '1min 30s', '500ms' -> seconds."""
    total = 0.0
    for part in value.split():
        for suffix, factor in (("min", 60.0), ("ms", 0.001), ("s", 1.0)):
            if part.endswith(suffix):
                total += float(part[: -len(suffix)]) * factor
                break
    return total


def daemon_pid(host: str, name: str) -> int:
    """The supervised daemon: the main process's (ha-supervisor's) only child."""
    main = unit(host, name)["MainPID"]
    return int(sh(host, f"pgrep -P {main} | head -1"))


def wait_for_restart(host: str, name: str, before: int, bound: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < bound + 10:
        if int(unit(host, name)["NRestarts"]) > before:
            return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError(f"{host}: {name} was not restarted within {bound + 10:.0f}s")


def wait_active(host: str, name: str, timeout: float = 60) -> None:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if unit(host, name)["ActiveState"] == "active":
            return
        time.sleep(0.5)
    raise AssertionError(f"{host}: {name} did not become active again within {timeout:.0f}s")


def agent_get(host: str, path: str) -> dict:
    """GET the agent's endpoint from the controller (https and the operator's credential when
    the scenario enables them, see conftest); {} without a 200 JSON answer."""
    ip = sh(host, "hostname -I").split()[0]
    try:
        resp = mesos.http_get(ip, mesos.AGENT_PORT, path, timeout=3)
        return resp.json() if resp.status == 200 else {}
    except (OSError, http.client.HTTPException, ValueError):
        return {}


def agent_state(host: str) -> dict:
    return agent_get(host, "/state")


def wait_registered(host: str, timeout: float = 90) -> str:
    """Wait until the agent is registered; return its id."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if agent_get(host, "/metrics/snapshot").get("slave/registered") == 1:
            return agent_state(host).get("id", "")
        time.sleep(1)
    raise AssertionError(f"{host}: the agent did not re-register within {timeout:.0f}s")


def limit_hit(host: str, since: str) -> bool:
    return "Start request repeated too quickly" in sh(
        host, f"journalctl -u mesos-agent --since '{since}' --no-pager | grep -F 'repeated too quickly'", check=False)


def hang_bound(host: str, name: str) -> float:
    props = unit(host, name)
    return seconds(props["WatchdogUSec"]) + seconds(props["RestartUSec"]) + MARGIN


@pytest.fixture(scope="module", autouse=True)
def report_timings():
    """Keep the measured times: printed with -s, and in reports/watchdog/timings.json."""
    yield
    report = Path(__file__).resolve().parents[3] / "reports" / "watchdog"
    report.mkdir(parents=True, exist_ok=True)
    (report / "timings.json").write_text(json.dumps({k: round(v, 1) for k, v in TIMINGS.items()}, indent=2) + "\n")
    print("\nwatchdog fault-to-restart times (s):", json.dumps(TIMINGS, sort_keys=True))


def test_units_are_supervised() -> None:
    """hardening.md 7.30: every unit is a notify unit watched by systemd, restarted always, and its
    restarts are rate-limited (the role defaults: 5 starts in 120 s)."""
    for host, name in (("agent1", "mesos-agent"), ("node1", "mesos-master"), ("node1", "zookeeper")):
        out = sh(host, f"systemctl show {name} -p Type,NotifyAccess,WatchdogUSec,Restart,StartLimitBurst,StartLimitIntervalUSec")
        props = dict(line.split("=", 1) for line in out.splitlines())
        assert (props["Type"], props["NotifyAccess"], props["Restart"]) == ("notify", "main", "always"), (host, name, props)
        assert seconds(props["WatchdogUSec"]) > 0, f"{host}: {name} has no WatchdogSec"
        assert props["StartLimitBurst"] == "5" and seconds(props["StartLimitIntervalUSec"]) == 120, (host, name, props)


def test_hung_agent_is_restarted_and_keeps_its_id_and_executors() -> None:
    agent_id = wait_registered("agent1")
    # A stand-in executor where --systemd_enable_support puts real ones: outside the agent's unit.
    sh("agent1", "systemctl reset-failed fake-executor.service 2>/dev/null; "
                 "systemd-run --unit=fake-executor --slice=mesos_executors.slice sleep 100000")
    before = int(unit("agent1", "mesos-agent")["NRestarts"])
    bound = hang_bound("agent1", "mesos-agent")
    sh("agent1", f"kill -STOP {daemon_pid('agent1', 'mesos-agent')}")
    TIMINGS["agent_sigstop"] = elapsed = wait_for_restart("agent1", "mesos-agent", before, bound)
    assert elapsed <= bound, f"hung agent restarted after {elapsed:.1f}s, bound {bound:.1f}s"
    assert "watchdog" in sh("agent1", "journalctl -u mesos-agent --no-pager -n 80 | grep -i 'watchdog' | tail -3")
    assert wait_registered("agent1") == agent_id, "the agent came back with a different id"
    assert sh("agent1", "systemctl is-active fake-executor.service", check=False) == "active", (
        "the stand-in executor in mesos_executors.slice died with the agent")
    sh("agent1", "systemctl stop fake-executor.service")


def test_killed_agent_is_restarted() -> None:
    wait_registered("agent2")
    props = unit("agent2", "mesos-agent")
    before, bound = int(props["NRestarts"]), seconds(props["RestartUSec"]) + MARGIN
    sh("agent2", f"kill -KILL {daemon_pid('agent2', 'mesos-agent')}")
    TIMINGS["agent_sigkill"] = elapsed = wait_for_restart("agent2", "mesos-agent", before, bound)
    assert elapsed <= bound, f"killed agent restarted after {elapsed:.1f}s, bound {bound:.1f}s"
    wait_registered("agent2")


def test_unhealthy_agent_with_live_process_is_restarted() -> None:
    wait_registered("agent2")
    # systemd arms WatchdogSec only once start-up is complete (READY=1): a fault injected while the
    # unit is still "activating" is TimeoutStartSec's business, not the watchdog's.
    wait_active("agent2", "mesos-agent")
    before = int(unit("agent2", "mesos-agent")["NRestarts"])
    pid = daemon_pid("agent2", "mesos-agent")
    bound = hang_bound("agent2", "mesos-agent")
    # The double's fault hook: /health answers 503 while the process stays alive.
    sh("agent2", "mkdir -p /run/mesos-double && echo fail > /run/mesos-double/agent-5051.health")
    try:
        TIMINGS["agent_unhealthy"] = elapsed = wait_for_restart("agent2", "mesos-agent", before, bound)
    finally:
        sh("agent2", "rm -f /run/mesos-double/agent-5051.health")
    assert elapsed <= bound, f"unhealthy agent restarted after {elapsed:.1f}s, bound {bound:.1f}s"
    assert sh("agent2", f"test -d /proc/{pid} && echo alive || echo gone") == "gone"
    wait_active("agent2", "mesos-agent")
    wait_registered("agent2")


def test_hung_master_is_restarted() -> None:
    host = "node3"
    before = int(unit(host, "mesos-master")["NRestarts"])
    bound = hang_bound(host, "mesos-master")
    sh(host, f"kill -STOP {daemon_pid(host, 'mesos-master')}")
    TIMINGS["master_sigstop"] = elapsed = wait_for_restart(host, "mesos-master", before, bound)
    assert elapsed <= bound, f"hung master restarted after {elapsed:.1f}s, bound {bound:.1f}s"
    wait_active(host, "mesos-master", timeout=120)


def test_hung_zookeeper_member_is_restarted() -> None:
    modes = {h: sh(h, "/usr/local/sbin/zookeeper-check mode --port 2181", check=False) for h in ("node1", "node2", "node3")}
    host = next(h for h, mode in sorted(modes.items()) if mode == "follower")
    before = int(unit(host, "zookeeper")["NRestarts"])
    bound = hang_bound(host, "zookeeper")
    sh(host, f"kill -STOP {daemon_pid(host, 'zookeeper')}")
    TIMINGS["zookeeper_sigstop"] = elapsed = wait_for_restart(host, "zookeeper", before, bound)
    assert elapsed <= bound, f"hung ZooKeeper member restarted after {elapsed:.1f}s, bound {bound:.1f}s"
    wait_active(host, "zookeeper", timeout=120)
    assert sh(host, "/usr/local/sbin/zookeeper-check mode --port 2181") in ("leader", "follower")


def test_crash_loop_ends_in_start_limit_hit() -> None:
    host = "agent2"
    agent_id = wait_registered(host)
    dropin = "/run/systemd/system/mesos-agent.service.d"
    sh(host, f"mkdir -p {dropin} && printf '[Service]\\nEnvironment=MESOS_DOUBLE_CRASH_AT_START=1\\n' > {dropin}/crash.conf"
             " && systemctl daemon-reload && systemctl restart mesos-agent --no-block")
    try:
        since = sh(host, "date '+%Y-%m-%d %H:%M:%S'")
        start = time.monotonic()
        props = unit(host, "mesos-agent")
        # systemd 252 logs an automatic restart refused by the start limit as "Start request
        # repeated too quickly" and keeps the last failure's Result (exit-code) rather than
        # start-limit-hit, so the journal line is what proves the limit stopped the loop.
        while time.monotonic() - start < 180 and not (props["ActiveState"] == "failed" and limit_hit(host, since)):
            time.sleep(1)
            props = unit(host, "mesos-agent")
        assert props["ActiveState"] == "failed" and limit_hit(host, since), props
        TIMINGS["crash_loop_to_start_limit_hit"] = time.monotonic() - start
        restarts = props["NRestarts"]
        time.sleep(8)  # longer than RestartSec: a flapping unit would have restarted again
        props = unit(host, "mesos-agent")
        assert props["ActiveState"] == "failed" and props["NRestarts"] == restarts, props
        assert "MESOS-HA-UNIT-FAILED unit=mesos-agent.service" in sh(host, f"journalctl -t mesos-ha --since '{since}' --no-pager")
    finally:
        sh(host, f"rm -rf {dropin} && systemctl daemon-reload && systemctl reset-failed mesos-agent && systemctl start mesos-agent")
    assert wait_registered(host) == agent_id
