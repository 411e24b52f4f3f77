"""Bad input is rejected by playbooks/preflight.yml before any host changes.

Each case runs the real `ansible-playbook playbooks/site.yml` against the live scenario hosts,
through a temporary inventory of the same containers (or extra vars), and checks that the run
fails, that the message names the variable or group and the fix, that the failing task is a
preflight/validate task and no install/configure/service task ran, and that the cluster is
exactly as before: same leader, same master ids (same znodes), same service PIDs, same files.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from mesos_ha_testlib import hosts as th
from mesos_ha_testlib import mesos

SITE = "playbooks/site.yml"
PREFLIGHT = "playbooks/preflight.yml"
CONTROL = ["node1", "node2", "node3"]
AGENTS = ["agent1", "agent2"]
WATCHED_FILES = [
    "/etc/mesos/zk",
    "/etc/mesos-ha/mesos-master.env",
    "/etc/mesos-ha/mesos-agent.env",
    "/etc/systemd/system/mesos-master.service",
    "/etc/systemd/system/mesos-agent.service",
]
LOOPBACK_NAME = "node1.debian-default.test"


def scenario_groups(**overrides: list[str] | None) -> dict[str, list[str]]:
    """The scenario's groups; an override of None drops the group, a list replaces it."""
    groups: dict[str, list[str] | None] = {"control": CONTROL, "zookeeper": CONTROL,
                                           "mesos_masters": CONTROL, "mesos_agents": AGENTS}
    groups.update(overrides)
    return {name: members for name, members in groups.items() if members is not None}


def fingerprint(masters: list[mesos.Host], agents: list[mesos.Host], zk_addresses: list[str],
                zk_path: str) -> dict[str, Any]:
    """What must not change: leader, contenders' znodes and ids, service PIDs and file checksums."""
    leader = mesos.find_leader(masters)
    _, children = mesos.read_tree(zk_addresses, zk_path)
    contenders = {name: json.loads(z.data)["id"] for name, z in children.items() if name.startswith("json.info_")}
    hosts = masters + agents
    return {
        "leader": (leader.pid, leader.id),
        "contenders": contenders,
        "pids": {h.name: {u: mesos.service_main_pid(h.container, u)
                          for u in ("mesos-master.service", "mesos-agent.service", "zookeeper.service")}
                 for h in hosts},
        "files": {h.name: mesos.file_checksums(h.container, WATCHED_FILES) for h in hosts},
    }


def assert_stopped_in_preflight(run: mesos.PlaybookRun) -> None:
    """The run failed in a preflight/validate task, and no task that changes hosts ran."""
    assert run.rc != 0, f"the run succeeded:\n{run.summary()}"
    assert run.report is not None, f"no JSON report:\n{run.summary()}"
    failed = run.failed_tasks
    assert failed, f"rc={run.rc} but no task failed:\n{run.summary()}"
    for task in failed:
        assert task.source_file == PREFLIGHT or re.fullmatch(r"roles/[^/]+/tasks/validate\.yml", task.source_file), (
            f"failing task {task.name!r} is in {task.source_file}, not in preflight:\n{run.summary()}")
    outside = [f"{t.name} ({t.source_file})" for t in run.tasks
               if re.match(r"roles/[^/]+/(tasks|handlers)/", t.source_file)
               and not t.source_file.endswith("/tasks/validate.yml")]
    assert not outside, f"tasks outside preflight/validate ran: {outside}\n{run.summary()}"
    plays = {t.play_path.rsplit(':', 1)[0] for t in run.tasks}
    assert all(p.endswith(PREFLIGHT) for p in plays), f"plays beyond preflight ran: {plays}\n{run.summary()}"
    changed = {h: n for h, n in run.changed().items() if n}
    assert not changed, f"changed results: {changed}\n{run.summary()}"


def assert_message(run: mesos.PlaybookRun, phrases: list[str]) -> None:
    """Every phrase appears in one failed task's message (whitespace-normalised)."""
    messages = run.failure_messages()
    assert any(all(p in m for p in phrases) for m in messages), (
        f"no failure message contains all of {phrases}:\n" + "\n".join(messages) + f"\n{run.summary()}")


@dataclass
class Case:
    """One bad input: the inventory groups, host vars, extra vars and the phrases the message needs."""

    groups: dict[str, list[str]]
    phrases: list[str]
    host_vars: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra_vars: dict[str, Any] = field(default_factory=dict)
    setup: Callable[[], Callable[[], None]] | None = None
    secret: str = ""  # a value no failure message may show


