"""A preview on the live cluster: `site.yml --check --diff` with a pending master flag, ZooKeeper
timing and agent change exits 0, shows each file's diff and the restarts it would do, in the
order it would do them (ZooKeeper followers before their leader, masters followers first and
the leader last, agents in batches), and changes nothing: every daemon keeps its process and
every file its content.
"""
from __future__ import annotations

from typing import Any

from mesos_ha_testlib import hosts as th
from mesos_ha_testlib import mesos

SITE = "playbooks/site.yml"
MASTER_ENV = "/etc/mesos-ha/mesos-master.env"
AGENT_ENV = "/etc/mesos-ha/mesos-agent.env"
ZOO_CFG = "/etc/zookeeper/conf_mesos_ha/zoo.cfg"
UNITS = ("zookeeper.service", "mesos-master.service", "mesos-agent.service")
CHANGES = {"mesos_master_flags": {"max_completed_frameworks": 60},
           "zookeeper_init_limit": 4,  # (2 + 4) x 1 s + 2 s = 8 s, still inside the 10 s sessions
           "mesos_agent_attributes": {"rack": "r1"}}


def fingerprint(hosts: list[mesos.Host]) -> dict[str, Any]:
    return {h.name: {"pids": {u: mesos.service_main_pid(h.container, u) for u in UNITS},
                     "files": mesos.file_checksums(h.container, [MASTER_ENV, AGENT_ENV, ZOO_CFG])} for h in hosts}


def diff_after(run: mesos.PlaybookRun, task: str) -> dict[str, str]:
    """host -> the 'after' side of the diffs a task reported."""
    found: dict[str, str] = {}
    for result in (t for t in run.tasks if t.name.endswith(task)):
        for host, outcome in result.results.items():
            diffs = outcome.get("diff") or []
            for diff in diffs if isinstance(diffs, list) else [diffs]:
                found[host] = found.get(host, "") + str(diff.get("after", ""))
    return found


def changed_hosts(run: mesos.PlaybookRun, task: str) -> list[str]:
    """The hosts on which a task reported (or, in check mode, would make) a change."""
    return sorted({host for t in run.tasks if t.name.endswith(task) for host, r in t.results.items() if r.get("changed")})


def changed_in_order(run: mesos.PlaybookRun, prefix: str) -> list[str]:
    """The task names (after the role's "role : ") starting with prefix that reported a change, in run order."""
    return [t.name for t in run.tasks
            if t.name.split(" : ", 1)[-1].startswith(prefix) and any(r.get("changed") for r in t.results.values())]


def test_preview_shows_the_changes_and_planned_restarts_and_changes_nothing(masters, agents, zk_addresses):
    hosts = masters + agents
    leader = mesos.find_leader(masters).host.name
    zk_modes = {h.name: th.run_in(h.container, "/usr/local/sbin/zookeeper-check", "mode").stdout.strip() for h in masters}
    zk_leader = next(name for name, mode in zk_modes.items() if mode == "leader")
    before = fingerprint(hosts)

    run = mesos.run_playbook(SITE, extra_vars=CHANGES, args=["--check", "--diff"])

    assert run.rc == 0 and run.report is not None, f"the preview failed:\n{run.summary()}"
    masters_env = diff_after(run, "Render the master's flags")
    assert sorted(masters_env) == sorted(m.name for m in masters), masters_env.keys()
    assert all("MESOS_MAX_COMPLETED_FRAMEWORKS=60" in text for text in masters_env.values()), masters_env
    # zoo.cfg carries the super user's digest in the sandbox, so its diff is censored: the
    # preview must still say it would change on every member, and must not print the digest.
    zoo = changed_hosts(run, "Render zoo.cfg")
    assert zoo == sorted(zk_modes), zoo
    assert "superDigest" not in run.output, "the preview printed ZooKeeper's super digest"
    agents_env = diff_after(run, "Render the agent's flags")
    assert sorted(agents_env) == sorted(a.name for a in agents), agents_env.keys()
    assert all("MESOS_ATTRIBUTES=rack:r1" in text for text in agents_env.values()), agents_env

    zk_restarts = changed_in_order(run, "Restart member | Restart ")
    assert len(zk_restarts) == len(zk_modes) and zk_restarts[-1].endswith(zk_leader), zk_restarts
    master_restarts = changed_in_order(run, "Restart master | Restart the master on ")
    assert len(master_restarts) == len(masters) and master_restarts[-1].endswith(leader), master_restarts
    agent_restarts = changed_in_order(run, "Restart batch | Restart the agents ")
    assert {a.name for a in agents} <= set(" ".join(agent_restarts).replace(",", " ").split()), agent_restarts

    assert fingerprint(hosts) == before, "the preview changed a daemon or a file"
