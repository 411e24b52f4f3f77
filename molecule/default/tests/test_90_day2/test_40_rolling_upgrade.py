"""playbooks/rolling-upgrade.yml: the real package to a higher version (the same binaries
repackaged, day2lib.package), then to a broken build, then back.

* current -> upgrade under observation: the same continuity bounds as the rolling restart; every
  host ends with the new package and daemons started after it was installed (Mesos's /version
  says 1.11.0 for every build); masters followers first, the leader last.
* The same upgrade again changes nothing and restarts nothing (idempotent).
* broken is a package whose libmesos.so.0 is missing (its daemons fail to load it): the run stops
  at the first master, says where and what was left alone; every other host keeps the upgrade
  and its running daemons, and the cluster keeps its quorum and an elected master.
* Rolling back to the upgrade on that cluster needs -e force=true (the cluster is unhealthy) and
  -e mesos_common_allow_downgrade=true (an older package); it heals the cluster.
"""
from __future__ import annotations

from day2lib import REPORT_DIR, Day2, check_continuity, main_pids, package, package_versions, running_versions, sh, version
from mesos_ha_testlib import continuity, mesos
from mesos_ha_testlib import zk as tzk

UPGRADE = "playbooks/rolling-upgrade.yml"


def test_upgrade_keeps_quorum_and_a_leader(day2: Day2, baseline) -> None:
    assert set(package_versions(day2).values()) == {version("current")}
    leader = mesos.find_leader(day2.hosts("mesos_masters")).host.name
    ids = dict(baseline.baseline["agent_ids"])
    day2.package = package("upgrade")
    with continuity.watch(baseline.cluster, sink=REPORT_DIR / "samples-rolling-upgrade.jsonl") as seen:
        run = day2.run(UPGRADE, extra={"upgrade_agent_batch": 2})
    assert run.rc == 0, run.summary()
    check_continuity("rolling-upgrade", baseline, seen, max_handovers=1, expected_agent_ids=ids)
    assert set(package_versions(day2).values()) == {version("upgrade")}
    assert set(running_versions(day2).values()) == {version("upgrade")}, running_versions(day2)
    # Masters restart through the role's one restart step (roles/mesos_master/tasks/restart-master.yml).
    restarted = [t for t in run.tasks
                 if t.name.startswith("Upgrade host | Restart the daemon") or "Restart master | Restart the master on " in t.name]
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
    day2.package = package("broken")
    run = day2.run(UPGRADE)
    assert run.rc != 0, run.summary()
    messages = " ".join(run.failure_messages())
    stopped = next(h for h in day2.groups["mesos_masters"] if f"The upgrade stopped at mesos_master on {h}" in messages)
    assert stopped != leader, "the leader was upgraded before a follower"
    assert "Not touched" in messages and "force=true" in messages, messages
    versions = package_versions(day2)
    assert versions.pop(stopped) == version("broken")
    assert set(versions.values()) == {version("upgrade")}, f"hosts after {stopped} were touched: {versions}"
    after = main_pids(day2)
    untouched = {k: v for k, v in before.items() if not k.startswith(f"{stopped}/mesos-master")}
    assert {k: after[k] for k in untouched} == untouched, "a daemon after the failed host was restarted"
    # The two other masters still hold the registry's quorum and one of them leads.
    assert mesos.wait_for_leader([h for h in day2.hosts("mesos_masters") if h.name != stopped], timeout=60)
    assert tzk.has_quorum([tzk.srvr(h.address) for h in day2.hosts("zookeeper")], 3)
    assert "libmesos" in sh(stopped, "journalctl -u mesos-master --no-pager -n 50")


def test_rollback_needs_force_and_heals_the_cluster(day2: Day2) -> None:
    day2.package = package("upgrade")
    refused = day2.run(UPGRADE)
    assert refused.rc != 0 and "The cluster is not healthy" in " ".join(refused.failure_messages()), refused.summary()
    run = day2.run(UPGRADE, extra={"force": True, "mesos_common_allow_downgrade": True, "upgrade_agent_batch": 2})
    assert run.rc == 0, run.summary()
    assert set(package_versions(day2).values()) == {version("upgrade")}
    assert set(running_versions(day2).values()) == {version("upgrade")}
    day2.drill().establish_baseline()
