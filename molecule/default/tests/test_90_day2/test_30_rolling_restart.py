"""playbooks/rolling-restart.yml under observation.

An observer polls every member every 150 ms while the runbook restarts the three ZooKeeper
members, the three masters and the two agents (one batch of two). The test fails unless:
* ZooKeeper never lacked a quorum, and the cluster never lacked an elected master, for longer
  than one leader handover (bounds from the live configuration: ZooKeeper re-election, and the
  old leader's session expiring plus registry recovery), with at most one Mesos handover;
* every unit really restarted (new main PIDs), the ZooKeeper and Mesos leaders went last;
* no agent changed its id, and a stand-in executor in mesos_executors.slice survived.
"""
from __future__ import annotations

import re

from day2lib import REPORT_DIR, Day2, check_continuity, main_pids, sh
from mesos_ha_testlib import continuity, mesos
from mesos_ha_testlib import zk as tzk

EXECUTOR = "day2-executor"


def restart_order(run: mesos.PlaybookRun) -> list[tuple[str, str, str]]:
    """(component, host, leader before) of each step, from the runbook's closing report."""
    report = next(t for t in run.tasks if t.name == "Rolling restart | Report what was restarted")
    lines = report.results["localhost"]["msg"]
    steps = []
    for line in lines:
        match = re.match(r"^(zookeeper|mesos_masters|mesos_agents)\s+\S+\s+(\S+)\s+[\d.]+s\s+\(leader before: (\S+),", line)
        if match:
            steps += [(match.group(1), host, match.group(3)) for host in match.group(2).split(",")]
    return steps


def test_rolling_restart_keeps_quorum_and_a_leader(day2: Day2, baseline) -> None:
    zk_leader = next(h.name for h in day2.hosts("zookeeper") if tzk.srvr(h.address).mode == "leader")
    mesos_leader = mesos.find_leader(day2.hosts("mesos_masters")).host.name
    ids = dict(baseline.baseline["agent_ids"])
    before = main_pids(day2)
    executor_host = day2.groups["mesos_agents"][0]
    sh(executor_host, f"systemctl reset-failed {EXECUTOR}.service 2>/dev/null; "
                f"systemd-run --unit={EXECUTOR} --slice=mesos_executors.slice sleep 100000")
    try:
        with continuity.watch(baseline.cluster, sink=REPORT_DIR / "samples-rolling-restart.jsonl") as seen:
            run = day2.run("playbooks/rolling-restart.yml", extra={"rolling_restart_agent_batch": 2})
        assert run.rc == 0, run.summary()
        check_continuity("rolling-restart", baseline, seen, max_handovers=1, expected_agent_ids=ids)

        after = main_pids(day2)
        same = [unit for unit, pid in after.items() if pid == before[unit] or pid == 0]
        assert not same, f"not restarted (same or no main PID): {same}"
        steps = restart_order(run)
        zk_steps = [h for c, h, _ in steps if c == "zookeeper"]
        master_steps = [h for c, h, _ in steps if c == "mesos_masters"]
        assert sorted(zk_steps) == sorted(day2.groups["zookeeper"]) and zk_steps[-1] == zk_leader, steps
        assert sorted(master_steps) == sorted(day2.groups["mesos_masters"]) and master_steps[-1] == mesos_leader, steps
        assert sorted(h for c, h, _ in steps if c == "mesos_agents") == sorted(day2.groups["mesos_agents"]), steps
        assert sh(executor_host, f"systemctl is-active {EXECUTOR}.service", check=False) == "active", (
            "the stand-in executor in mesos_executors.slice died with its agent")
    finally:
        sh(executor_host, f"systemctl stop {EXECUTOR}.service", check=False)
