"""Shared paths and a runner for real ansible-playbook invocations (no remote host involved)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture
def ansible_playbook(tmp_path):
    """Run ansible-playbook from the repo with its ansible.cfg; returns the CompletedProcess."""

    def run(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        env = dict(os.environ,
                   ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
                   ANSIBLE_ROLES_PATH=str(ROOT / "roles"),
                   ANSIBLE_FILTER_PLUGINS=str(ROOT / "filter_plugins"),
                   ANSIBLE_FORCE_COLOR="0",
                   ANSIBLE_NOCOLOR="1",
                   ANSIBLE_CACHE_PLUGIN_CONNECTION=str(tmp_path / "facts"),
                   ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"))
        executable = Path(sys.executable).with_name("ansible-playbook")
        command = [str(executable) if executable.exists() else "ansible-playbook", *args]
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)

    return run
