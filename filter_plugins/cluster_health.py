"""Decide whether an HA Mesos cluster is healthy from node_state.py's per-host reports.

Used by the day-two runbooks' health gate (playbooks/tasks/cluster-health.yml) and, through it,
by the rolling restart and upgrade: every step waits for a healthy cluster before the next host.
"""

from __future__ import annotations

import time
from typing import Any, Mapping, Sequence

DOCUMENTATION = r"""
name: cluster_health_summary
short_description: Summarise node_state.py reports into a health verdict with its problems
description:
  - Healthy means every ZooKeeper member serves with exactly one leader (or one standalone member),
    exactly one Mesos master is elected and every master answers and names it as the leader, and
    every agent says it is registered while the leader counts them all as active.
  - Returns a dict with C(healthy), C(problems) (human-readable, each naming the host), C(zookeeper)
    (host -> mode), C(zookeeper_leader), C(mesos_leader), C(mesos_masters), C(agents_registered),
    C(agents_expected), C(agents), C(versions), C(units), C(nodes) (the reports) and C(time).
  - Each problem also has a stable key in C(problem_keys) (same order), e.g. C(zookeeper:node2:not-serving),
    C(zookeeper:leaders), C(master:node1:down), C(master:elected), C(master:agreement),
    C(agent:agent1:unregistered), C(agent:active); C(blocking) lists the problems not tolerated.
options:
  _input:
    description: host -> the JSON object node_state.py printed for that host (empty when unread).
    type: dict
    required: true
  zookeeper:
    description: The ZooKeeper members (inventory names).
    type: list
    default: []
  masters:
    description: The Mesos masters (inventory names).
    type: list
    default: []
  agents:
    description: The Mesos agents (inventory names).
    type: list
    default: []
  hostnames:
    description: master -> the Mesos hostname its /redirect names (default the inventory name).
    type: dict
    default: {}
  label:
    description: Words naming the step, kept in the result.
    type: str
    default: ""
  tolerate:
    description:
      - Problem keys (C(problem_keys) of an earlier result) that do not block; C(ok) is true when
        every problem found is tolerated. A forced runbook tolerates the problems it started with,
        so each step still stops on anything new.
    type: list
    default: []
"""

SERVING = ("leader", "follower")


def _leader_host(location: str | None, hostnames: Mapping[str, str]) -> str | None:
    """'node2:5050' (node_state.py's leader) -> the master's inventory name; None without one."""
    if not location:
        return None
    host = location.split("/")[0].rsplit(":", 1)[0]
    for name, hostname in hostnames.items():
        if host in (name, hostname):
            return name
    return f"?{host}"


