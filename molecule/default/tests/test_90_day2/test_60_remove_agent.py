"""playbooks/remove-agent.yml: agent2's agent is drained, stopped and marked gone.

The master reports the agent DRAINED before it is stopped, then forgets it (gone agents are
listed nowhere); the unit is stopped and disabled and the host's checkpointed agent id is gone
(so the host can come back as a new agent, which test_80 does). The other agents stay registered
with their ids under the same elected master. A second run changes nothing.
"""
from __future__ import annotations

from day2lib import Day2, sh
from mesos_ha_testlib import mesos

REMOVE = "playbooks/remove-agent.yml"
TARGET = "agent2"


def leader_state(day2: Day2) -> dict:
    return mesos.wait_for_leader(day2.hosts("mesos_masters"), timeout=60).state


def test_remove_agent_drains_then_forgets_it(day2: Day2, baseline) -> None:
    ids = dict(baseline.baseline["agent_ids"])
    target_id = ids.pop(TARGET)
    run = day2.run(REMOVE, extra={"remove_agents": [TARGET], "remove_agent_grace_s": 5})
    assert run.rc == 0, run.summary()
    # The runbook waited for DRAINED (the master's drain_info) before it stopped the agent.
    names = [t.name for t in run.tasks]
    assert names.index("Remove one | Wait until the master reports the agent drained") < names.index(
        "Remove one | Stop and disable the agent") < names.index("Remove one | Mark the agent gone"), names
    state = leader_state(day2)
    listed = {s["id"] for s in state["slaves"]} | {s.get("id") for s in state.get("recovered_slaves", [])}
    assert target_id not in listed, f"the master still lists {TARGET}'s agent {target_id}"
    assert sh(TARGET, "systemctl is-active mesos-agent", check=False) == "inactive"
    assert sh(TARGET, "systemctl is-enabled mesos-agent", check=False) == "disabled"
    assert sh(TARGET, "test -e /var/lib/mesos/agent/meta/slaves/latest && echo kept || echo gone") == "gone"
    remaining = {s["hostname"]: s["id"] for s in state["slaves"] if s["active"]}
    assert remaining == ids, f"the other agents changed: {remaining} (expected {ids})"

    again = day2.run(REMOVE, extra={"remove_agents": [TARGET]})
    assert again.rc == 0, again.summary()
    assert not any(again.changed().values()), f"a second removal changed: {again.changed()}"
    day2.groups["mesos_agents"].remove(TARGET)


def test_remove_agent_refuses_to_remove_every_agent(day2: Day2) -> None:
    run = day2.run(REMOVE, extra={"remove_agents": list(day2.groups["mesos_agents"])})
    assert run.rc != 0 and "keep at least one agent" in " ".join(run.failure_messages()), run.summary()
