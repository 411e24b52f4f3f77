"""Failover drill against a Molecule (or sandbox) cluster, from the controller.

The drill engine is playbooks/files/failover_drill.py - the same file the ops runbook
(playbooks/failover-drill.yml) runs - so the test and the runbook share every plan, condition,
bound and invariant. This module adds what only the test needs: host actions through
`docker exec` (the engine's `act` subcommand is piped to the container's python3), the agent
host hang as `docker pause`/`unpause` of its container, and one Python loop per fault instead of
Ansible tasks:

    baseline -> plan -> observer -> inject -> hold (fault took effect) -> restore (always)
    -> back at baseline + units active -> analyse (timeline, bounds, invariants)

Every wait is bounded; only the scenario's own containers and addresses are contacted.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Mapping, Sequence

from . import hosts as th
from . import mesos as tmesos

PROJECT_DIR = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY") or Path(__file__).resolve().parents[3])
ENGINE_PATH = PROJECT_DIR / "playbooks" / "files" / "failover_drill.py"
REPORT_DIR = PROJECT_DIR / "reports" / "failover"


def load_engine(path: Path = ENGINE_PATH) -> ModuleType:
    """Import the drill engine from the playbook's files/ (registered as 'failover_drill')."""
    if "failover_drill" in sys.modules:
        return sys.modules["failover_drill"]
    spec = importlib.util.spec_from_file_location("failover_drill", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["failover_drill"] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


engine = load_engine()


def expected_units(cluster: Any, host: str) -> list[str]:
    """The units a host must run: zookeeper (members), mesos-master (masters), mesos-agent (agents)."""
    units = []
    for nodes, unit in ((cluster.zookeepers, "zookeeper.service"), (cluster.masters, "mesos-master.service"),
                        (cluster.agents, "mesos-agent.service")):
        if host in {n.name for n in nodes}:
            units.append(unit)
    return units


def bound_scale() -> float:
    """$FAILOVER_BOUND_SCALE (default 1): every bound is multiplied by it (0.1 proves they bite)."""
    value = float(os.environ.get("FAILOVER_BOUND_SCALE", "1") or 1)
    if value <= 0:
        raise ValueError("FAILOVER_BOUND_SCALE must be > 0")
    return value


@dataclass
class Drill:
    """One cluster under test: its engine model, containers, live timing and baseline."""

    cluster: Any  # failover_drill.Cluster
    containers: dict[str, str]
    scale: float = 1.0
    report_dir: Path = REPORT_DIR
    timing: Any = None  # failover_drill.Timing
    baseline: dict[str, Any] = field(default_factory=dict)
    results: list[dict[str, Any]] = field(default_factory=list)

    # ------------------------------------------------------------------ host access
    def act(self, host: str, args: Sequence[str], timeout: float = 180.0) -> dict[str, Any]:
        """Run the engine's `act` on a host (docker exec, script on stdin); its JSON output."""
        source = ENGINE_PATH.read_text(encoding="utf-8")
        result = th.run_in(self.containers[host], "python3", "-", "act", *args, stdin=source, timeout=timeout,
                           check=False)
        if result.returncode != 0:
            raise RuntimeError(f"act {' '.join(args)} on {host} exited {result.returncode}: "
                               f"{result.stderr.strip()[-800:]}")
        return json.loads(result.stdout.strip().splitlines()[-1])

    def sh(self, host: str, command: str, timeout: float = 180.0) -> str:
        """A shell command in a host (raises on failure); its stdout."""
        return th.run_in(self.containers[host], "sh", "-c", command, timeout=timeout).stdout

    def units(self) -> dict[str, dict[str, str]]:
        """host -> {unit: ActiveState} for every unit the drill expects on that host."""
        def one(node: Any) -> tuple[str, dict[str, str]]:
            return node.name, self.act(node.name, ["units", "--units", ",".join(expected_units(self.cluster,
                                                                                                node.name))])["units"]
        with ThreadPoolExecutor(max_workers=5) as pool:
            return dict(pool.map(one, self.cluster.all_nodes()))

    def wait_units_active(self, timeout: float = 90.0) -> dict[str, dict[str, str]]:
        """units() until every unit is active or `timeout` (returns the last answer)."""
        deadline = time.monotonic() + timeout
        while True:
            states = self.units()
            if all(s == "active" for per in states.values() for s in per.values()) or time.monotonic() > deadline:
                return states
            time.sleep(1.0)

    def read_timing(self) -> Any:
        """Timing from the live hosts (zoo.cfg, units, /flags)."""
        with ThreadPoolExecutor(max_workers=5) as pool:
            configs = dict(pool.map(lambda n: (n.name, self.act(n.name, ["config"])), self.cluster.all_nodes()))
        self.timing = engine.timing_from_config(self.cluster, configs)
        return self.timing

    # ------------------------------------------------------------------ drill
    def establish_baseline(self, timeout: float = 180.0) -> dict[str, Any]:
        """Wait for the cluster's baseline (one leader, quorum, agents registered, units active)."""
        ids = self.baseline.get("agent_ids") or None
        check = engine.wait_for_baseline(self.cluster, ids, timeout)
        if not check["ok"]:
            raise AssertionError(f"cluster is not at its baseline: {check['problems']}")
        units = self.wait_units_active()
        bad = {h: u for h, per in units.items() for u, s in per.items() if s != "active"}
        if bad:
            raise AssertionError(f"units not active: {bad}")
        if not self.baseline:
            self.baseline = {"agent_ids": check["agent_ids"]}
        self.baseline.update(leader=check["leader"], zk_leader=check["zk_leader"])
        return check

    def _inject(self, plan: Mapping[str, Any], pause: bool) -> float:
        times = []
        for step in plan["inject"]:
            if pause:
                before = time.time()
                subprocess.run(["docker", "pause", self.containers[step["host"]]], check=True, timeout=60,
                               capture_output=True)
                times.append(before)
            else:
                times.append(self.act(step["host"], step["args"])["time"])
        return max(times)  # the fault is complete once its last part is in place

    def _restore(self, plan: Mapping[str, Any], pause: bool) -> float | None:
        first: float | None = None
        errors = []
        for step in plan["restore"]:
            try:
                if pause:
                    now = time.time()
                    subprocess.run(["docker", "unpause", self.containers[step["host"]]], check=True, timeout=60,
                                   capture_output=True)
                else:
                    now = self.act(step["host"], step["args"])["time"]
                first = now if first is None else first
            except (RuntimeError, subprocess.SubprocessError) as exc:
                errors.append(str(exc))
        if errors:
            raise RuntimeError("restore failed: " + "; ".join(errors))
        return first

    def _hold(self, plan: Mapping[str, Any], observer: Any, inject: float, marks: dict[str, float]) -> None:
        for step in plan["hold"]:
            if step["where"] == "host":
                out = self.act(step["host"], engine.substitute(step["args"], inject),
                               timeout=float(step["timeout"]) + 30)
                marks["stepdown"] = out["time"]
                continue
            predicate = engine.hold_condition(step, plan, inject)
            engine.wait_until(self.cluster, observer.view, predicate, float(step["timeout"]), step["until"])
            settle_end = time.monotonic() + float(step.get("settle", 0.0))
            while time.monotonic() < settle_end:
                if not predicate(self.cluster, observer.view()):
                    raise TimeoutError(f"{step['until']} stopped holding within {step['settle']} s")
                time.sleep(0.1)

    def run(self, fault: str, agent_hang_method: str = "docker-pause") -> dict[str, Any]:
        """One fault end to end; returns the engine's analysis (with 'ok'), also saved as JSON.

        The agent host hang is `docker pause` of the agent's container (its whole host frozen,
        systemd included) unless agent_hang_method is 'sigstop' (the runbook's way on real hosts:
        SIGSTOP of every process of the unit).
        """
        self.establish_baseline()
        plan = engine.plan_fault(self.cluster, fault, self.baseline, self.timing)
        if fault == "leader_partition":
            self.sh(plan["target"], "command -v nft >/dev/null || (apt-get install -y -q --no-download nftables "
                                    ">/dev/null 2>&1 || apt-get install -y -q nftables >/dev/null)")
        pause = fault == "agent_hang" and agent_hang_method == "docker-pause"
        self.report_dir.mkdir(parents=True, exist_ok=True)
        sink = self.report_dir / f"samples-{fault}.jsonl"
        sink.unlink(missing_ok=True)
        marks: dict[str, float] = {}
        errors: list[str] = []
        observer = engine.Observer(self.cluster, sink=sink).start()
        try:
            engine.wait_until(self.cluster, observer.view, engine.condition("observing", {}), 20, "observer")
            time.sleep(1.0)  # a second of pre-fault samples: the invariants also cover the baseline
            try:
                marks["inject"] = self._inject(plan, pause)
                self._hold(plan, observer, marks["inject"], marks)
            except (TimeoutError, RuntimeError, subprocess.SubprocessError) as exc:
                errors.append(f"fault did not take effect as expected: {exc}")
            finally:
                try:
                    restored = self._restore(plan, pause)
                    if restored is not None:
                        marks["restore"] = restored
                except RuntimeError as exc:
                    errors.append(str(exc))
            final = engine.wait_for_baseline(self.cluster, self.baseline["agent_ids"], 180.0)
            if final["ok"]:
                marks["recovered"] = final["time"]
            units = self.wait_units_active()
            registry = None
            if final.get("leader") and "inject" in marks:
                registry = self.act(final["leader"], ["registry-log", "--unit", "mesos-master.service",
                                                      "--since", f"{marks['inject']:.3f}"])
            time.sleep(0.5)
        finally:
            samples = observer.stop()
        if "inject" not in marks:
            raise AssertionError(f"{fault}: injection failed: {errors}")
        result = engine.analyze(self.cluster, plan, samples, self.timing, marks, final, units, registry, self.scale,
                                errors)
        result["plan"] = {k: plan[k] for k in ("inject", "hold", "restore") if k in plan}
        result["marks"] = marks
        engine.dump_json(self.report_dir / f"result-{fault}.json", result)
        self.results.append(result)
        return result

    def write_report(self, name: str = "failover-report") -> dict[str, str]:
        """reports/failover/<name>.{json,txt}(,png) from the faults run so far."""
        return engine.write_report(self.report_dir, self.results, self.timing,
                                   {"baseline": self.baseline, "cluster": self.cluster.to_dict()}, name)


def make_cluster(masters: Sequence[th.Host], agents: Sequence[th.Host], zookeepers: Sequence[th.Host]) -> Any:
    """The engine's model of these hosts (testlib Host: name, container, address), reached with
    the session's HTTP settings; nothing is contacted but DNS."""
    def nodes(hosts: Sequence[th.Host]) -> list[Any]:
        return [engine.Node(h.name, h.address, h.name) for h in hosts]
    http = tmesos.http_settings()
    return engine.resolve_hostnames(engine.Cluster(nodes(masters), nodes(agents), nodes(zookeepers),
                                                   scheme=http.scheme, ca_file=http.ca_file,
                                                   credentials=http.credentials))


def make_drill(masters: Sequence[th.Host], agents: Sequence[th.Host], zookeepers: Sequence[th.Host],
               scale: float | None = None, report_dir: Path = REPORT_DIR) -> Drill:
    """A Drill for the scenario's hosts, with the timing read from them (they must all answer)."""
    cluster = make_cluster(masters, agents, zookeepers)
    containers = {h.name: h.container for h in list(masters) + list(agents) + list(zookeepers)}
    drill = Drill(cluster, containers, bound_scale() if scale is None else scale, report_dir)
    drill.read_timing()
    return drill


def describe_failure(result: Mapping[str, Any]) -> str:
    """The broken bounds and invariants of a fault, for an assertion message."""
    lines = [f"{result['fault']} ({result['description']}), target {result['target']}: "
             f"timeline {json.dumps(result['timeline'], sort_keys=True)}"]
    for check in result["bounds"]:
        if not check["ok"]:
            measured = "never" if check["measured"] is None else f"{check['measured']:.2f}s"
            lines.append(f"  BOUND EXCEEDED {check['name']}: {check['what']} took {measured} > "
                         f"{check['bound']:.2f}s ({check['formula']})")
    for inv in result["invariants"]:
        if not inv["ok"]:
            lines.append(f"  INVARIANT BROKEN {inv['name']}: {inv['detail']}")
    return "\n".join(lines)
