"""Locate test hosts: the Molecule (or sandbox) inventory names a container per host."""
from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass

import yaml


@dataclass(frozen=True)
class Host:
    """A test host: inventory name, container name and address on the scenario network."""

    name: str
    container: str
    address: str


def inventory_groups(inventory_file: str | None = None) -> dict[str, list[str]]:
    """group -> host names from a YAML inventory (default: $MOLECULE_INVENTORY_FILE)."""
    path = inventory_file or os.environ["MOLECULE_INVENTORY_FILE"]
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    groups: dict[str, list[str]] = {}

    def walk(name: str, node: dict) -> list[str]:
        node = node or {}
        members = list((node.get("hosts") or {}).keys())
        for child, child_node in (node.get("children") or {}).items():
            members += walk(child, child_node)
        groups[name] = sorted(set(members) | set(groups.get(name, [])))
        # A group referenced again as a bare child (`zookeeper: {children: {control: }}`) brings
        # the members it was given where it was defined.
        return groups[name]

    for name, node in data.items():
        walk(name, node)
    return groups


def container_for(host: str, scenario: str | None = None) -> str:
    """The container of a Molecule host: '<scenario>-<host>' (molecule/shared/create.yml)."""
    scenario = scenario or os.environ.get("MOLECULE_SCENARIO_NAME", "default")
    return f"{scenario}-{host}"


def container_address(container: str, network: str | None = None, timeout: float = 20) -> str:
    """The container's IPv4 address on `network` (or its only network), via docker inspect."""
    out = subprocess.run(["docker", "inspect", "--format", "{{json .NetworkSettings.Networks}}", container],
                         check=True, capture_output=True, text=True, timeout=timeout).stdout
    networks = json.loads(out)
    if network is None:
        if len(networks) != 1:
            raise ValueError(f"{container} is on networks {sorted(networks)}; name the one to use")
        network = next(iter(networks))
    return networks[network]["IPAddress"]


def find_hosts(group: str, scenario: str | None = None, inventory_file: str | None = None) -> list[Host]:
    """The hosts of an inventory group with their containers and addresses, sorted by name."""
    scenario = scenario or os.environ.get("MOLECULE_SCENARIO_NAME", "default")
    network = f"mesos-ha-{scenario}"
    names = inventory_groups(inventory_file).get(group, [])
    hosts = []
    for name in names:
        container = container_for(name, scenario)
        hosts.append(Host(name, container, container_address(container, network)))
    return hosts


def run_in(container: str, *argv: str, check: bool = True, timeout: float = 60,
           stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run a command in a container (docker exec); raises on a non-zero exit when check."""
    cmd = ["docker", "exec"] + (["-i"] if stdin is not None else []) + [container, *argv]
    result = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} in {container} exited {result.returncode}: "
                             f"{result.stderr.strip() or result.stdout.strip()}")
    return result
