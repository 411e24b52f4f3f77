"""Unit tests for the shared test helpers in tests/lib/mesos_ha_testlib (no containers)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))
from mesos_ha_testlib import hosts as th  # noqa: E402  (path set up above)
from mesos_ha_testlib import zk  # noqa: E402

LEADER = "Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.1/3\nZxid: 0x200000005\nMode: leader\nNode count: 7\n"


def test_parse_srvr():
    assert zk.parse_srvr(LEADER) == zk.Srvr("leader", 0x200000005)
    assert zk.parse_srvr("This ZooKeeper instance is not currently serving requests\n").mode == "not-serving"
    assert zk.parse_srvr(LEADER.replace("leader", "follower")).serving


@pytest.mark.parametrize("modes,members,expected", [
    (["leader", "follower", "follower"], 3, True),
    (["leader", "follower", "down"], 3, True),
    (["leader", "down", "down"], 3, False),
    (["follower", "follower", "not-serving"], 3, False),
    (["leader", "leader", "follower"], 3, False),
    (["standalone"], 1, True),
])
def test_has_quorum(modes, members, expected):
    assert zk.has_quorum([zk.Srvr(m) for m in modes], members) is expected


def test_quorum_probe_records_outages():
    script = iter([True, True, False, False, True] + [True] * 1000)
    states = {}

    def fetch(address):
        if address == "a":
            states["ok"] = next(script)
        return zk.Srvr("leader" if address == "a" else "follower") if states["ok"] else zk.Srvr("down")

    probe = zk.QuorumProbe(["a", "b", "c"], interval=0.01, fetch=fetch)
    with probe:
        time.sleep(0.3)
    assert probe.polls >= 5
    assert len(probe.outages) == 1
    assert probe.outage_modes == [["down", "down", "down"]]
    assert 0.0 < probe.longest_outage < 0.2


def test_quorum_probe_refuses_slow_polling():
    with pytest.raises(ValueError):
        zk.QuorumProbe(["a"], interval=1.0)


def test_inventory_groups_follow_children(tmp_path):
    path = tmp_path / "inv.yml"
    path.write_text(yaml.safe_dump({"all": {"children": {
        "control": {"hosts": {"n1": {}, "n2": {}}},
        "zookeeper": {"children": {"control": {}}},
        "agents": {"hosts": {"a1": {}}}}}}))
    groups = th.inventory_groups(str(path))
    assert groups["control"] == ["n1", "n2"]
    assert groups["agents"] == ["a1"]
    assert th.container_for("zk1", "zookeeper") == "zookeeper-zk1"


def test_wait_for_times_out():
    with pytest.raises(TimeoutError):
        zk.wait_for(lambda: False, timeout=0.05, interval=0.01)
    assert zk.wait_for(lambda: True, timeout=1) < 0.5
