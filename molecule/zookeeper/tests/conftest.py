"""Fixtures for the zookeeper scenario's behavioural tests (run by verify.yml on the controller).

Hosts are found through Molecule's inventory and docker inspect; all traffic goes to the
scenario's own containers. Tests run in file order: read-only checks, the rolling restart,
leader failover, then quorum loss.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
sys.path.insert(0, str(PROJECT / "tests" / "lib"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from mesos_ha_testlib import hosts as th  # noqa: E402  (path set up above)
from scenario import zoo_cfg  # noqa: E402

SCENARIO = os.environ.get("MOLECULE_SCENARIO_NAME", "zookeeper")


@pytest.fixture(scope="session")
def members() -> list[th.Host]:
    found = th.find_hosts("zookeeper", SCENARIO)
    assert len(found) == 3, f"expected 3 zookeeper hosts, found {found}"
    return found


@pytest.fixture(scope="session")
def addresses(members) -> list[str]:
    return [m.address for m in members]


@pytest.fixture(scope="session")
def failover_bound_s(members) -> float:
    """Worst case for a leader change, derived from the deployed zoo.cfg and the role's margin:
    (syncLimit + initLimit) x tickTime + zookeeper_election_margin_ms."""
    cfg = zoo_cfg(members[0].container)
    defaults = yaml.safe_load((PROJECT / "roles/zookeeper/defaults/main.yml").read_text())
    margin_ms = int(defaults["zookeeper_election_margin_ms"])
    bound_ms = (int(cfg["syncLimit"]) + int(cfg["initLimit"])) * int(cfg["tickTime"]) + margin_ms
    return bound_ms / 1000.0
