"""filter_plugins/variables.py: variables that look like a role's but that no role declares."""
from __future__ import annotations

import glob
import importlib.util
import os
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("variables_filter", REPO / "filter_plugins" / "variables.py")
variables = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(variables)
KNOWN = variables.mesos_ha_known_variables(
    {os.path.basename(os.path.dirname(os.path.dirname(f))): yaml.safe_load(Path(f).read_text())
     for f in glob.glob(str(REPO / "roles" / "*" / "meta" / "argument_specs.yml"))})


def problems(*names: str, host: str = "node1") -> list[str]:
    return variables.mesos_ha_variable_problems({host: list(names)}, KNOWN)


def test_a_misspelled_prefix_is_named_with_the_nearest_variable() -> None:
    found = problems("zookeper_client_port")
    assert len(found) == 1
    assert "'zookeper_client_port' looks like a role variable with a misspelled prefix" in found[0]
    assert "did you mean 'zookeeper_client_port'?" in found[0] and "set on node1" in found[0]
    assert "did you mean 'mesos_master_flags'?" in problems("mesos_mastr_flags")[0]
    assert "did you mean 'firewall_admin_cidrs'?" in problems("firewal_admin_cidrs")[0]


def test_an_undeclared_name_with_a_roles_prefix() -> None:
    found = problems("mesos_master_flagz")
    assert found == ["role mesos_master declares no variable 'mesos_master_flagz' (did you mean 'mesos_master_flags'?); "
                     "set on node1. Ansible ignores it, so it changes nothing."]
    # The longest matching prefix names the role: mesos_common_ also starts like other mesos_ roles.
    assert problems("mesos_common_zk_pasword")[0].startswith("role mesos_common declares no variable")


def test_declared_internal_and_unrelated_names_pass() -> None:
    assert problems("zookeeper_client_port", "mesos_agent_flags", "__sandbox_cache", "force", "drill_confirm",
                    "ansible_host", "inventory_hostname", "mesos_ha_environment", "pkg_mirror", "groups") == []


def test_the_shipped_inventories_are_clean() -> None:
    names = {str(name) for f in REPO.glob("inventories/*/group_vars/**/*.yml")
             for name in (yaml.safe_load(f.read_text()) or {})}
    assert names and variables.mesos_ha_variable_problems({"all": names}, KNOWN) == []


def test_one_message_per_name_with_its_hosts() -> None:
    found = variables.mesos_ha_variable_problems({f"h{i}": ["zookeper_heap_mb"] for i in range(5)}, KNOWN)
    assert len(found) == 1 and "set on h0, h1, h2 and 2 more" in found[0]
