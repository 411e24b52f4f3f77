"""hardening.md 7.18: the installed ZooKeeper package carries the fixes for CVE-2023-44981
(quorum SASL authorization bypass) and CVE-2024-23944, and the role refuses one that does not.

The floor is the role's (Debian 12: 3.8.0-11+deb12u2). A run that demands a newer floor than the
installed package stops in the install step, names the variable, the versions and the CVEs, and
restarts nothing: every member keeps its process and the ensemble keeps serving.
"""
from __future__ import annotations

import yaml
from scenario import PROJECT, converge_playbook, modes
from mesos_ha_testlib import hosts as th

FLOOR = yaml.safe_load((PROJECT / "roles/zookeeper/vars/main.yml").read_text())[
    "__zookeeper_platforms"]["Debian"]["minimum_package_version"]


def installed(member: th.Host) -> str:
    return th.run_in(member.container, "dpkg-query", "--showformat", "${Version}", "--show", "zookeeper").stdout


def test_installed_package_has_the_security_fixes(members) -> None:
    assert FLOOR == "3.8.0-11+deb12u2"
    for member in members:
        version = installed(member)
        ok = th.run_in(member.container, "dpkg", "--compare-versions", version, "ge", FLOOR, check=False)
        assert ok.returncode == 0, f"{member.name}: zookeeper {version} is older than {FLOOR}"


def test_an_unpatched_package_is_refused_and_nothing_restarts(members) -> None:
    pids = {m.name: th.run_in(m.container, "systemctl", "show", "-p", "MainPID", "--value", "zookeeper").stdout.strip()
            for m in members}
    before = modes(members)
    run = converge_playbook("playbooks/zookeeper.yml", ["-e", "zookeeper_package_minimum_version=3.8.0-99"])
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-3000:]
    assert "zookeeper_package_minimum_version" in output and "CVE-2023-44981" in output, output[-3000:]
    assert f"is {installed(members[0])}, older than 3.8.0-99" in output, output[-3000:]
    assert {m.name: th.run_in(m.container, "systemctl", "show", "-p", "MainPID", "--value", "zookeeper").stdout.strip()
            for m in members} == pids, "a member was restarted"
    assert modes(members) == before
