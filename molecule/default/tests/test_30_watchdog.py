"""Watchdog supervision on the HA cluster: a hung, killed or unhealthy daemon is restarted by
systemd within its configured bounds, the agent keeps its id, a real task's executor outlives
the restart (same process, task still running), and a crash loop ends in start-limit-hit
instead of flapping.

Bounds come from the units themselves (systemctl show): restart within
WatchdogSec + RestartSec + MARGIN for a hang, RestartSec + MARGIN for a crash.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from mesos_ha_testlib import mesos

SCENARIO = os.environ.get("MOLECULE_SCENARIO_NAME", "default")
MARGIN = 5.0  # docker exec polling, process start-up and a loaded 2-core CI machine
TIMINGS: dict[str, float] = {}
PROBE_RULE = "mesos-ha-test-unhealthy-agent"


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


def wait_registered(masters, host: str, timeout: float = 90) -> str:
    """Wait until the elected master lists the agent as active; return its id."""
    return mesos.wait_registered(masters, host, timeout)


def task_processes(host: str, marker: str) -> list[tuple[int, int]]:
    """(pid, start time) of the task's processes and of their executor: the same pairs after a
    fault mean the very same processes lived through it."""
    pids = [int(p) for p in sh(host, f"pgrep -f -- '{marker}'", check=False).split()]
    executors = {int(p) for pid in pids for p in sh(host, f"ps -o ppid= -p {pid}", check=False).split()}
    return sorted(mesos.process_identity(container(host), pid) for pid in set(pids) | executors)


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


def test_hung_agent_is_restarted_and_keeps_its_id_and_executors(masters, framework) -> None:
    """A real task's executor and its process outlive the agent's watchdog restart (the unit's
    KillMode=process; the restarted agent recovers the executor from its checkpoints)."""
    agent_id = wait_registered(masters, "agent1")
    fw = framework()
    marker = f"mesos-ha-watchdog-{time.time_ns()}"
    task = fw.launch(f"sleep 100000 # {marker}", agent="agent1")
    fw.wait_for(task, "TASK_RUNNING", timeout=90)
    processes = task_processes("agent1", marker)
    assert len(processes) >= 2, f"task {task}: no task and executor processes found ({processes})"
    before = int(unit("agent1", "mesos-agent")["NRestarts"])
    bound = hang_bound("agent1", "mesos-agent")
    sh("agent1", f"kill -STOP {daemon_pid('agent1', 'mesos-agent')}")
    TIMINGS["agent_sigstop"] = elapsed = wait_for_restart("agent1", "mesos-agent", before, bound)
    assert elapsed <= bound, f"hung agent restarted after {elapsed:.1f}s, bound {bound:.1f}s"
    assert "watchdog" in sh("agent1", "journalctl -u mesos-agent --no-pager -n 80 | grep -i 'watchdog' | tail -3")
    assert wait_registered(masters, "agent1") == agent_id, "the agent came back with a different id"
    assert task_processes("agent1", marker) == processes, "the task's executor did not survive the restart"
    assert fw.states(task) == ["TASK_STARTING", "TASK_RUNNING"], f"task {task}: {fw.states(task)}"
    tasks = mesos.get_json(mesos.find_leader(masters).host.address, mesos.MASTER_PORT, "/master/tasks")["tasks"]
    assert [t["state"] for t in tasks if t["id"] == task] == ["TASK_RUNNING"], "the leader does not see the task running"


def test_killed_agent_is_restarted(masters) -> None:
    wait_registered(masters, "agent2")
    props = unit("agent2", "mesos-agent")
    before, bound = int(props["NRestarts"]), seconds(props["RestartUSec"]) + MARGIN
    sh("agent2", f"kill -KILL {daemon_pid('agent2', 'mesos-agent')}")
    TIMINGS["agent_sigkill"] = elapsed = wait_for_restart("agent2", "mesos-agent", before, bound)
    assert elapsed <= bound, f"killed agent restarted after {elapsed:.1f}s, bound {bound:.1f}s"
    wait_registered(masters, "agent2")


def test_unhealthy_agent_with_live_process_is_restarted(masters) -> None:
    """The agent process is alive and serves the masters, but its own host's health probe gets
    no answer (a local firewall rule drops it): the watchdog restarts it."""
    wait_registered(masters, "agent2")
    # systemd arms WatchdogSec only once start-up is complete (READY=1): a fault injected while the
    # unit is still "activating" is TimeoutStartSec's business, not the watchdog's.
    wait_active("agent2", "mesos-agent")
    before = int(unit("agent2", "mesos-agent")["NRestarts"])
    pid = daemon_pid("agent2", "mesos-agent")
    bound = hang_bound("agent2", "mesos-agent")
    # The supervisor probes https://<agent ip>:5051/health from the host itself, over lo.
    sh("agent2", f"nft insert rule inet mesos_ha input iif lo tcp dport 5051 drop comment '\"{PROBE_RULE}\"'")
    try:
        TIMINGS["agent_unhealthy"] = elapsed = wait_for_restart("agent2", "mesos-agent", before, bound)
    finally:
        handles = re.findall(rf'comment "{PROBE_RULE}" # handle (\d+)',
                             sh("agent2", "nft -a list chain inet mesos_ha input"))
        for handle in handles:
            sh("agent2", f"nft delete rule inet mesos_ha input handle {handle}")
    assert elapsed <= bound, f"unhealthy agent restarted after {elapsed:.1f}s, bound {bound:.1f}s"
    assert sh("agent2", f"test -d /proc/{pid} && echo alive || echo gone") == "gone"
    wait_active("agent2", "mesos-agent")
    wait_registered(masters, "agent2")


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


def test_crash_loop_ends_in_start_limit_hit(masters) -> None:
    host = "agent2"
    agent_id = wait_registered(masters, host)
    dropin = "/run/systemd/system/mesos-agent.service.d"
    # A modules file that does not exist: the agent exits 1 while it parses its flags, every start.
    sh(host, f"mkdir -p {dropin} && printf '[Service]\\nEnvironment=MESOS_MODULES=file:///nonexistent-mesos-ha.json\\n' > {dropin}/crash.conf"
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
    assert wait_registered(masters, host) == agent_id
