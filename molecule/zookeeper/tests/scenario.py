"""Helpers for the zookeeper scenario's tests (importable: conftest puts this directory on sys.path)."""
from __future__ import annotations

import os
from pathlib import Path

from mesos_ha_testlib import hosts as th
from mesos_ha_testlib import zk

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))


def zoo_cfg(container: str) -> dict[str, str]:
    text = th.run_in(container, "cat", "/etc/zookeeper/conf/zoo.cfg").stdout
    settings = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            settings[key.strip()] = value.strip()
    return settings


def modes(members) -> dict[str, str]:
    return {m.name: zk.srvr(m.address).mode for m in members}


def wait_all_serving(members, timeout: float = 90.0) -> None:
    zk.wait_for(lambda: zk.has_quorum([zk.srvr(m.address) for m in members], len(members))
                and all(zk.srvr(m.address).serving for m in members), timeout, 0.2)


def report(line: str) -> None:
    """Measured numbers go to a file the verify play prints (and to stdout with -s)."""
    path = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/tmp")) / "zookeeper-measurements.txt"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
    print(line)


def put(client, path: str, data: bytes) -> None:
    """Create or overwrite a znode (so the tests can run again on the same ensemble)."""
    client.ensure_path(path)
    client.set(path, data)


def secret(name: str) -> str:
    """A per-clone sandbox secret (.cache/secrets/<name>), as the scenario's group_vars read it."""
    cache = Path(os.environ.get("MESOS_HA_CACHE", PROJECT / ".cache"))
    return (cache / "secrets" / name).read_text(encoding="utf-8").strip()


def converge_playbook(playbook: str, extra_args: list[str], timeout: float = 600):
    """Run one of the repository's playbooks against the scenario's inventory."""
    import subprocess

    inventory = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "inventory")
    argv = ["ansible-playbook", "-i", inventory, str(PROJECT / playbook), *extra_args]
    return subprocess.run(argv, cwd=PROJECT, capture_output=True, text=True, timeout=timeout, check=False)
