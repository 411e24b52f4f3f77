"""The repository's promises to its users: CI runs the README's test command, every scenario
reuses the shared platform, and every playbook that the README names exists."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    block = re.search(r"## The two commands\s+```bash\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    assert block, "README.md lost its 'The two commands' block"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_ci_runs_the_readme_test_command() -> None:
    sandbox, test = readme_commands()
    assert sandbox == "make sandbox"
    ci = (REPO / ".ci/run").read_text()
    assert re.search(rf"^exec {re.escape(test)}$", ci, re.M), f".ci/run must exec '{test}'"


def test_make_targets_exist_for_readme_commands() -> None:
    makefile = (REPO / "Makefile").read_text()
    for command in readme_commands():
        target = command.split()[1]
        assert re.search(rf"^{re.escape(target)}:", makefile, re.M), f"Makefile has no '{target}' target"


def test_scenarios_reuse_the_shared_platform() -> None:
    base = yaml.safe_load((REPO / ".config/molecule/config.yml").read_text())
    assert base["provisioner"]["playbooks"]["create"] == "../shared/create.yml"
    assert "check" in base["scenario"]["test_sequence"]
    seq = base["scenario"]["test_sequence"]
    assert seq.index("check") < seq.index("converge") < seq.index("idempotence") < seq.index("verify")
    for scenario in (REPO / "molecule").glob("*/molecule.yml"):
        config = yaml.safe_load(scenario.read_text())
        playbooks = config.get("provisioner", {}).get("playbooks", {})
        assert "create" not in playbooks and "destroy" not in playbooks, (
            f"{scenario}: use the shared create/destroy from .config/molecule/config.yml")
        assert "driver" not in config, f"{scenario}: the driver comes from the base config"


def test_readme_mentions_existing_playbooks_only() -> None:
    readme = (REPO / "README.md").read_text()
    for name in set(re.findall(r"`([\w-]+\.yml)`", readme)):
        if name in {"config.yml", "hosts.yml", "vault.yml", "argument_specs.yml"}:
            continue
        assert (REPO / "playbooks" / name).exists(), f"README names playbooks/{name}, which does not exist"
