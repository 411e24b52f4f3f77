"""Real ansible-playbook runs of playbooks/zookeeper.yml against throwaway inventories whose
hosts do not exist: a bad inventory must stop the play with a clear message before any host is
contacted (no UNREACHABLE, no host task started). The hosts point at a closed port on the
loopback address, so even a run that got that far sends nothing off this machine."""
from __future__ import annotations

import pytest
import yaml


def inventory(tmp_path, hosts: dict[str, dict], group_vars: dict | None = None) -> str:
    for hostvars in hosts.values():
        hostvars.setdefault("ansible_host", "127.0.0.1")
        hostvars.setdefault("ansible_port", 9)  # discard: nothing listens, the connection is refused
        hostvars.setdefault("ansible_connection", "ssh")
        hostvars.setdefault("ansible_ssh_common_args", "-o ConnectTimeout=2")
    data = {"all": {"children": {"zookeeper": {"hosts": hosts, "vars": group_vars or {}}}}}
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


# Acceptable secrets for cases about something else (random-looking, long enough).
SECRETS = {"zookeeper_quorum_password": "Qv7pL2xZ9mWc4RtY8nBd", "zookeeper_super_password": "Hs3Kd8Wq1ZpX6vNe2TgR",
           "mesos_common_zk_password": "Mz5Rb9Lc2QxW7tYp4Nk8"}

CASES = {
    "even": ({"zk-a": {}, "zk-b": {}, "zk-c": {}, "zk-d": {}}, {},
             "zookeeper group has 4 members (zk-a, zk-b, zk-c, zk-d); an ensemble needs an odd number (3, 5, 7)"),
    "duplicate": ({"zk-a": {"zookeeper_id": 1}, "zk-b": {"zookeeper_id": 2}, "zk-c": {"zookeeper_id": 1}}, {},
                  "zk-c: zookeeper_id=1 is already used by zk-a"),
    "out-of-range": ({"zk-a": {"zookeeper_id": 1}, "zk-b": {"zookeeper_id": 256}, "zk-c": {}}, {},
                     "zk-b: zookeeper_id=256 is not an integer in 1-255"),
    "single": ({"zk-a": {}}, {}, "zookeeper group has 1 member (zk-a), which is not highly available"),
    "timing": ({"zk-a": {}, "zk-b": {}, "zk-c": {}},
               {"zookeeper_tick_time_ms": 2000, "zookeeper_init_limit": 10, "zookeeper_sync_limit": 5},
               "could expire every Mesos master's session"),
    "no-quorum-password": ({"zk-a": {}, "zk-b": {}, "zk-c": {}},
                           dict(SECRETS, zookeeper_quorum_password=""), "zookeeper_quorum_password is empty"),
    "default-super-password": ({"zk-a": {}, "zk-b": {}, "zk-c": {}},
                               dict(SECRETS, zookeeper_super_password="changeme"),
                               "zookeeper_super_password has 8 characters"),
    "short-mesos-password": ({"zk-a": {}, "zk-b": {}, "zk-c": {}},
                             dict(SECRETS, mesos_common_zk_password="Mz5Rb9Lc2"),
                             "the password for /mesos in zookeeper_protected_paths has 9 characters"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_inventory_stops_before_any_host(tmp_path, ansible_playbook, case):
    hosts, group_vars, message = CASES[case]
    result = ansible_playbook("-i", inventory(tmp_path, hosts, group_vars), "playbooks/zookeeper.yml")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert message in " ".join(output.split()), output
    assert "UNREACHABLE" not in output, output
    assert "Probe |" not in output, "a host task started: " + output
    for value in group_vars.values():  # secrets are never echoed
        if isinstance(value, str) and len(value) > 3:
            assert value not in output.replace("zookeeper_", ""), value


def test_single_node_with_opt_in_passes_the_inventory_checks(tmp_path, ansible_playbook):
    """With the opt-in the checks pass, and the next step (reading the host) is what fails here."""
    result = ansible_playbook("-i", inventory(tmp_path, {"zk-a": {}}, dict(SECRETS, zookeeper_allow_single_node=True)),
                              "playbooks/zookeeper.yml")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "not highly available" not in output
    assert "UNREACHABLE" in output, output
