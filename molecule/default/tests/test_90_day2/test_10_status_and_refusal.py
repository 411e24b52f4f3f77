"""The status report tells the truth, and the runbooks refuse an unhealthy cluster.

* playbooks/status.yml's JSON and table agree with what the cluster says by itself: the leading
  master (its /redirect), every ZooKeeper member's mode (srvr), each agent's id (/state), the
  installed package, and every unit's restart count (systemctl show NRestarts).
* With one ZooKeeper member stopped, the report says unhealthy and names it; the rolling
  restart, the rolling upgrade and the backup then stop in their first health gate and restart
  or copy nothing (every unit keeps its process); once the member is back the report is healthy
  again.
"""
from __future__ import annotations

import json
import time

from day2lib import REPORT_DIR, Day2, main_pids, package, package_versions, sh, version
from mesos_ha_testlib import mesos
from mesos_ha_testlib import zk as tzk

STATUS = "playbooks/status.yml"


def read_status(day2: Day2, name: str) -> tuple[dict, list[str]]:
    """Run the status report; its JSON file and the table it printed."""
    path = REPORT_DIR / f"status-{name}.json"
    run = day2.run(STATUS, extra={"status_report_file": str(path)})
    assert run.rc == 0, run.summary()
    table = next(t for t in run.tasks if t.name == "Status | Show the table").results["localhost"]["msg"]
    return json.loads(path.read_text(encoding="utf-8")), table


def test_status_report_matches_the_cluster(day2: Day2, baseline) -> None:
    report, table = read_status(day2, "baseline")
    masters = day2.hosts("mesos_masters")
    leader = mesos.find_leader(masters)
    assert report["healthy"] is True, report["problems"]
    assert report["mesos_leader"] == leader.host.name and report["mesos_leaders"] == [leader.host.name]
    modes = {h.name: tzk.srvr(h.address).mode for h in day2.hosts("zookeeper")}
    assert report["zookeeper"] == modes
    assert report["zookeeper_leader"] == next(h for h, m in modes.items() if m == "leader")
    ids = {h.name: mesos.get_json(h.address, mesos.AGENT_PORT, "/state")["id"] for h in day2.hosts("mesos_agents")}
    assert {h: a["id"] for h, a in report["agents"].items()} == ids
    assert report["agents_registered"] == report["agents_expected"] == len(day2.groups["mesos_agents"])
    versions = package_versions(day2)
    assert {h: v["mesos_package"] for h, v in report["versions"].items()} == versions
    for host, units in report["units"].items():
        for part, unit in units.items():
            name = {"zookeeper": "zookeeper", "mesos_master": "mesos-master", "mesos_agent": "mesos-agent"}[part]
            assert unit["restarts"] == int(sh(host, f"systemctl show -p NRestarts --value {name}")), (host, part)
            assert unit["state"] == "active" and unit["watchdog"] is True, (host, part, unit)
    # The table names the leader and every node, and ends with the verdict.
    assert any(line.startswith(leader.host.name) and "LEADER" in line for line in table), table
    assert table[-1] == "Healthy.", table


def test_runbooks_refuse_an_unhealthy_cluster(day2: Day2, baseline) -> None:
    follower = next(h.name for h in day2.hosts("zookeeper") if tzk.srvr(h.address).mode == "follower")
    sh(follower, "systemctl stop zookeeper")
    try:
        report, table = read_status(day2, "one-member-down")
        assert report["healthy"] is False
        assert any(follower in p and "ZooKeeper" in p for p in report["problems"]), report["problems"]
        assert table[-1].startswith("NOT HEALTHY") and follower in table[-1], table[-1]

        before = main_pids(day2)
        restart = day2.run("playbooks/rolling-restart.yml")
        upgrade = day2.run("playbooks/rolling-upgrade.yml", extra={"mesos_common_package_file": str(package("upgrade"))})
        backup = day2.run("playbooks/backup.yml", extra={"backup_root": str(day2.tmp / "refused-backups")})
        assert not (day2.tmp / "refused-backups").exists() or not any((day2.tmp / "refused-backups").iterdir())
        for run in (restart, upgrade, backup):
            assert run.rc != 0, run.summary()
            messages = " ".join(run.failure_messages())
            assert "The cluster is not healthy" in messages and follower in messages, run.summary()
            assert "-e force=true" in messages
            assert not [t.name for t in run.tasks if "Restart" in t.name and any(
                r.get("changed") for r in t.results.values())], run.summary()
        after = main_pids(day2)
        assert {k: v for k, v in after.items() if not k.startswith(f"{follower}/zookeeper")} == {
            k: v for k, v in before.items() if not k.startswith(f"{follower}/zookeeper")}, "a unit was restarted"
        assert set(package_versions(day2).values()) == {version("current")}, "the refused upgrade installed a package"
    finally:
        sh(follower, "systemctl start zookeeper")
    deadline = time.monotonic() + 60
    while tzk.srvr(day2.hosts("zookeeper")[0].address).mode not in ("leader", "follower") or \
            tzk.srvr(next(h.address for h in day2.hosts("zookeeper") if h.name == follower)).mode != "follower":
        assert time.monotonic() < deadline, f"{follower} did not rejoin"
        time.sleep(1)
    report, _ = read_status(day2, "member-back")
    assert report["healthy"] is True, report["problems"]
