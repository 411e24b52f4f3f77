"""Leader loss: kill -9 the leader's JVM; a new leader serves within the derived bound, the old
leader comes back as a follower (Restart=always) and the data is intact."""
from __future__ import annotations

import time

from scenario import put, modes, report, wait_all_serving
from mesos_ha_testlib import hosts as th
from mesos_ha_testlib import zk


def n_restarts(member) -> int:
    out = th.run_in(member.container, "systemctl", "show", "zookeeper.service", "-p", "NRestarts").stdout
    return int(out.strip().split("=", 1)[1])


def read_everywhere(members, path: str) -> dict[str, bytes]:
    seen = {}
    for member in members:
        client = zk.kazoo_client([member.address])
        try:
            client.sync(path)
            seen[member.name] = client.get(path)[0]
        finally:
            client.stop()
            client.close()
    return seen


def test_leader_loss_is_survived(members, addresses, failover_bound_s):
    wait_all_serving(members)
    client = zk.kazoo_client(addresses)
    try:
        put(client, "/molecule/failover", b"before-failover")
    finally:
        client.stop()
        client.close()

    before = modes(members)
    leader = next(m for m in members if before[m.name] == "leader")
    others = [m for m in members if m is not leader]
    restarts = n_restarts(leader)

    th.run_in(leader.container, "systemctl", "kill", "--signal=SIGKILL", "zookeeper.service")
    killed_at = time.monotonic()
    # The killed member answers nothing now; the other two must elect a leader among themselves.
    took = zk.wait_for(lambda: zk.has_quorum([zk.srvr(m.address, timeout=0.5) for m in others], len(members)),
                       timeout=failover_bound_s + 30, interval=0.05)
    new_leader = next(m.name for m in others if zk.srvr(m.address).mode == "leader")
    report(f"leader failover: killed {leader.name}, {new_leader} leads after {took:.2f} s "
           f"(bound {failover_bound_s:.1f} s)")
    assert took <= failover_bound_s, f"new leader after {took:.2f} s, bound {failover_bound_s} s"

    back = zk.wait_for(lambda: zk.srvr(leader.address).mode == "follower", timeout=90, interval=0.2)
    report(f"leader failover: {leader.name} back as follower {time.monotonic() - killed_at:.1f} s after the kill "
           f"(waited {back:.1f} s)")
    assert n_restarts(leader) == restarts + 1
    wait_all_serving(members)
    assert set(read_everywhere(members, "/molecule/failover").values()) == {b"before-failover"}
    assert set(read_everywhere(members, "/molecule/replicated").values()) == \
        {b"written-through-" + members[0].name.encode()}
