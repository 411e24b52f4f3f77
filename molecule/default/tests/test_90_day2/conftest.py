"""Fixtures for the day-two runbook tests (the helpers and the story are in day2lib.py); the
scenario-wide ones (https settings, settings) come from ../conftest.py."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from day2lib import Day2, failover  # noqa: E402  (path set up above)


# Where the scenario's state outlives one pytest session (a re-run of some files on the same
# cluster); Molecule empties this directory when it destroys the scenario.
STATE = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY") or "/nonexistent") / "day2-state.json"


@pytest.fixture(scope="session")
def day2(tmp_path_factory: pytest.TempPathFactory) -> Day2:
    """The scenario's state: as site.yml left it (the current package installed), or as an earlier session on
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
