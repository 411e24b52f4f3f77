"""filter_plugins/mesos.py: the rules that keep a Mesos deployment safe, and their messages."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
SPEC = importlib.util.spec_from_file_location("mesos_filters", REPO / "filter_plugins/mesos.py")
mesos = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(mesos)
KNOWN = yaml.safe_load((REPO / "roles/mesos_common/vars/flags-1.11.yml").read_text())["__mesos_common_known_flags"]
MASTER = KNOWN["common"] + KNOWN["master"]
AGENT = KNOWN["common"] + KNOWN["agent"]


def test_misspelled_flag_is_named_with_the_nearest_valid_one() -> None:
    errors = mesos.mesos_flag_errors({"registy_fetch_timeout": "60secs", "quorum": 2}, MASTER, "mesos_master_flags")
    assert len(errors) == 1
    assert "'registy_fetch_timeout' is not a Mesos 1.11 flag" in errors[0]
    assert "did you mean 'registry_fetch_timeout'?" in errors[0]
    assert errors[0].startswith("mesos_master_flags:")


def test_agent_flag_is_unknown_to_the_master() -> None:
    assert mesos.mesos_flag_errors({"resources": "cpus:1"}, MASTER, "mesos_master_flags")
    assert not mesos.mesos_flag_errors({"resources": "cpus:1"}, AGENT, "mesos_agent_flags")


def test_role_base_flags_are_all_known() -> None:
    master_vars = yaml.safe_load((REPO / "roles/mesos_master/vars/main.yml").read_text())
    agent_vars = yaml.safe_load((REPO / "roles/mesos_agent/vars/main.yml").read_text())
    assert not mesos.mesos_flag_errors(master_vars["__mesos_master_base_flags"], MASTER, "x")
    assert not mesos.mesos_flag_errors(agent_vars["__mesos_agent_base_flags"], AGENT, "x")


@pytest.mark.parametrize(("masters", "quorum"), [(1, 1), (3, 2), (5, 3), (7, 4)])
def test_quorum_is_a_strict_majority(masters: int, quorum: int) -> None:
    assert mesos.mesos_quorum(masters) == quorum


@pytest.mark.parametrize("masters", [2, 4, 6])
def test_even_master_counts_are_refused(masters: int) -> None:
    error = mesos.mesos_master_count_error(masters, allow_non_ha=True)
    assert f"has {masters} members" in error and "odd number" in error


def test_single_master_needs_the_opt_in() -> None:
    assert "mesos_master_allow_non_ha" in mesos.mesos_master_count_error(1)
    assert mesos.mesos_master_count_error(1, allow_non_ha=True) == ""
    assert mesos.mesos_master_count_error(3) == ""
    assert "empty" in mesos.mesos_master_count_error(0)


def test_zk_url() -> None:
    assert mesos.mesos_zk_url(["a", "b"], 2181, "/mesos") == "zk://a:2181,b:2181/mesos"
    assert mesos.mesos_zk_url(["a"], 2181, "/mesos/", "mesos", "pw") == "zk://mesos:pw@a:2181/mesos"
    with pytest.raises(ValueError, match="no ZooKeeper hosts"):
        mesos.mesos_zk_url([], 2181, "/mesos")
    with pytest.raises(ValueError, match="chroot"):
        mesos.mesos_zk_url(["a"], 2181, "/")


def test_env_rendering() -> None:
    env = mesos.mesos_env({"work_dir": "/w", "hostname_lookup": False, "attributes": {"rack": "r1", "zone": "a"},
                           "resources": None})
    assert env == {"MESOS_WORK_DIR": "/w", "MESOS_HOSTNAME_LOOKUP": "false", "MESOS_ATTRIBUTES": "rack:r1;zone:a"}