def map_loopback_name() -> Callable[[], None]:
    """Make LOOPBACK_NAME resolve to 127.0.1.1 on node1, as Debian's installer maps the host's
    FQDN in /etc/hosts; returns the undo (restores the file's exact content)."""
    container = th.container_for("node1", mesos.scenario_name())
    original = mesos.read_file(container, "/etc/hosts")
    # Docker bind-mounts /etc/hosts: rewrite it in place (no rename).
    th.run_in(container, "sh", "-c", "cat > /etc/hosts", stdin=original + f"127.0.1.1\t{LOOPBACK_NAME}\n")

    def undo() -> None:
        th.run_in(container, "sh", "-c", "cat > /etc/hosts", stdin=original)
        assert mesos.read_file(container, "/etc/hosts") == original, "node1's /etc/hosts was not restored"

    return undo


CASES = {
    "two-masters": Case(scenario_groups(mesos_masters=["node1", "node2"]),
                        ["mesos_masters", "2 members", "odd number", "Add or remove one master"]),
    "four-masters": Case(scenario_groups(mesos_masters=CONTROL + ["agent1"]),
                         ["mesos_masters", "4 members", "odd number", "Add or remove one master"]),
    "misspelled-flag": Case(scenario_groups(), ["mesos_master_flags", "'registy_fetch_timeout'",
                                                "'registry_fetch_timeout'", "Fix the name"],
                            extra_vars={"mesos_master_flags": {"registy_fetch_timeout": "1mins"}}),
    "no-zookeeper-group": Case(scenario_groups(zookeeper=None),
                               ["'zookeeper'", "zookeeper_group", "missing or empty", "Define it"]),
    "empty-zookeeper-group": Case(scenario_groups(zookeeper=[]),
                                  ["'zookeeper'", "zookeeper_group", "missing or empty", "Define it"]),
    "loopback-ip": Case(scenario_groups(), ["node1", "mesos_common_ip", "'127.0.1.1'", "loopback",
                                            "Set mesos_common_ip"],
                        host_vars={"node1": {"mesos_common_ip": "127.0.1.1"}}),
    # Mesos splits zk://user:pass@hosts/path at its first '/': a base64 secret with '/' would
    # turn the rest of the password into the ZooKeeper path.
    "zk-password-with-slash": Case(scenario_groups(), ["mesos_common_zk_password", "contains '/'",
                                                      "openssl rand -hex 24"],
                                   extra_vars={"mesos_common_zk_password": "pA55w0rd/with+SLASH=base64x"}),
    # JSON-valued flags are JSON: a JSON flag's structure goes to a file; a host on which the
    # cgroup layout forbids an isolator refuses it (this machine kind is hybrid).
    "isolator-needing-mounts-on-hybrid": Case(scenario_groups(), ["mesos_agent_isolation", "filesystem/linux",
                                                                 "hybrid cgroup host"],
                                              extra_vars={"mesos_agent_isolation": "filesystem/linux,cgroups/cpu"}),
    "systemd-support-forced-on-hybrid": Case(scenario_groups(), ["mesos_agent_systemd_enable_support is true",
                                                                "hybrid cgroup host", "set it to auto"],
                                             extra_vars={"mesos_agent_systemd_enable_support": True}),
    # Secrets: the message names the variable and the rule, never the value.
    "operator-secret-default-looking": Case(scenario_groups(), ["mesos_common_operator_secret", "looks like a default password"],
                                            extra_vars={"mesos_common_operator_secret": "changeme"}, secret="changeme"),
    "agent-secret-empty": Case(scenario_groups(), ["mesos_common_agent_secret", "is empty"],
                               extra_vars={"mesos_common_agent_secret": ""}),
    "zk-password-short": Case(scenario_groups(), ["mesos_common_zk_password", "use at least 16"],
                              extra_vars={"mesos_common_zk_password": "short-1"}, secret="short-1"),
    "framework-tasks-as-root": Case(scenario_groups(), ["mesos_common_frameworks[0].users lists root"],
                                    extra_vars={"mesos_common_frameworks": [{"principal": "fw", "secret": "Xq7vL2pZ9mWc4RtY8nBdK3",
                                                                             "users": ["root"]}]}),
    "task-user-root": Case(scenario_groups(), ["mesos_agent_task_users", "no root"],
                           extra_vars={"mesos_agent_task_users": ["root"]}),
    "single-master": Case(scenario_groups(mesos_masters=["node1"]), ["mesos_masters group has 1 member",
                                                                    "mesos_master_allow_non_ha"]),
    "quorum-not-a-majority": Case(scenario_groups(), ["mesos_master_quorum is 1 for 3 masters", "must be a majority"],
                                  extra_vars={"mesos_master_quorum": 1}),
    "metrics-rate-limit-unparsable": Case(scenario_groups(), ["mesos_common_metrics_rate_limit is 'plenty'", "20/1secs"],
                                          extra_vars={"mesos_common_metrics_rate_limit": "plenty"}),
    # The masters' own session timeout against the ZooKeeper ensemble's election bound (9 s here).
    "zk-session-below-zookeeper-election": Case(scenario_groups(), [
        "node1: mesos_common_zk_session_timeout is '5secs'", "= 9000 ms", "Raise mesos_common_zk_session_timeout above 9000 ms"],
        extra_vars={"mesos_common_zk_session_timeout": "5secs"}),
    # A wrong type is named by the argument spec (variable, value, expected type), not a traceback.
    "wrong-type": Case(scenario_groups(), ["zookeeper_tick_time_ms", "'fast'", "int"],
                       extra_vars={"zookeeper_tick_time_ms": "fast"}),
    # A role-prefixed name no role declares: a warning, refused with mesos_ha_strict_variables.
    "misspelled-role-variable-strict": Case(scenario_groups(), ["'zookeper_client_port'", "did you mean 'zookeeper_client_port'?",
                                                              "mesos_ha_strict_variables is true"],
                                            extra_vars={"zookeper_client_port": 2182, "mesos_ha_strict_variables": True}),
    "hostname-resolves-to-loopback": Case(
        scenario_groups(), ["node1", "mesos_common_hostname", f"'{LOOPBACK_NAME}'", "resolves to '127.0.1.1'",
                            "Fix DNS or /etc/hosts", "set mesos_common_hostname"],
        host_vars={"node1": {"mesos_common_hostname": LOOPBACK_NAME}}, setup=map_loopback_name),
}


