"""playbooks/replace-node.yml: node3 (ZooKeeper member 3 and a master) dies and node4 takes its
place, under observation.

* While node3 still answers, the runbook refuses (two members with one id would be worse than
  the outage) and changes nothing.
* node3's container is stopped for good (the failed host). With node4 in its groups, the runbook
  brings node4 in: it takes ZooKeeper id 3, serves as one of the three members, its master's
  empty log replica catches up; the survivors move to the new server list.
  The ZooKeeper quorum (two of three) and an elected master are never lost for longer than one
  handover, and the other agents keep their ids.
"""
from __future__ import annotations

import subprocess
import time

from day2lib import REPORT_DIR, SCENARIO, Day2, check_continuity, sh
from mesos_ha_testlib import continuity, mesos
from mesos_ha_testlib import hosts as th
from mesos_ha_testlib import zk as tzk

REPLACE = "playbooks/replace-node.yml"


def replaced(groups: dict[str, list[str]]) -> dict[str, list[str]]:
    return {g: sorted(["node4" if h == "node3" else h for h in members]) for g, members in groups.items()}


def test_replace_refuses_while_the_old_host_answers(day2: Day2) -> None:
    old = th.container_address(th.container_for("node3", SCENARIO), f"mesos-ha-{SCENARIO}")
    run = day2.run(REPLACE, extra={"replace_node_new": "node4", "replace_node_old": old}, groups=replaced(day2.groups))
    assert run.rc != 0, run.summary()
    assert any("still answers" in m and old in m for m in run.failure_messages()), run.summary()
    assert not any(run.changed().values()), run.changed()
    assert sh("node4", "systemctl is-active zookeeper mesos-master", check=False).split() == ["inactive", "inactive"]


def test_replace_a_dead_member_with_a_new_host(day2: Day2, baseline) -> None:
    timing = baseline  # the live configuration's bounds, read while node3 still runs
    old = th.container_address(th.container_for("node3", SCENARIO), f"mesos-ha-{SCENARIO}")
    subprocess.run(["docker", "stop", "-t", "1", th.container_for("node3", SCENARIO)], check=True,
                   capture_output=True, timeout=120)
    stopped_at = time.monotonic()
    groups = replaced(day2.groups)
    watched = day2.cluster(groups)
    # Wait out the failure itself before observing the runbook: a master whose ZooKeeper session
    # ran through node3's member may only lose it (and its leadership) a session timeout later,
    # when it could not reconnect in time. One handover's bound after the stop, that is over.
    settle_s = continuity.handover_bounds(timing.timing, timing.scale)["no_elected_master"][0]
    time.sleep(max(0.0, stopped_at + settle_s - time.monotonic()))
    mesos.wait_for_leader([h for h in day2.hosts("mesos_masters", groups) if h.name != "node4"], timeout=90)
    ids = {n.name: mesos.get_json(n.address, mesos.AGENT_PORT, "/state")["id"]
           for n in watched.agents if n.name != "node4"}
    # One probe per target per second: this run is long, its gaps are bounded at 10 s and more.
    with continuity.watch(watched, sink=REPORT_DIR / "samples-replace-node.jsonl", interval=1.0) as seen:
        run = day2.run(REPLACE, extra={"replace_node_new": "node4", "replace_node_old": old}, groups=groups)
    assert run.rc == 0, run.summary()
    check_continuity("replace-node", timing, seen, max_handovers=1, expected_agent_ids=ids)
    day2.groups = groups

    assert sh("node4", "cat /var/lib/zookeeper/myid") == "3"
    node4 = next(h for h in day2.hosts("zookeeper") if h.name == "node4")
    assert tzk.srvr(node4.address).mode in ("leader", "follower")
    deadline = time.monotonic() + 60
    while mesos.metrics_snapshot(node4.address).get("registrar/log/recovered") != 1:
        assert time.monotonic() < deadline, "node4's log replica did not catch up"
        time.sleep(1)
    for host in day2.groups["zookeeper"]:
        assert "server.3=node4:" in sh(host, "grep '^server.3=' /etc/zookeeper/conf/zoo.cfg"), host
    check = day2.drill().establish_baseline()
    assert check["agent_ids"] == ids, f"the agents changed: {check['agent_ids']} (expected {ids})"
