"""Fixtures for the day-two scenario (the helpers and the scenario's story are in day2lib.py)."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from day2lib import Day2, failover, mesos  # noqa: E402  (path set up above)


@pytest.fixture(scope="session", autouse=True)
def mesos_http() -> mesos.HttpSettings:
    """Every Mesos request of the session (the observer's too) uses https with the cluster CA and
    the operator's credential, as the scenario's hosts are configured (role defaults)."""
    http = mesos.settings_from_scenario(mesos.scenario_values())
    mesos.configure_http(http)
    return http


# Where the scenario's state outlives one pytest session (a re-run of some files on the same
# cluster); Molecule empties this directory when it destroys the scenario.
STATE = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY") or "/nonexistent") / "day2-state.json"


@pytest.fixture(scope="session")
def day2(tmp_path_factory: pytest.TempPathFactory) -> Day2:
    """The scenario's state: as site.yml left it (double1 installed), or as an earlier session on
    this cluster left it."""
    state = Day2(tmp_path_factory.mktemp("day2"))
    if STATE.is_file():
        state.load(STATE)
    return state


@pytest.fixture(autouse=True)
def keep_state(day2: Day2) -> Iterator[None]:
    yield
    if STATE.parent.is_dir():
        day2.save(STATE)


@pytest.fixture
def baseline(day2: Day2) -> Iterator[failover.Drill]:
    """A drill for the current cluster, at its baseline (one leader, quorum, agents registered)."""
    drill = day2.drill()
    drill.establish_baseline()
    yield drill
