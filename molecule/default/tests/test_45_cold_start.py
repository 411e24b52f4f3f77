"""A cold start in another order: every host of the scenario stopped (as in a power cut or a
reboot of the machine), then started again in reverse order. The containers keep their
addresses (fixed per container, molecule/shared/tasks/containers.yml; from Docker's pool they
would follow the start order and swap), and the cluster comes back by itself, without any
Ansible run: ZooKeeper with a quorum and one leader, one elected master with a recovered
registry that every master names, and both agents registered with the ids they had.
"""
from __future__ import annotations

import subprocess
import time

from mesos_ha_testlib import hosts as th
from mesos_ha_testlib import mesos
from mesos_ha_testlib import zk as tzk

RECOVERY_S = 300.0  # systemd boot, JVMs, elections and registrations on a loaded 2-core machine


def docker(*argv: str, timeout: float = 120) -> str:
    done = subprocess.run(["docker", *argv], capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"docker {' '.join(argv)}: {done.stderr.strip()}"
    return done.stdout


def test_cluster_comes_back_after_a_reverse_order_cold_start(masters, agents, zk_addresses):
    scenario = mesos.scenario_name()
    names = sorted(th.inventory_groups(str(mesos.inventory_file()))["all"])
    containers = [th.container_for(name, scenario) for name in names]
    network = f"mesos-ha-{scenario}"
    addresses = {c: th.container_address(c, network) for c in containers}
    ids_before = mesos.registered_agents(masters)
    assert sorted(ids_before) == sorted(a.name for a in agents), ids_before

    docker("stop", "-t", "30", *containers, timeout=300)
    for container in reversed(containers):
        docker("start", container)
    started = time.monotonic()

    assert {c: th.container_address(c, network) for c in containers} == addresses, "a host's address changed"
    last: object = None
    while time.monotonic() - started < RECOVERY_S:
        try:
            modes = [tzk.srvr(address) for address in zk_addresses]
            ids_after = mesos.registered_agents(masters)
            if tzk.has_quorum(modes, len(zk_addresses)) and ids_after == ids_before:
                break
            last = (modes, ids_after)
        except (LookupError, OSError, AssertionError) as exc:
            last = exc
        time.sleep(2)
    else:
        raise AssertionError(f"the cluster did not come back within {RECOVERY_S:.0f}s of the cold start: {last}")
    recovered = time.monotonic() - started
    leader = mesos.find_leader(masters)
    snapshot = mesos.metrics_snapshot(leader.host.address)
    assert snapshot["registrar/log/recovered"] == 1, snapshot
    print(f"\ncold start in reverse order: cluster back {recovered:.1f}s after the last start; leader {leader.host.name}")
