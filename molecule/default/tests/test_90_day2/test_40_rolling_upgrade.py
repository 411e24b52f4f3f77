"""playbooks/rolling-upgrade.yml: the Mesos double from 1.11.0-0.double1 to double2, then a
broken double3, then back.

* double1 -> double2 under observation: the same continuity bounds as the rolling restart; every
  host ends with the new package and daemons that run it (the master's and agent's /version
  name the package); masters followers first, the leader last.
* The same upgrade again changes nothing and restarts nothing (idempotent).
* double3 is a broken package (its binaries fail like a missing shared library): the run stops
  at the first master, says where and what was left alone; every other host keeps double2 and
  its running daemons, and the cluster keeps its quorum and an elected master.
* Rolling back to double2 on that cluster needs -e force=true (the cluster is unhealthy) and
  -e mesos_common_allow_downgrade=true (an older package); it heals the cluster.
"""
from __future__ import annotations

from day2lib import REPORT_DIR, Day2, check_continuity, main_pids, package, package_versions, sh
from mesos_ha_testlib import continuity, mesos
from mesos_ha_testlib import zk as tzk

UPGRADE = "playbooks/rolling-upgrade.yml"


def running_versions(day2: Day2) -> dict[str, str]:
    """'host/master|agent' -> the package version the running daemon reports (/version)."""
    found = {}
    for group, port, kind in (("mesos_masters", mesos.MASTER_PORT, "master"), ("mesos_agents", mesos.AGENT_PORT, "agent")):
        for host in day2.hosts(group):
            found[f"{host.name}/{kind}"] = mesos.get_json(host.address, port, "/version").get("mesos_double_package_version")
    return found


def test_upgrade_keeps_quorum_and_a_leader(day2: Day2, baseline) -> None:
    assert set(package_versions(day2).values()) == {"1.11.0-0.double1"}
    leader = mesos.find_leader(day2.hosts("mesos_masters")).host.name
    ids = dict(baseline.baseline["agent_ids"])
    day2.package = package("double2")
    with continuity.watch(baseline.cluster, sink=REPORT_DIR / "samples-rolling-upgrade.jsonl") as seen:
        run = day2.run(UPGRADE, extra={"upgrade_agent_batch": 2})
    assert run.rc == 0, run.summary()
    check_continuity("rolling-upgrade", baseline, seen, max_handovers=1, expected_agent_ids=ids)
    assert set(package_versions(day2).values()) == {"1.11.0-0.double2"}
    assert set(running_versions(day2).values()) == {"1.11.0-0.double2"}, running_versions(day2)
    restarted = [t for t in run.tasks if t.name.startswith("Upgrade host | Restart the daemon")]
    masters = [h for t in restarted for h, r in t.results.items() if r.get("changed") and t.play.startswith("Upgrade | Mesos masters")]
    assert sorted(masters) == sorted(day2.groups["mesos_masters"]) and masters[-1] == leader, masters


def test_upgrade_again_changes_nothing(day2: Day2, baseline) -> None:
    before = main_pids(day2)
    run = day2.run(UPGRADE, extra={"upgrade_agent_batch": 2})
    assert run.rc == 0, run.summary()
    assert not any(run.changed().values()), f"changed: {run.changed()}"
    assert main_pids(day2) == before, "a daemon was restarted"


def test_broken_package_stops_the_upgrade_at_the_first_host(day2: Day2, baseline) -> None:
    leader = mesos.find_leader(day2.hosts("mesos_masters")).host.name
    before = main_pids(day2)
    day2.package = package("double3")
    run = day2.run(UPGRADE)
    assert run.rc != 0, run.summary()
    messages = " ".join(run.failure_messages())
    stopped = next(h for h in day2.groups["mesos_masters"] if f"The upgrade stopped at mesos_master on {h}" in messages)
    assert stopped != leader, "the leader was upgraded before a follower"
    assert "Not touched" in messages and "force=true" in messages, messages
    versions = package_versions(day2)
    assert versions.pop(stopped) == "1.11.0-0.double3"
    assert set(versions.values()) == {"1.11.0-0.double2"}, f"hosts after {stopped} were touched: {versions}"
    after = main_pids(day2)
    untouched = {k: v for k, v in before.items() if not k.startswith(f"{stopped}/mesos-master")}
    assert {k: after[k] for k in untouched} == untouched, "a daemon after the failed host was restarted"
    # The two other masters still hold the registry's quorum and one of them leads.
    assert mesos.wait_for_leader([h for h in day2.hosts("mesos_masters") if h.name != stopped], timeout=60)
    assert tzk.has_quorum([tzk.srvr(h.address) for h in day2.hosts("zookeeper")], 3)
    assert "libmesos" in sh(stopped, "journalctl -u mesos-master --no-pager -n 50")


def test_rollback_needs_force_and_heals_the_cluster(day2: Day2) -> None:
    day2.package = package("double2")
    refused = day2.run(UPGRADE)
    assert refused.rc != 0 and "The cluster is not healthy" in " ".join(refused.failure_messages()), refused.summary()
    run = day2.run(UPGRADE, extra={"force": True, "mesos_common_allow_downgrade": True, "upgrade_agent_batch": 2})
    assert run.rc == 0, run.summary()
    assert set(package_versions(day2).values()) == {"1.11.0-0.double2"}
    assert set(running_versions(day2).values()) == {"1.11.0-0.double2"}
    day2.drill().establish_baseline()