def summarise(reports: Mapping[str, Mapping[str, Any]], zookeeper: Sequence[str] = (),
              masters: Sequence[str] = (), agents: Sequence[str] = (),
              hostnames: Mapping[str, str | None] | None = None, label: str = "",
              tolerate: Sequence[str] = ()) -> dict[str, Any]:
    """The health verdict (see DOCUMENTATION)."""
    names = {m: (hostnames or {}).get(m) or m for m in masters}
    found: list[tuple[str, str]] = []  # (stable key, message)

    def problem(key: str, message: str) -> None:
        found.append((key, message))

    zk_modes = {h: str(((reports.get(h) or {}).get("zookeeper") or {}).get("mode", "unread")) for h in zookeeper}
    zk_leaders = sorted(h for h, mode in zk_modes.items() if mode == "leader")
    if len(zookeeper) == 1:
        if zk_modes[zookeeper[0]] != "standalone":
            problem(f"zookeeper:{zookeeper[0]}:not-serving", f"ZooKeeper {zookeeper[0]} is {zk_modes[zookeeper[0]]}, not serving")
    elif zookeeper:
        for host, mode in sorted(zk_modes.items()):
            if mode not in SERVING:
                problem(f"zookeeper:{host}:not-serving", f"ZooKeeper {host} is {mode}, not serving")
        if len(zk_leaders) != 1:
            problem("zookeeper:leaders", f"ZooKeeper has {len(zk_leaders)} leaders {zk_leaders}, expected exactly one")

    views: dict[str, dict[str, Any]] = {}
    for host in masters:
        state = (reports.get(host) or {}).get("mesos_master") or {}
        views[host] = {"http": int(state.get("http", 0) or 0), "elected": int(state.get("elected", 0) or 0),
                       "leader": _leader_host(state.get("leader"), names)}
        if views[host]["http"] != 200:
            problem(f"master:{host}:down", f"Mesos master {host} does not answer (HTTP {views[host]['http'] or 'none'})")
    elected = sorted(h for h, v in views.items() if v["elected"])
    named = {v["leader"] for v in views.values() if v["http"] == 200}
    mesos_leader = elected[0] if len(elected) == 1 else None
    if masters:
        if len(elected) != 1:
            problem("master:elected", f"{len(elected)} Mesos masters are elected {elected}, expected exactly one")
        elif named != {mesos_leader}:
            seen = {h: v["leader"] for h, v in sorted(views.items())}
            problem("master:agreement", f"Mesos masters disagree about the leader: {seen} (elected: {mesos_leader})")

    # Registered means the elected master lists the agent's id as active: the agent's own
    # slave/registered ("detected") is 1 once it has found a leader, before it registered.
    leader_state = ((reports.get(mesos_leader) or {}).get("mesos_master") or {}) if mesos_leader else {}
    active_ids = set(leader_state.get("agent_ids_active") or [])
    agent_view: dict[str, dict[str, Any]] = {}
    for host in agents:
        state = (reports.get(host) or {}).get("mesos_agent") or {}
        agent_id = state.get("id", "")
        agent_view[host] = {"registered": bool(agent_id) and agent_id in active_ids, "id": agent_id,
                            "http": int(state.get("http", 0) or 0), "version": state.get("version", "")}
        if not agent_view[host]["registered"]:
            why = ("it does not answer" if agent_view[host]["http"] != 200 else
                   "no elected master" if not mesos_leader else
                   "it has no id yet" if not agent_id else f"the elected master does not list {agent_id} as active")
            problem(f"agent:{host}:unregistered", f"Mesos agent {host} is not registered ({why})")
    registered = sum(1 for a in agent_view.values() if a["registered"])
    if mesos_leader and agents:
        active = int(leader_state.get("agents_active", 0) or 0)
        if active < len(agents):
            problem("agent:active", f"the leader {mesos_leader} counts {active} active agents, expected {len(agents)}")

    versions: dict[str, dict[str, str]] = {}
    units: dict[str, dict[str, Any]] = {}
    for host, report in sorted(reports.items()):
        report = report or {}
        versions[host] = {key: str((report.get(part) or {}).get("version", ""))
                          for key, part in (("zookeeper", "zookeeper"), ("mesos_master", "mesos_master"),
                                            ("mesos_agent", "mesos_agent")) if part in report}
        if "mesos_package" in report:
            versions[host]["mesos_package"] = str(report["mesos_package"])
        units[host] = {part: (report.get(part) or {}).get("unit", {})
                       for part in ("zookeeper", "mesos_master", "mesos_agent") if part in report}

    keys = [key for key, _ in found]
    blocking = [message for key, message in found if key not in set(tolerate or ())]
    return {"healthy": not found, "problems": [message for _, message in found], "problem_keys": keys,
            "blocking": blocking, "ok": not blocking, "tolerated": sorted(set(tolerate or ())),
            "label": label, "time": round(time.time(), 3),
            "zookeeper": zk_modes, "zookeeper_leader": zk_leaders[0] if len(zk_leaders) == 1 else None,
            "mesos_leader": mesos_leader, "mesos_masters": views,
            "agents_registered": registered, "agents_expected": len(agents), "agents": agent_view,
            "versions": versions, "units": units, "nodes": dict(reports)}


class FilterModule:
    """Cluster health."""

    def filters(self):
        return {"cluster_health_summary": summarise}
