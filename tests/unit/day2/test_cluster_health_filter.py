"""filter_plugins/cluster_health.py: the day-two runbooks' health verdict from node_state.py reports."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

SPEC = importlib.util.spec_from_file_location(
    "cluster_health", Path(__file__).resolve().parents[3] / "filter_plugins/cluster_health.py")
cluster_health = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(cluster_health)

ZK = ["node1", "node2", "node3"]
MASTERS = ["node1", "node2", "node3"]
AGENTS = ["agent1", "agent2"]


def healthy_reports() -> dict[str, dict[str, Any]]:
    """Five nodes as node_state.py reports them on a healthy cluster (node2 leads both)."""
    reports: dict[str, dict[str, Any]] = {}
    for name in ZK:
        reports[name] = {
            "system": "running",
            "zookeeper": {"mode": "leader" if name == "node2" else "follower", "version": "3.8.0-11+deb12u2",
                          "unit": {"state": "active", "restarts": 0}},
            "mesos_master": {"http": 200, "elected": int(name == "node2"), "leader": "node2:5050",
                             "agents_active": 2 if name == "node2" else 0,
                             "agent_ids_active": ["agent-id-0", "agent-id-1"] if name == "node2" else [],
                             "version": "1.11.0", "unit": {"state": "active", "restarts": 0}},
            "mesos_package": "1.11.0-0.10.0.debian12"}
    for index, name in enumerate(AGENTS):
        reports[name] = {"system": "running", "mesos_package": "1.11.0-0.10.0.debian12",
                         "mesos_agent": {"http": 200, "detected": 1, "id": f"agent-id-{index}",
                                         "version": "1.11.0", "unit": {"state": "active"}}}
    return reports


def summary(reports: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return cluster_health.summarise(reports, zookeeper=ZK, masters=MASTERS, agents=AGENTS, **kwargs)


def test_healthy_cluster() -> None:
    result = summary(healthy_reports(), label="before")
    assert result["healthy"] and result["ok"]
    assert result["problems"] == [] and result["problem_keys"] == []
    assert result["zookeeper"] == {"node1": "follower", "node2": "leader", "node3": "follower"}
    assert result["zookeeper_leader"] == "node2" and result["mesos_leader"] == "node2"
    assert (result["agents_registered"], result["agents_expected"]) == (2, 2)
    assert result["agents"]["agent2"]["id"] == "agent-id-1"
    assert result["versions"]["node1"] == {"zookeeper": "3.8.0-11+deb12u2", "mesos_master": "1.11.0",
                                           "mesos_package": "1.11.0-0.10.0.debian12"}
    assert result["label"] == "before"


def test_zookeeper_member_down_and_no_leader() -> None:
    reports = healthy_reports()
    reports["node2"]["zookeeper"] = {"mode": "down"}
    result = summary(reports)
    assert not result["healthy"]
    assert result["problem_keys"] == ["zookeeper:node2:not-serving", "zookeeper:leaders"]
    assert "ZooKeeper node2 is down, not serving" in result["problems"]
    assert result["zookeeper_leader"] is None


def test_two_elected_masters_are_a_problem() -> None:
    reports = healthy_reports()
    reports["node3"]["mesos_master"]["elected"] = 1
    result = summary(reports)
    assert "master:elected" in result["problem_keys"]
    assert result["mesos_leader"] is None


def test_masters_must_agree_on_the_leader() -> None:
    reports = healthy_reports()
    reports["node1"]["mesos_master"]["leader"] = "node3:5050"
    result = summary(reports)
    assert result["problem_keys"] == ["master:agreement"]
    assert "node1" in result["problems"][0] and "'node3'" in result["problems"][0]


def test_leader_named_by_mesos_hostname() -> None:
    reports = healthy_reports()
    for name in MASTERS:
        reports[name]["mesos_master"]["leader"] = "10.0.0.2:5050"
    result = summary(reports, hostnames={"node1": "10.0.0.1", "node2": "10.0.0.2", "node3": None})
    assert result["healthy"], result["problems"]


def test_master_down_and_unreadable_host() -> None:
    reports = healthy_reports()
    reports["node1"]["mesos_master"] = {"http": 0, "elected": 0, "leader": None}
    del reports["node3"]
    result = summary(reports)
    assert "master:node1:down" in result["problem_keys"]
    assert "master:node3:down" in result["problem_keys"]
    assert "zookeeper:node3:not-serving" in result["problem_keys"]
    assert result["zookeeper"]["node3"] == "unread"


def test_unregistered_agent_and_leader_count() -> None:
    reports = healthy_reports()
    reports["agent1"]["mesos_agent"].update(detected=0, http=0)
    reports["node2"]["mesos_master"].update(agents_active=1, agent_ids_active=["agent-id-1"])
    result = summary(reports)
    assert result["problem_keys"] == ["agent:agent1:unregistered", "agent:active"]
    assert result["problems"][0] == "Mesos agent agent1 is not registered (it does not answer)"
    assert result["agents_registered"] == 1


def test_an_agent_that_only_detected_a_leader_is_not_registered() -> None:
    """slave/registered=1 (detected) is no evidence: only the elected master's list counts."""
    reports = healthy_reports()
    reports["node2"]["mesos_master"].update(agents_active=1, agent_ids_active=["agent-id-1"])
    result = summary(reports)
    assert reports["agent1"]["mesos_agent"]["detected"] == 1
    assert "agent:agent1:unregistered" in result["problem_keys"]
    assert "the elected master does not list agent-id-0 as active" in result["problems"][0]
    assert not result["agents"]["agent1"]["registered"] and result["agents"]["agent2"]["registered"]


def test_no_agent_is_registered_without_an_elected_master() -> None:
    reports = healthy_reports()
    reports["node2"]["mesos_master"]["elected"] = 0
    result = summary(reports)
    assert result["agents_registered"] == 0
    assert "Mesos agent agent1 is not registered (no elected master)" in result["problems"]


def test_tolerated_problems_do_not_block_but_new_ones_do() -> None:
    reports = healthy_reports()
    reports["node2"]["mesos_master"].update(agents_active=1, agent_ids_active=["agent-id-1"])
    baseline = summary(reports)
    assert not baseline["ok"]
    tolerated = summary(reports, tolerate=baseline["problem_keys"])
    assert tolerated["ok"] and not tolerated["healthy"] and tolerated["blocking"] == []
    reports["node3"]["zookeeper"]["mode"] = "down"
    worse = summary(reports, tolerate=baseline["problem_keys"])
    assert not worse["ok"] and worse["blocking"] == ["ZooKeeper node3 is down, not serving"]


def test_single_member_ensemble_must_be_standalone() -> None:
    reports = {"zk": {"zookeeper": {"mode": "standalone"}}}
    assert cluster_health.summarise(reports, zookeeper=["zk"])["healthy"]
    reports = {"zk": {"zookeeper": {"mode": "follower"}}}
    assert cluster_health.summarise(reports, zookeeper=["zk"])["problem_keys"] == ["zookeeper:zk:not-serving"]


def test_filter_is_registered() -> None:
    assert cluster_health.FilterModule().filters()["cluster_health_summary"] is cluster_health.summarise
