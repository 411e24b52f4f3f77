"""playbooks/scale.yml: ZooKeeper grows from three members to five (zk4, zk5), and agent2 gets
its agent again, in one run, under observation.

Judged against the five-member ensemble (three must serve): the two new members join the
running ensemble before any old member restarts, so the quorum is never lost for longer than
one ZooKeeper election, and the masters keep (or hand over once) their leader while they are
restarted onto the five-member ZooKeeper list. Afterwards: five members with stable ids 1..5 and one leader,
every zoo.cfg and every /etc/mesos/zk lists all five, agent2's agent is registered (with a new
id: it was marked gone), the others kept theirs. Adding masters is refused.
"""
from __future__ import annotations

from day2lib import REPORT_DIR, Day2, check_continuity, main_pids, sh
from mesos_ha_testlib import continuity
from mesos_ha_testlib import zk as tzk

SCALE = "playbooks/scale.yml"


def test_scale_refuses_new_masters(day2: Day2) -> None:
    # Five masters pass the inventory checks (an odd number); scale.yml itself refuses them.
    groups = {**day2.groups, "mesos_masters": day2.groups["mesos_masters"] + ["zk4", "zk5"]}
    run = day2.run(SCALE, extra={"scale_new_hosts": ["zk4", "zk5"]}, groups=groups)
    assert run.rc != 0, run.summary()
    assert any("masters are not added by scale.yml" in m for m in run.failure_messages()), run.summary()
    assert not any(run.changed().values()), run.changed()
    assert run.failed_tasks[0].name == "Scale | Refuse new masters", run.summary()
    for host in ("zk4", "zk5"):
        assert sh(host, "systemctl is-active mesos-master zookeeper", check=False).split() == ["inactive", "inactive"]


def test_grow_zookeeper_to_five_and_add_an_agent(day2: Day2, baseline) -> None:
    ids = dict(baseline.baseline["agent_ids"])
    before = {unit: pid for unit, pid in main_pids(day2).items() if "zookeeper" not in unit}
    grown = {"zookeeper": day2.groups["zookeeper"] + ["zk4", "zk5"],
             "mesos_masters": list(day2.groups["mesos_masters"]),
             "mesos_agents": sorted(day2.groups["mesos_agents"] + ["agent2"])}
    # One probe per target per second: this run is long, its gaps are bounded at 10 s and more.
    with continuity.watch(day2.cluster(grown), sink=REPORT_DIR / "samples-grow-zookeeper.jsonl", interval=1.0) as seen:
        run = day2.run(SCALE, extra={"scale_new_hosts": ["zk4", "zk5", "agent2"]}, groups=grown)
    assert run.rc == 0, run.summary()
    check_continuity("grow-zookeeper", baseline, seen, max_handovers=1, expected_agent_ids=ids)
    day2.groups = grown

    modes = {h.name: tzk.srvr(h.address).mode for h in day2.hosts("zookeeper")}
    assert sorted(modes.values()) == ["follower"] * 4 + ["leader"], modes
    myids = {h: sh(h, "cat /var/lib/zookeeper/myid") for h in day2.groups["zookeeper"]}
    # node4 took over node3's id 3 (test_70); the new members get the next free ones.
    assert myids == {"node1": "1", "node2": "2", "node4": "3", "zk4": "4", "zk5": "5"}, myids
    for host in day2.groups["zookeeper"]:
        servers = sh(host, "grep -c '^server\\.' /etc/zookeeper/conf/zoo.cfg")
        assert servers == "5", f"{host}'s zoo.cfg lists {servers} servers"
    for host in day2.groups["mesos_masters"]:
        url = sh(host, "cat /etc/mesos/zk")
        assert all(f"{h}:2181" in url for h in day2.groups["zookeeper"]), f"{host}: {url.split('@')[-1]}"
    # Mesos reads /etc/mesos/zk at start-up only: every master and agent that ran before must
    # have been restarted (in its rolling turn) to use the five members.
    after = main_pids(day2)
    stale = [unit for unit, pid in before.items() if pid and after.get(unit) == pid]
    assert not stale, f"still running with the three-member ZooKeeper list (same main PID): {stale}"
    check = day2.drill().establish_baseline()
    assert {h: i for h, i in check["agent_ids"].items() if h != "agent2"} == ids
    assert check["agent_ids"]["agent2"] and check["agent_ids"]["agent2"] not in ids.values()
