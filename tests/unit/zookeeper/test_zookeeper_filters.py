"""Unit tests for filter_plugins/zookeeper.py (pure functions)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_path = Path(__file__).resolve().parents[3] / "filter_plugins" / "zookeeper.py"
_spec = importlib.util.spec_from_file_location("zookeeper_filters", _path)
zf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(zf)


def members(*ids, names=None):
    names = names or [f"zk{i + 1}" for i in range(len(ids))]
    return [{"host": n, "address": n, "id": i} for n, i in zip(names, ids)]


def test_members_read_hostvars_with_defaults():
    hostvars = {"a": {"zookeeper_id": 3, "zookeeper_address": "10.0.0.1"}, "b": {}}
    assert zf.zookeeper_members(["a", "b"], hostvars) == [
        {"host": "a", "address": "10.0.0.1", "id": 3}, {"host": "b", "address": "b", "id": None}]


def test_three_members_without_ids_are_fine():
    assert zf.zookeeper_inventory_errors(members(None, None, None)) == []


def test_even_size_names_the_hosts_and_the_fix():
    errors = zf.zookeeper_inventory_errors(members(None, None, None, None, names=["a", "b", "c", "d"]))
    assert len(errors) == 1
    assert "zookeeper group has 4 members (a, b, c, d); an ensemble needs an odd number (3, 5, 7)" in errors[0]


def test_empty_group():
    assert "is empty" in zf.zookeeper_inventory_errors([], group="zk")[0]


def test_single_node_needs_opt_in():
    errors = zf.zookeeper_inventory_errors(members(None))
    assert "has 1 member (zk1)" in errors[0] and "zookeeper_allow_single_node: true" in errors[0]
    assert zf.zookeeper_inventory_errors(members(None), allow_single_node=True) == []


@pytest.mark.parametrize("bad", [0, 256, -1, "x", True, 1.5])
def test_ids_outside_the_range(bad):
    errors = zf.zookeeper_inventory_errors(members(1, bad, 3))
    assert len(errors) == 1 and errors[0].startswith(f"zk2: zookeeper_id={bad!r} is not an integer in 1-255")


def test_string_ids_are_accepted():
    assert zf.zookeeper_inventory_errors(members("1", "2", "3")) == []


def test_duplicate_ids_name_both_hosts():
    errors = zf.zookeeper_inventory_errors(members(1, 2, 1))
    assert errors == [errors[0]] and errors[0].startswith("zk3: zookeeper_id=1 is already used by zk1")


def test_parse_myid():
    assert zf.zookeeper_parse_myid("3\n") == 3
    assert zf.zookeeper_parse_myid("replace this text with the cluster-unique zookeeper's instance id (1-255)") is None
    assert zf.zookeeper_parse_myid(None) is None
    assert zf.zookeeper_parse_myid("0") is None


def test_assign_ids_in_host_name_order_when_nothing_is_known():
    assert zf.zookeeper_assign_ids(members(None, None, None, names=["c", "a", "b"])) == {"a": 1, "b": 2, "c": 3}


def test_reordering_the_inventory_keeps_persisted_ids():
    persisted = {"a": "2", "b": "3", "c": "1"}
    first = zf.zookeeper_assign_ids(members(None, None, None, names=["a", "b", "c"]), persisted)
    again = zf.zookeeper_assign_ids(members(None, None, None, names=["c", "b", "a"]), persisted)
    assert first == again == {"a": 2, "b": 3, "c": 1}


def test_adding_hosts_never_renumbers_existing_members():
    persisted = {"b": 1, "c": 2, "d": 3}
    ids = zf.zookeeper_assign_ids(members(None, None, None, None, None, names=["a", "b", "c", "d", "e"]), persisted)
    assert ids == {"b": 1, "c": 2, "d": 3, "a": 4, "e": 5}


def test_explicit_ids_are_used_and_free_ids_fill_gaps():
    ids = zf.zookeeper_assign_ids(members(None, 1, None, names=["a", "b", "c"]))
    assert ids == {"b": 1, "a": 2, "c": 3}


def test_explicit_id_conflicting_with_the_persisted_one_is_refused():
    errors = zf.zookeeper_id_errors(members(5, None, None), {"zk1": "2"})
    assert errors[0].startswith("zk1: zookeeper_id=5 but /var/lib/zookeeper/myid on the host already holds 2")
    assert "Set zookeeper_id: 2" in errors[0]


def test_persisted_duplicate_is_refused():
    errors = zf.zookeeper_id_errors(members(None, None, 1), {"zk1": "1"})
    assert errors == ["zk3: myid 1 is already held by zk1 (persisted or explicit ids must be unique); "
                      "set a different zookeeper_id on one of them."]


def test_matching_explicit_and_persisted_ids_are_fine():
    assert zf.zookeeper_id_errors(members(1, 2, 3), {"zk1": "1", "zk2": None, "zk3": "3\n"}) == []


def test_default_timing_fits_the_mesos_session():
    assert zf.zookeeper_failover_bound_ms(1000, 5, 2, 2000) == 9000
    assert zf.zookeeper_timing_errors(1000, 5, 2, 2000, 10000) == []


def test_upstream_sample_timing_is_refused():
    errors = zf.zookeeper_timing_errors(2000, 10, 5, 2000, 10000)
    assert len(errors) == 1 and "= 32000 ms, not below" in errors[0]


def test_session_timeout_outside_the_granted_range():
    errors = zf.zookeeper_timing_errors(100, 5, 2, 100, 10000)
    assert len(errors) == 1 and "outside the range ZooKeeper grants" in errors[0]


def test_restart_order_followers_first_leader_last():
    modes = {"zk1": "leader", "zk2": "follower", "zk3": "follower"}
    assert zf.zookeeper_restart_order(["zk3", "zk1", "zk2"], modes) == ["zk2", "zk3", "zk1"]
    assert zf.zookeeper_restart_order(["zk1"], modes) == ["zk1"]
    assert zf.zookeeper_restart_order(["zk2", "zk3"], {"zk2": "down"}) == ["zk2", "zk3"]


def test_filter_module_exports_every_filter():
    names = set(zf.FilterModule().filters())
    assert {"zookeeper_members", "zookeeper_inventory_errors", "zookeeper_assign_ids", "zookeeper_id_errors",
            "zookeeper_timing_errors", "zookeeper_restart_order"} <= names
