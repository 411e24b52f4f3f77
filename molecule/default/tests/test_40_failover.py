"""Failover drill on the provisioned 5-node cluster: one fault at a time, then recovery.

Faults, in order (each starts from, and must return to, the verified baseline):
leader_kill, leader_stop, leader_hang, leader_partition, zk_leader_kill, zk_quorum_loss,
agent_hang. An observer thread per master, agent and ZooKeeper member polls every <= 200 ms
during each fault; the engine (playbooks/files/failover_drill.py, shared with the runbook
playbooks/failover-drill.yml) turns the samples into a timeline and checks:

* bounds derived from the live configuration (zoo.cfg, the masters' and agents' /flags, the
  units' WatchdogSec/RestartSec), each with a stated margin (docs/failover.md);
* invariants: never two elected masters at once (a master that cannot answer - hung or
  partitioned - is not counted), agent ids never change, znodes and registry survive, and the
  cluster is back at its baseline with every unit active after each fault.

FAILOVER_BOUND_SCALE=0.1 multiplies every bound by 0.1: the faults then FAIL on their bounds,
which proves the bounds are enforced. The report (JSON + table) goes to reports/failover/.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY")
                            or Path(__file__).resolve().parents[3]) / "tests" / "lib"))

from mesos_ha_testlib import failover, mesos  # noqa: E402  (path set up above)

engine = failover.engine


@pytest.fixture(scope="module")
def drill(request: pytest.FixtureRequest, masters: list[mesos.Host], agents: list[mesos.Host]
          ) -> Iterator[failover.Drill]:
    """The drill for this scenario's cluster; writes the report at the end and prints its table
    (past pytest's capture, so `molecule verify` shows it too)."""
    zookeepers = mesos.group_hosts("zookeeper")
    assert len(zookeepers) == 3, f"expected 3 ZooKeeper members, found {zookeepers}"
    run = failover.make_drill(masters, agents, zookeepers)
    run.establish_baseline()
    yield run
    if run.results:
        paths = run.write_report()
        text = Path(paths["txt"]).read_text(encoding="utf-8")
        capture = request.config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled():
            print(f"\n\nFAILOVER REPORT ({paths['json']})\n{text}", flush=True)


def test_split_brain_detector_flags_overlapping_leaders() -> None:
    """The invariant check itself can fail: two overlapping elected runs are reported, a clean
    handover (even with request latency) and an unanswered master are not."""
    cluster = engine.Cluster([engine.Node(n, f"10.0.0.{i}") for i, n in enumerate(("a", "b", "c"), 1)], [], [])

    def run(node: str, start: float, end: float, ok: bool = True, elected: bool = True) -> list:
        return [engine.Sample("master", node, t, t + 0.15, ok, elected=elected)
                for t in [start + 0.2 * k for k in range(int((end - start) / 0.2) + 1)]]

    overlap = run("a", 0.0, 5.0) + run("b", 4.0, 9.0)
    assert engine.split_brain(cluster, overlap), "two masters elected during [4, 5] were not reported"
    handover = run("a", 0.0, 5.0) + run("a", 5.2, 7.0, ok=False) + run("b", 5.1, 9.0)
    assert engine.split_brain(cluster, handover) == []
    hung = run("a", 0.0, 5.0) + run("a", 5.2, 20.0, ok=False) + run("b", 15.0, 20.0)
    assert engine.split_brain(cluster, hung) == []
    single = run("a", 0.0, 5.0) + [engine.Sample("master", "b", 2.0, 2.1, True, elected=True)]
    assert engine.split_brain(cluster, single), "a lone elected answer inside another's run was not reported"


def test_bounds_are_derived_from_the_live_configuration(drill: failover.Drill) -> None:
    """The timing comes from the hosts, and each bound is the documented formula (x scale)."""
    t = drill.timing
    assert t.tick_s > 0 and t.init_limit > 0 and t.sync_limit > 0, t
    assert t.zk_session_timeout_s > 0 and t.master_watchdog_s > 0 and t.master_restart_s > 0, t
    assert (t.sync_limit + t.init_limit) * t.tick_s < t.zk_session_timeout_s, (
        "a ZooKeeper leader change could outlast the masters' session timeout")
    bounds = engine.bounds(t, drill.scale)
    expected = (t.zk_session_timeout_s + t.tick_s + engine.REGISTRY_MARGIN + engine.DETECT_MARGIN) * drill.scale
    assert bounds["new_leader"].seconds == pytest.approx(expected, abs=0.01)
    expected = (t.master_watchdog_s + t.master_restart_s + engine.HANG_MARGIN) * drill.scale
    assert bounds["hung_master_restarted"].seconds == pytest.approx(expected, abs=0.01)
    expected = ((t.sync_limit + t.init_limit) * t.tick_s + engine.ZK_ELECTION_MARGIN) * drill.scale
    assert bounds["zk_reelection"].seconds == pytest.approx(expected, abs=0.01)
    print("\nbounds: " + ", ".join(f"{b.name}={b.seconds:g}s" for b in bounds.values()))


@pytest.mark.parametrize("fault", engine.FAULTS)
def test_fault_recovers_within_bounds(drill: failover.Drill, zk_addresses: list[str], fault: str) -> None:
    """Inject one fault, wait for recovery, restore; bounds and invariants must hold."""
    result = drill.run(fault)
    print(f"\n{fault}: " + ", ".join(f"{k}={v:+.1f}s" for k, v in result["timeline"].items() if v is not None))
    assert result["ok"], failover.describe_failure(result)
    # The engine reads znodes with its own small ZooKeeper client; cross-check with kazoo.
    mesos_node, children = mesos.read_tree(zk_addresses, drill.cluster.zk_path)
    members = [name for name in children if name.startswith("json.info_")]
    _log, replicas = mesos.read_tree(zk_addresses, drill.cluster.zk_path.rstrip("/") + "/log_replicas")
    assert mesos_node.ephemeral_owner == 0, f"{drill.cluster.zk_path} is not a persistent znode"
    assert len(members) == len(drill.cluster.masters), f"json.info_ members after {fault}: {members}"
    assert len(replicas) == len(drill.cluster.masters), f"log replicas after {fault}: {sorted(replicas)}"
