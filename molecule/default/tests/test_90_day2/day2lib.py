"""Helpers for the day-two runbook tests (importable: conftest puts this directory on sys.path).

They run last in the default scenario, against the live cluster the earlier files left healthy
(node1..node3 run ZooKeeper and a master, agent1 and agent2 an agent; zk4, zk5 and node4 are
spares). The files depend on each other's end state, in name order:

  test_10 status and refusal -> test_30 rolling restart -> test_40 upgrade (the package to a
  repackaged higher version, a broken one, the rollback) -> test_50 backup and restore -> test_60 remove agent2's agent
  -> test_70 replace node3 by node4 -> test_80 grow ZooKeeper to five and give agent2 its agent back.

`Day2` holds what the inventory says now (groups, the Mesos package) and writes a fresh
inventory of the scenario's containers for every runbook run, as an operator edits theirs.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY") or Path(__file__).resolve().parents[3])
sys.path.insert(0, str(PROJECT / "tests" / "lib"))

from mesos_ha_testlib import continuity, failover, mesos  # noqa: E402  (path set up above)
from mesos_ha_testlib import hosts as th  # noqa: E402

SCENARIO = mesos.scenario_name()
CACHE = Path(os.environ.get("MESOS_HA_CACHE") or PROJECT / ".cache")
PACKAGES = CACHE / "packages"
REPORT_DIR = PROJECT / "reports" / "day2"
UNITS = {"zookeeper": "zookeeper.service", "mesos_masters": "mesos-master.service", "mesos_agents": "mesos-agent.service"}


# The packages the runbook tests install: the real package the scenario was deployed with
# (tools/bootstrap.sh's choice), and two repackagings of it made here: a higher version with the
# same binaries (a real upgrade of the installed package) and a higher one still whose
# libmesos.so.0 is missing (its daemons fail to start, like a bad build).
REPACKAGED = {"upgrade": ("+mesosha1", []), "broken": ("+mesosha2", ["--broken"])}


def _source_package() -> Path:
    source = (PACKAGES / "mesos-source.yml").read_text(encoding="utf-8")
    values = dict(line.split(": ", 1) for line in source.splitlines() if ": " in line and not line.startswith("#"))
    path = Path(values.get("mesos_common_package_file", "").strip("'\""))
    assert values.get("mesos_common_install_method") == "package_file" and path.is_file(), (
        "the upgrade tests repackage the Mesos package file; the scenario installs from "
        f"{values.get('mesos_common_install_method')}: set MESOS_PACKAGE_FILE (README \"Mesos in the tests\")")
    return path


def version(kind: str) -> str:
    """The Debian version of package(kind)."""
    current = subprocess.run(["dpkg-deb", "-f", str(_source_package()), "Version"], capture_output=True,
                             text=True, check=True).stdout.strip()
    return current if kind == "current" else current + REPACKAGED[kind][0]


def package(kind: str) -> Path:
    """The package file of `kind`: current, upgrade or broken (made once, kept in the cache)."""
    if kind == "current":
        return _source_package()
    out = subprocess.run(["bash", str(PROJECT / "tools" / "repackage-mesos.sh"), str(_source_package()), version(kind),
                          str(PACKAGES), *REPACKAGED[kind][1]], capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, f"repackaging for {kind} failed: {out.stderr}"
    return Path(out.stdout.strip().splitlines()[-1])


@dataclass
class Day2:
    """The cluster as the inventory describes it now, and how to run a runbook against it."""

    tmp: Path
    groups: dict[str, list[str]] = field(default_factory=lambda: {
        group: sorted(members) for group, members in th.inventory_groups(str(mesos.inventory_file())).items()
        if group in UNITS})
    package: Path = field(default_factory=lambda: package("current"))
    runs: int = 0

    def inventory(self, groups: Mapping[str, list[str]] | None = None) -> Path:
        """A new inventory of the scenario's containers with these groups (default: the current ones)."""
        self.runs += 1
        groups = dict(groups or self.groups)
        names = sorted({h for members in groups.values() for h in members})
        return mesos.write_inventory(self.tmp / f"inventory-{self.runs:02d}", groups,
                                     host_vars={h: {"mesos_common_package_file": str(self.package)} for h in names})

    def run(self, playbook: str, extra: Mapping[str, Any] | None = None,
            groups: Mapping[str, list[str]] | None = None, timeout: float = 1200) -> mesos.PlaybookRun:
        """ansible-playbook <playbook> against a fresh inventory; the run's report is kept."""
        inventory = self.inventory(groups)
        started = time.monotonic()
        run = mesos.run_playbook(playbook, inventory=inventory, extra_vars=extra, timeout=timeout)
        REPORT_DIR.mkdir(parents=True, exist_ok=True)
        name = f"{self.runs:02d}-{Path(playbook).stem}"
        (REPORT_DIR / f"{name}.log").write_text(f"{' '.join(run.argv)}\nrc={run.rc} "
                                                f"seconds={time.monotonic() - started:.1f}\n\n{run.stdout}\n{run.stderr}",
                                                encoding="utf-8")
        return run

    def hosts(self, group: str, groups: Mapping[str, list[str]] | None = None) -> list[th.Host]:
        """The group's hosts (containers and addresses) as the current inventory has them."""
        names = (groups or self.groups)[group]
        return [th.Host(n, th.container_for(n, SCENARIO), th.container_address(th.container_for(n, SCENARIO),
                                                                                f"mesos-ha-{SCENARIO}"))
                for n in sorted(names)]

    def drill(self, groups: Mapping[str, list[str]] | None = None) -> failover.Drill:
        """The failover engine's view of the cluster (observer, timing, baseline) for these groups."""
        return failover.make_drill(self.hosts("mesos_masters", groups), self.hosts("mesos_agents", groups),
                                   self.hosts("zookeeper", groups), report_dir=REPORT_DIR)

    def cluster(self, groups: Mapping[str, list[str]]) -> Any:
        """The engine's model of the cluster these groups will form (for the observer); unlike
        drill(), nothing of it needs to run yet."""
        return failover.make_cluster(self.hosts("mesos_masters", groups), self.hosts("mesos_agents", groups),
                                     self.hosts("zookeeper", groups))

    def save(self, path: Path) -> None:
        """Keep the groups and the package for a later pytest session on the same cluster."""
        path.write_text(json.dumps({"cluster": cluster_id(), "groups": self.groups, "package": str(self.package)}),
                        encoding="utf-8")

    def load(self, path: Path) -> bool:
        """Take the state an earlier session saved, if it was saved for these very containers."""
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("cluster") != cluster_id():
            return False
        self.groups, self.package = data["groups"], Path(data["package"])
        return True

    def all_hosts(self) -> list[str]:
        return sorted({h for members in self.groups.values() for h in members})


