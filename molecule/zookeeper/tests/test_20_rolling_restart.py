"""A configuration change on a running ensemble: one member at a time, the leader last, and the
ensemble never without quorum for longer than one leader election."""
from __future__ import annotations

import os
import subprocess
import time

from scenario import PROJECT, modes, report, wait_all_serving, zoo_cfg
from mesos_ha_testlib import hosts as th
from mesos_ha_testlib import zk


def active_enter_monotonic(member) -> int:
    out = th.run_in(member.container, "systemctl", "show", "zookeeper.service", "-p",
                    "ActiveEnterTimestampMonotonic").stdout
    return int(out.strip().split("=", 1)[1])


def converge(extra: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    inventory = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "inventory")
    argv = ["ansible-playbook", "-i", inventory, str(PROJECT / "playbooks" / "zookeeper.yml")]
    for key, value in extra.items():
        argv += ["-e", f"{key}={value}"]
    return subprocess.run(argv, cwd=PROJECT, capture_output=True, text=True, timeout=timeout, check=False)


def test_config_change_restarts_one_member_at_a_time_leader_last(members, addresses, failover_bound_s):
    wait_all_serving(members)
    before = modes(members)
    leader = next(name for name, mode in before.items() if mode == "leader")
    started = {m.name: active_enter_monotonic(m) for m in members}
    new_value = int(zoo_cfg(members[0].container)["maxClientCnxns"]) + 1

    t0 = time.monotonic()
    with zk.QuorumProbe(addresses, interval=0.1) as probe:
        result = converge({"zookeeper_max_client_cnxns": new_value})
        wait_all_serving(members)
    took = time.monotonic() - t0
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]

    for member in members:
        assert zoo_cfg(member.container)["maxClientCnxns"] == str(new_value), member.name
    restarted = {m.name: active_enter_monotonic(m) for m in members}
    assert all(restarted[n] > started[n] for n in started), "every member must have been restarted"
    order = sorted(restarted, key=restarted.get)
    assert order[-1] == leader, f"restart order {order}; the leader ({leader}) must be last"
    # One at a time: each start is at least a JVM start apart (the handler waits for srvr).
    gaps = [(restarted[b] - restarted[a]) / 1e6 for a, b in zip(order, order[1:])]
    assert all(gap > 1.0 for gap in gaps), f"restarts overlapped: gaps {gaps} s"

    report(f"rolling restart: order {order} (leader before: {leader}), gaps {[round(g, 1) for g in gaps]} s, "
           f"converge {took:.1f} s, {probe.polls} quorum polls, outages "
           f"{[round(e - s, 2) for s, e in probe.outages]} s (modes then {probe.outage_modes}), "
           f"longest {probe.longest_outage:.2f} s "
           f"(bound {failover_bound_s:.1f} s)")
    assert probe.polls > 10, "the quorum probe did not run"
    assert probe.longest_outage <= failover_bound_s, \
        f"no quorum for {probe.longest_outage:.2f} s, longer than one election ({failover_bound_s} s)"
    assert sorted(modes(members).values()) == ["follower", "follower", "leader"]
