"""Fixtures for the default scenario's behavioural tests (run by verify.yml on the controller).

Hosts are found through Molecule's inventory and docker inspect; all traffic goes to the
scenario's own containers. Test files run in name order: read-only cluster checks
(test_10_*), then bad-input runs that must change nothing (test_20_*); destructive files
(failover, ...) can be appended as test_30_* and later.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY") or Path(__file__).resolve().parents[3])
sys.path.insert(0, str(PROJECT / "tests" / "lib"))

from mesos_ha_testlib import mesos  # noqa: E402  (path set up above)

SCENARIO = mesos.scenario_name()


@pytest.fixture(scope="session")
def settings() -> dict[str, Any]:
    """The role defaults overlaid with the scenario's group_vars: the values the flags must show."""
    return mesos.scenario_values()


@pytest.fixture(scope="session")
def mesos_secrets() -> dict[str, str]:
    """The scenario's Mesos secrets, from $MESOS_HA_CACHE/secrets (tools/bootstrap.sh makes them)."""
    directory = Path(os.environ.get("MESOS_HA_CACHE") or PROJECT / ".cache") / "secrets"
    return {name: (directory / name).read_text(encoding="utf-8").strip()
            for name in ("mesos_zk", "mesos_agent", "mesos_operator", "mesos_framework") if (directory / name).is_file()}


@pytest.fixture(scope="session", autouse=True)
def mesos_http(settings: dict[str, Any]) -> mesos.HttpSettings:
    """Every Mesos request of the session uses https with the cluster CA and the operator's
    credential when the scenario enables TLS and authentication (the role defaults do)."""
    http = mesos.settings_from_scenario(settings)
    mesos.configure_http(http)
    return http


@pytest.fixture(scope="session")
def masters() -> list[mesos.Host]:
    """The three masters (node1..node3) with their container addresses."""
    found = mesos.group_hosts("mesos_masters")
    assert [h.name for h in found] == ["node1", "node2", "node3"], f"unexpected masters: {found}"
    return found


@pytest.fixture(scope="session")
def agents() -> list[mesos.Host]:
    """The two agents (agent1, agent2) with their container addresses."""
    found = mesos.group_hosts("mesos_agents")
    assert [h.name for h in found] == ["agent1", "agent2"], f"unexpected agents: {found}"
    return found


@pytest.fixture(scope="session")
def zk_addresses() -> list[str]:
    """Addresses of the ZooKeeper members (the control nodes)."""
    found = mesos.group_hosts("zookeeper")
    assert len(found) == 3, f"expected 3 ZooKeeper members, found {found}"
    return [h.address for h in found]


@pytest.fixture
def leader(masters: list[mesos.Host]) -> mesos.Leader:
    """The leading master, looked up for each test: the destructive files (watchdog, failover)
    move the leadership, so a value cached for the session would name a follower later on."""
    return mesos.wait_for_leader(masters, timeout=30)


@pytest.fixture
def framework(masters, settings, mesos_secrets):
    """Factory of test frameworks (mesos_ha_testlib.framework) subscribed as the scenario's
    framework principal (mesos_common_frameworks[0]), running tasks as its first user unless
    `user` says otherwise; every one is torn down after the test (its tasks are killed)."""
    from mesos_ha_testlib.framework import Framework

    entries = settings.get("mesos_common_frameworks") or []
    assert entries, "the scenario configures no framework (mesos_common_frameworks)"
    made: list[Framework] = []

    def make(user: str | None = None, subscribe: bool = True) -> Framework:
        fw = Framework(masters, entries[0]["principal"], mesos_secrets["mesos_framework"],
                       user=user or entries[0]["users"][0])
        made.append(fw)
        if subscribe:
            fw.subscribe()
        return fw

    yield make
    for fw in made:
        fw.teardown()