@pytest.fixture
def unchanged(masters, agents, zk_addresses, settings) -> Iterator[None]:
    """Fails the test when the cluster's fingerprint differs after it."""
    zk_path = settings["mesos_common_zk_path"]
    before = fingerprint(masters, agents, zk_addresses, zk_path)
    assert all(p["zookeeper.service"] for n, p in before["pids"].items() if n in CONTROL), before["pids"]
    yield
    after = fingerprint(masters, agents, zk_addresses, zk_path)
    for key in before:
        assert after[key] == before[key], f"{key} changed:\nbefore {before[key]}\nafter  {after[key]}"


def test_preflight_alone_passes_and_touches_nothing(tmp_path: Path, unchanged):
    """Control case: the same temporary inventory, unmodified, passes preflight.yml, and preflight
    runs only checks (so the failures below come from the bad input, not from the harness)."""
    inventory = mesos.write_inventory(tmp_path, scenario_groups())
    run = mesos.run_playbook(PREFLIGHT, inventory)
    assert run.rc == 0 and run.report is not None, run.summary()
    outside = [f"{t.name} ({t.source_file})" for t in run.tasks
               if re.match(r"roles/[^/]+/(tasks|handlers)/", t.source_file)
               and not t.source_file.endswith("/tasks/validate.yml")]
    assert not outside, f"preflight ran tasks that are not checks: {outside}\n{run.summary()}"
    assert not any(run.changed().values()), f"preflight changed hosts: {run.changed()}"


@pytest.mark.parametrize("case_id", list(CASES))
def test_bad_input_is_rejected_before_any_change(case_id: str, tmp_path: Path, unchanged):
    """site.yml with the bad input fails in preflight with a message naming the variable and fix."""
    case = CASES[case_id]
    inventory = mesos.write_inventory(tmp_path, case.groups, case.host_vars)
    undo = case.setup() if case.setup else None
    try:
        run = mesos.run_playbook(SITE, inventory, case.extra_vars or None)
    finally:
        if undo:
            undo()
    assert_stopped_in_preflight(run)
    assert_message(run, case.phrases)
    if case.secret:
        assert not any(case.secret in m for m in run.failure_messages()), "a failure message shows the secret"


def test_a_misspelled_role_variable_is_named_without_strict_mode(tmp_path: Path, unchanged):
    """Without mesos_ha_strict_variables the same typo warns (with the nearest name) and the run goes on."""
    inventory = mesos.write_inventory(tmp_path, scenario_groups())
    run = mesos.run_playbook(PREFLIGHT, inventory, {"zookeper_client_port": 2182})
    assert run.rc == 0, run.summary()
    warned = [r.get("msg") for t in run.tasks if t.name == "Preflight | Warn about variables no role declares"
              for r in t.results.values()]
    assert any("'zookeper_client_port'" in " ".join(m) and "did you mean 'zookeeper_client_port'?" in " ".join(m)
               for m in warned if m), run.summary()