def cluster_id() -> str:
    """The scenario's containers, by their docker ids: a recreated scenario is another cluster."""
    names = [th.container_for(h, SCENARIO) for h in sorted(th.inventory_groups(str(mesos.inventory_file()))["all"])]
    out = subprocess.run(["docker", "inspect", "--format", "{{.Id}}", *names], capture_output=True, text=True,
                         check=False, timeout=30).stdout
    return ",".join(line[:12] for line in out.split())


def sh(host: str, command: str, check: bool = True, timeout: float = 120) -> str:
    """A shell command on a scenario host; its stripped stdout."""
    return th.run_in(th.container_for(host, SCENARIO), "sh", "-c", command, check=check, timeout=timeout).stdout.strip()


def main_pids(day2: Day2) -> dict[str, int]:
    """'host/unit' -> MainPID of every unit the current groups run (0 = not running)."""
    pids = {}
    for group, unit in UNITS.items():
        for host in day2.groups[group]:
            pids[f"{host}/{unit}"] = int(sh(host, f"systemctl show -p MainPID --value {unit}") or 0)
    return pids


def package_versions(day2: Day2) -> dict[str, str]:
    """host -> the installed Mesos package version."""
    hosts = sorted(set(day2.groups["mesos_masters"]) | set(day2.groups["mesos_agents"]))
    return {h: sh(h, "dpkg-query -W -f '${Version}' aventer-mesos") for h in hosts}


def running_versions(day2: Day2) -> dict[str, str]:
    """'host/master|agent' -> the package version the running daemon runs: the installed one if
    the daemon started after the package was installed, else 'older than <installed>'. (Mesos's
    /version reports its release only, 1.11.0, the same for every build.)"""
    found = {}
    for group, kind in (("mesos_masters", "master"), ("mesos_agents", "agent")):
        for host in day2.groups[group]:
            installed = sh(host, "dpkg-query -W -f '${Version}' aventer-mesos")
            installed_at = int(sh(host, "stat -c %Y /var/lib/dpkg/info/aventer-mesos.list"))
            started = sh(host, f"systemctl show -p ExecMainStartTimestamp --value --timestamp=unix mesos-{kind}")
            started_at = int(started.lstrip("@") or 0)
            found[f"{host}/{kind}"] = installed if started_at >= installed_at else f"older than {installed}"
    return found


def check_continuity(name: str, drill: failover.Drill, seen: continuity.Watch, max_handovers: int,
                     expected_agent_ids: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Analyse what the observer saw during a runbook; fail on any quorum or leader gap longer
    than one handover (bounds from the live configuration), on more handovers than allowed, a
    split brain or an agent that changed its id. The analysis goes to reports/day2/<name>.json."""
    report = seen.analyse()
    bounds = continuity.handover_bounds(drill.timing, drill.scale)
    problems = continuity.check(report, bounds, max_handovers=max_handovers, expected_agent_ids=expected_agent_ids)
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    (REPORT_DIR / f"{name}.json").write_text(json.dumps({"report": report, "bounds": bounds, "problems": problems},
                                                        indent=2, sort_keys=True, default=str), encoding="utf-8")
    table = continuity.summary_table(report)
    (REPORT_DIR / f"{name}.txt").write_text(table + "\n", encoding="utf-8")
    if problems:
        journal = masters_journal(seen)
        (REPORT_DIR / f"{name}-masters-journal.txt").write_text(journal + "\n", encoding="utf-8")
        raise AssertionError("\n".join(problems) + "\n" + table + "\nWhat the masters logged meanwhile:\n" + journal)
    return report


# What a master logs when it wins or loses the election, or exits: enough to tell why a
# leaderless window lasted longer than one handover (an elected master that exits at once, a
# registry that does not recover, ...).
JOURNAL_PATTERN = ("Elected as the leading master|The newly elected leader|Recovery failed|committing suicide|"
                   "Registrar aborting|Writer started|Successfully recovered registrar|Check failed|"
                   "Main process exited|Failed to recover|demoted")


def masters_journal(seen: continuity.Watch) -> str:
    """The masters' election and exit lines of the journal while `seen` observed them."""
    lines = []
    for node in seen.cluster.masters:
        try:
            found = sh(node.name, f"journalctl -u mesos-master --since @{int(seen.started_at)} -o short-precise "
                                  f"--no-pager | grep -E '{JOURNAL_PATTERN}' | tail -n 20", check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            found = f"(journal not readable: {exc})"
        lines += [f"{node.name}: {line}"[:400] for line in found.splitlines()] or [f"{node.name}: (nothing)"]
    return "\n".join(lines)
