"""filter_plugins/secrets.py: weak secrets are refused and never echoed."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SPEC = importlib.util.spec_from_file_location("secret_filters", REPO / "filter_plugins/secrets.py")
secrets_mod = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(secrets_mod)
check = secrets_mod.secret_problems


@pytest.mark.parametrize("value", ["", "   ", None])
def test_empty_secret_is_refused(value) -> None:
    problems = check(value, "zookeeper_quorum_password")
    assert len(problems) == 1 and "zookeeper_quorum_password is empty" in problems[0]


@pytest.mark.parametrize("value", ["changeme", "Password123!", "zookeeper", "mesos", "secret_2024", "changeit"])
def test_default_looking_secret_is_refused_without_echoing_it(value) -> None:
    problems = check(value, "VAR")
    assert any("looks like a default password" in p for p in problems), problems
    assert all(value not in p for p in problems)


def test_short_secret_names_length_and_minimum() -> None:
    problems = check("Xk3-9aQ", "mesos_common_operator_secret")
    assert problems == ["mesos_common_operator_secret has 7 characters; use at least 16 (e.g. `openssl rand -base64 24`)"]


def test_repeated_and_placeholder_secrets_are_refused() -> None:
    assert any("repeats" in p for p in check("a" * 32, "x"))
    assert any("placeholder" in p for p in check("{{ vault_mesos_secret }}xxxxxxxxxxxx", "x"))


def test_random_secret_passes() -> None:
    assert check("486Oa5yFfLp7FoTUcQ6AhK6_Yd7PBz5e", "x") == []
    assert check("q8Zr!2mLx0Pw#Tn4", "x", min_length=16) == []
