"""Real tasks on the hardened real cluster: a framework (v1 scheduler API over TLS, HTTP Basic auth
as a principal of mesos_common_frameworks) launches command tasks on every agent.

* a task runs as the unprivileged task user, gets the executor environment from the JSON flag
  file, and its executor talks to the TLS-only agent over the agent's unix socket;
* its executor lives in the agent's own cgroups (Linux launcher, cgroup v1 isolators under the
  agent's cgroups root) and outside the agent's process;
* tasks as root are refused by the ACLs, an unknown principal cannot subscribe.

The framework is torn down after each test, which kills what is left of its tasks.
"""
from __future__ import annotations

import time

import pytest
from mesos_ha_testlib import hosts as th
from mesos_ha_testlib import mesos
from mesos_ha_testlib.framework import Framework


def test_a_task_runs_on_every_agent_as_the_task_user(agents, framework, settings):
    """On a TLS-only agent the command executor reaches the agent over its socket, runs the task as
    the framework's user with the executor environment of the JSON flag file, and the task ends
    TASK_FINISHED."""
    user = settings["mesos_common_frameworks"][0]["users"][0]
    check = f'test "$(id -un)" = {user} && test "$MESOS_HA_ENVIRONMENT" = sandbox'
    fw = framework()
    launched = {agent.name: fw.launch(check, agent=agent.name) for agent in agents}
    for agent, task in launched.items():
        status = fw.wait_for(task, "TASK_FINISHED", timeout=90)
        assert fw.states(task)[:3] == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"], (agent, fw.states(task))
        assert status.message == "Command exited with status 0", (agent, status)


def test_executor_lives_in_the_agents_cgroups(agents, framework):
    """A running task's processes are in the freezer, cpu and memory cgroups of one container
    under the agent's cgroups root (mesos-<agent>), and are not children of the agent."""
    fw = framework()
    marker = f"mesos-ha-cgroup-{time.time_ns()}"
    task = fw.launch(f"exec sleep 600 # {marker}", agent=agents[0].name)
    fw.wait_for(task, "TASK_RUNNING", timeout=90)
    agent = agents[0]
    pids = th.run_in(agent.container, "pgrep", "-f", marker).stdout.split()
    assert pids, f"no process of task {task} on {agent.name}"
    cgroups = dict(line.split(":", 2)[1:] for line in
                   mesos.read_file(agent.container, f"/proc/{pids[0]}/cgroup").splitlines())
    for controller in ("freezer", "cpu", "memory"):
        assert cgroups[controller].startswith(f"/mesos-{agent.name}/"), (controller, cgroups)
    assert len({cgroups[c] for c in ("freezer", "cpu", "memory")}) == 1, cgroups
    agent_pid = mesos.service_main_pid(agent.container, "mesos-agent.service")
    parents = th.run_in(agent.container, "ps", "-o", "ppid=", "-p", pids[0]).stdout.split()
    assert parents and int(parents[0]) != agent_pid, "the task is a child of the supervisor"


def test_tasks_as_root_are_refused(agents, framework):
    """A framework whose user is root gets TASK_ERROR: the ACLs let nobody run tasks as root."""
    fw = framework(user="root")
    task = fw.launch("true", agent=agents[0].name)
    status = fw.wait_for(task, "TASK_ERROR", timeout=60)
    # The fork's wording: "Principal '...' no authorized to launch task ... under user 'root'".
    assert "authorized" in status.message and "user 'root'" in status.message, status


@pytest.mark.parametrize("principal", ["framework", "intruder"])
def test_a_framework_needs_its_secret(masters, settings, principal):
    """Claiming the framework's principal (or any other) without its secret gets HTTP 401 from the
    elected master: HTTP frameworks are authenticated, not trusted for the principal they name."""
    entry = settings["mesos_common_frameworks"][0]
    name = entry["principal"] if principal == "framework" else "intruder"
    fw = Framework(masters, name, "wrong-" + "x" * 20, user=entry["users"][0])
    with pytest.raises(AssertionError, match="HTTP 401"):
        fw.subscribe(timeout=5)
