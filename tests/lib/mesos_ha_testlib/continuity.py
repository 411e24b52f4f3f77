"""Service continuity while a day-two runbook runs: observe, analyse, check (pytest, on the controller).

The day-two scenario runs a runbook (rolling restart, rolling upgrade, node replacement,
ZooKeeper growth) while the failover drill engine's observer polls every master, agent and
ZooKeeper member every 150 ms, then fails the test when ZooKeeper quorum or an elected master
was lost for longer than one leader handover::

    with continuity.watch(drill.cluster, sink=REPORT_DIR / "samples-rolling-restart.jsonl") as seen:
        run_the_runbook()
    report = seen.analyse()
    problems = continuity.check(report, continuity.handover_bounds(drill.timing, drill.scale),
                                max_handovers=3, expected_agent_ids=drill.baseline["agent_ids"])
    assert not problems, "\\n".join(problems) + "\\n" + continuity.summary_table(report)

The probes, the View (latest sample per target), the split-brain invariant, the poll-gap
measure and the bounds all come from the engine (playbooks/files/failover_drill.py, loaded by
failover.py), so the drill and this check share one definition of each. This module only adds
the replay that turns samples into outage intervals.

Replay rules (analyse()): samples are applied in t1 order to an engine View (a sample whose
probe started before the target's latest one is ignored, as the engine does); the state is
re-evaluated at every sample's t1, so an interval runs from the t1 of the sample that showed
the loss to the t1 of the sample that showed the recovery. A measure is only evaluated once
every target it depends on has been sampled at least once (before that its state is unknown,
not lost). Only the cluster's own targets are considered, so one sample list can be analysed
in phases with different Cluster models (e.g. 3, then 5 ZooKeeper members).
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from .failover import engine

SERVING_MODES = ("leader", "follower")
MAX_POLL_GAP_S = 2.0  # a longer hole in any target's sampling makes the analysis untrustworthy
WATCH_INTERVAL = 0.5  # seconds between two probes of a target (the drill's own observer: 0.15)
WATCH_MAX_SECONDS = 7200.0  # the engine's observer stops polling silently after max_seconds (900 s by default)
SPLIT_BRAIN_SHOWN = 5  # split-brain findings quoted in check()'s sentences


# ============================================================================ observation
class Watch:
    """A running (then finished) observation of one cluster.

    `samples` is the observer's snapshot while the block runs and the final, t1-sorted list once
    it has been left. `stopped_early` is True when the observer hit its max_seconds before the
    block ended (the tail of the runbook was not observed; analyse() reports the hole).
    """

    def __init__(self, cluster: Any, observer: Any, sink: Path | None, max_seconds: float) -> None:
        self.cluster = cluster  # failover_drill.Cluster
        self.observer = observer  # failover_drill.Observer
        self.sink = sink
        self.max_seconds = max_seconds
        self.started_at = time.time()  # wall clock: observer started
        self.ready_at: float | None = None  # wall clock: every target sampled at least once
        self.ended_at: float | None = None  # wall clock: the with-block was left
        self.stopped_early = False
        self._started_mono = time.monotonic()
        self._final: list[Any] | None = None

    @property
    def running(self) -> bool:
        """The with-block has not been left yet."""
        return self._final is None

    @property
    def samples(self) -> list[Any]:
        """Every sample so far (t1 order); the kept samples once the observation has ended."""
        return self.observer.snapshot() if self._final is None else list(self._final)

    def view(self) -> Any:
        """The latest sample of every target (an engine View), e.g. to wait for a condition."""
        view = engine.View()
        for sample in self.samples:
            view.update(sample)
        return view

    def analyse(self, start: float | None = None, end: float | None = None) -> dict[str, Any]:
        """analyse() of this observation; `end` defaults to when the block was left, so a
        sampling hole at the end (observer stopped early) is reported as edge_gap_max_s."""
        if end is None:
            end = self.ended_at
        return analyse(self.cluster, self.samples, start, end)

    def _stop(self) -> None:
        self.ended_at = time.time()
        self.stopped_early = time.monotonic() - self._started_mono >= self.max_seconds
        self._final = self.observer.stop()


def _targets(cluster: Any) -> list[tuple[str, str]]:
    """(role, node) of every target the observer polls, in its order."""
    return ([("master", n.name) for n in cluster.masters] + [("agent", n.name) for n in cluster.agents]
            + [("zk", n.name) for n in cluster.zookeepers])


@contextmanager
def watch(cluster: Any, sink: str | Path | None = None, *, max_seconds: float = WATCH_MAX_SECONDS,
          ready_timeout: float = 30.0, interval: float = WATCH_INTERVAL) -> Iterator[Watch]:
    """Observe `cluster` for the duration of the with-block.

    Starts engine.Observer (polling every target every `interval` seconds: the gaps checked here
    are bounded at ten seconds and more, so half a second resolves them while keeping the probes'
    TLS handshakes from slowing the runbook on a 2-core machine), appending samples to the
    JSON-lines file `sink` when given (the file is truncated first, its directory created), and
    returns only once every master, agent and ZooKeeper member has been sampled at least once
    (TimeoutError after `ready_timeout` seconds, naming the targets never sampled). On leaving
    the block - also through an exception, which is not suppressed - the observer is stopped and
    its samples are kept in the Watch. `max_seconds` bounds the observer (it stops polling after
    it; Watch.stopped_early then says so).
    """
    path = Path(sink) if sink is not None else None
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)  # the engine's observer appends
    observer = engine.Observer(cluster, interval=interval, max_seconds=max_seconds, sink=path)
    seen = Watch(cluster, observer, path, max_seconds)
    observer.start()
    try:
        try:
            engine.wait_until(cluster, observer.view, engine.condition("observing", {}), ready_timeout,
                              "observer sampled every target")
        except TimeoutError as exc:
            view = observer.view()
            missing = [f"{role}/{node}" for role, node in _targets(cluster) if view.get(role, node) is None]
            raise TimeoutError(f"{exc}; never sampled: {', '.join(missing) or '-'}") from None
        seen.ready_at = time.time()
        yield seen
    finally:
        seen._stop()


# ============================================================================ analysis
class _Outage:
    """Open/closed intervals of one boolean 'lost' state along the replay."""

    def __init__(self) -> None:
        self.since: float | None = None
        self.intervals: list[tuple[float, float]] = []

    def update(self, lost: bool, t: float) -> None:
        if lost and self.since is None:
            self.since = t
        elif not lost and self.since is not None:
            self.intervals.append((self.since, t))
            self.since = None

    def close(self, t: float) -> float | None:
        """Close an interval still open at `t`; returns when it had opened (None if none was)."""
        since = self.since
        if since is not None:
            self.intervals.append((since, max(since, t)))
            self.since = None
        return since

    def rounded(self) -> list[list[float]]:
        return [[round(a, 3), round(b, 3)] for a, b in self.intervals]

    def longest(self) -> float:
        return round(max((b - a for a, b in self.intervals), default=0.0), 3)


def _zk_quorum(cluster: Any, view: Any) -> bool:
    """A majority of the cluster's ZooKeeper members' latest samples answered as leader or
    follower (a single-member cluster: standalone, as the engine's zk_leader())."""
    members = cluster.zookeepers
    serving = 0
    for node in members:
        sample = view.get("zk", node.name)
        if sample is None or not sample.ok:
            continue
        if sample.mode in SERVING_MODES or (len(members) == 1 and sample.mode == "standalone"):
            serving += 1
    return serving >= len(members) // 2 + 1


def _seen_all(view: Any, role: str, nodes: Sequence[Any]) -> bool:
    return all(view.get(role, n.name) is not None for n in nodes)


def analyse(cluster: Any, samples: Sequence[Any], start: float | None = None,
            end: float | None = None) -> dict[str, Any]:
    """Continuity of `cluster` from the observer's samples (only those with start <= t1 <= end).

    Returns a JSON-serialisable dict (times are wall-clock seconds, rounded to ms; intervals are
    [from, to] lists; an interval still open at the last sample is closed there and also listed
    in `open_at_end`)::

        start, end                 the window asked for (None = unbounded)
        samples, observed_from, observed_to, observed_s
        zk_members, zk_majority
        zk_no_quorum               [[from, to], ...]: fewer than zk_majority members leader/follower
        zk_no_quorum_max_s         the longest (0.0 if none)
        no_elected_master          [[from, to], ...]: no master's latest sample ok and elected
        no_elected_master_max_s
        elected_sequence           distinct elected masters in order (a gap then the same master
                                   again is no change)
        elected_changes            [[t, master], ...]: when each entry of elected_sequence took over
        handovers                  len(elected_sequence) - 1
        split_brain                engine.split_brain() problems
        agent_ids                  agent -> sorted non-empty ids the agent reported
        agent_unregistered         agent -> [[from, to], ...]: not listed active by the one elected
                                   master, or not answering
        agent_unregistered_max_s   agent -> longest (0.0 if none)
        poll_gap_max_s             largest gap between two probe starts of one target
                                   (engine.max_poll_gap), poll_gap_max_target which one,
        poll_gap_max_by_target     "role/node" -> its largest gap
        unsampled_targets          "role/node" of targets without any sample in the window
        edge_gap_max_s             with start/end: largest time between start and a target's
                                   first probe or its last probe and end (edge_gap_target)
        open_at_end                measure -> when its still-open interval began
                                   ("zk_no_quorum", "no_elected_master", "agent_unregistered/<agent>")
    """
    window = sorted((s for s in samples if (start is None or s.t1 >= start) and (end is None or s.t1 <= end)),
                    key=lambda s: s.t1)
    zk_out, master_out = _Outage(), _Outage()
    agent_out = {n.name: _Outage() for n in cluster.agents}
    agent_ids: dict[str, set[str]] = {n.name: set() for n in cluster.agents}
    changes: list[tuple[float, str]] = []
    elected_since: dict[str, float] = {}
    current: str | None = None
    view = engine.View()
    for sample in window:
        view.update(sample)
        t = sample.t1
        if sample.role == "agent" and sample.node in agent_ids and sample.agent_id:
            agent_ids[sample.node].add(sample.agent_id)
        if cluster.zookeepers and _seen_all(view, "zk", cluster.zookeepers):
            zk_out.update(not _zk_quorum(cluster, view), t)
        elected = engine.elected_masters(cluster, view)
        # Registered: listed active by the one elected master (the agent's own slave/registered
        # only says it has detected a leader).
        leader_sample = view.get("master", elected[0]) if len(elected) == 1 else None
        active = set(leader_sample.active_ids or []) if leader_sample is not None else set()
        for agent in cluster.agents:
            own = view.get("agent", agent.name)
            if own is not None:
                agent_out[agent.name].update(not (own.ok and own.agent_id and own.agent_id in active), t)
        for name in list(elected_since):
            if name not in elected:
                del elected_since[name]
        for name in elected:
            elected_since.setdefault(name, t)
        if cluster.masters and _seen_all(view, "master", cluster.masters):
            master_out.update(not elected, t)
        if elected and current not in elected:
            # The elected master changed: the one elected longest among those now elected.
            current = min(elected, key=lambda n: (elected_since[n], elected.index(n)))
            if not changes or changes[-1][1] != current:
                changes.append((t, current))

    last = window[-1].t1 if window else 0.0
    open_at_end: dict[str, float] = {}
    for key, outage in [("zk_no_quorum", zk_out), ("no_elected_master", master_out)] + [
            (f"agent_unregistered/{name}", out) for name, out in agent_out.items()]:
        since = outage.close(last)
        if since is not None:
            open_at_end[key] = round(since, 3)

    gaps: dict[str, float] = {}
    unsampled: list[str] = []
    edge, edge_target = 0.0, ""
    for role, node in _targets(cluster):
        key = f"{role}/{node}"
        own = [s for s in window if s.role == role and s.node == node]
        gaps[key] = round(engine.max_poll_gap(own, role, node), 3)
        if not own:
            unsampled.append(key)
        if start is not None or end is not None:
            first_t0 = min((s.t0 for s in own), default=None)
            last_t0 = max((s.t0 for s in own), default=None)
            lo = start if start is not None else (window[0].t0 if window else 0.0)
            hi = end if end is not None else last
            for gap in ((first_t0 - lo) if first_t0 is not None else hi - lo,
                        (hi - last_t0) if last_t0 is not None else hi - lo):
                if gap > edge:
                    edge, edge_target = gap, key
    worst = max(gaps, key=lambda k: gaps[k], default="")
    observed_from = min((s.t0 for s in window), default=0.0)
    sequence = [name for _, name in changes]
    return {
        "start": start, "end": end, "samples": len(window),
        "observed_from": round(observed_from, 3), "observed_to": round(last, 3),
        "observed_s": round(last - observed_from, 3) if window else 0.0,
        "zk_members": len(cluster.zookeepers), "zk_majority": len(cluster.zookeepers) // 2 + 1,
        "zk_no_quorum": zk_out.rounded(), "zk_no_quorum_max_s": zk_out.longest(),
        "no_elected_master": master_out.rounded(), "no_elected_master_max_s": master_out.longest(),
        "elected_sequence": sequence, "elected_changes": [[round(t, 3), name] for t, name in changes],
        "handovers": max(0, len(sequence) - 1),
        "split_brain": engine.split_brain(cluster, window),
        "agent_ids": {name: sorted(ids) for name, ids in agent_ids.items()},
        "agent_unregistered": {name: out.rounded() for name, out in agent_out.items()},
        "agent_unregistered_max_s": {name: out.longest() for name, out in agent_out.items()},
        "poll_gap_max_s": gaps.get(worst, 0.0), "poll_gap_max_target": worst,
        "poll_gap_max_by_target": gaps, "unsampled_targets": unsampled,
        "edge_gap_max_s": round(max(0.0, edge), 3), "edge_gap_target": edge_target,
        "open_at_end": open_at_end,
    }


# ============================================================================ verdict
def handover_bounds(timing: Any, scale: float = 1.0) -> dict[str, tuple[float, str]]:
    """How long one leader handover may cost, from the engine's bounds (x scale):

    * "zk_no_quorum": the engine's zk_reelection, (syncLimit + initLimit) x tickTime + margin;
    * "no_elected_master": the engine's new_leader. A clean restart (SIGTERM) of the leading
      master leaves its znode behind until its ZooKeeper session expires, so one handover costs
      zk_session_timeout + tickTime + registry recovery + detection.

    Values are (seconds, formula) pairs, as check() takes them.
    """
    engine_bounds = engine.bounds(timing, scale)
    return {"zk_no_quorum": (engine_bounds["zk_reelection"].seconds, engine_bounds["zk_reelection"].formula),
            "no_elected_master": (engine_bounds["new_leader"].seconds, engine_bounds["new_leader"].formula)}


def _bound(bounds_s: Mapping[str, Any], key: str) -> tuple[float, str]:
    """(seconds, formula) from a pair or an engine Bound."""
    if key not in bounds_s:
        raise KeyError(f"bounds_s has no {key!r} bound (expected keys: zk_no_quorum, no_elected_master)")
    value = bounds_s[key]
    if hasattr(value, "seconds"):
        return float(value.seconds), str(getattr(value, "formula", ""))
    seconds, formula = value
    return float(seconds), str(formula)


def check(report: Mapping[str, Any], bounds_s: Mapping[str, Any], max_handovers: int,
          expected_agent_ids: Mapping[str, str] | None = None,
          max_poll_gap_s: float = MAX_POLL_GAP_S) -> list[str]:
    """The continuity violations of an analyse() report, as sentences with numbers ([] = all held).

    Flags: every ZooKeeper no-quorum / no-elected-master interval longer than its bound (bounds_s:
    "zk_no_quorum" and "no_elected_master" -> (seconds, formula), see handover_bounds()); either
    loss still open when the observation ended (its length is unknown); more than
    `max_handovers` changes of the elected master; any split brain; an agent that reported more
    than one id, or another id than expected_agent_ids[agent] (or none at all); and an
    observation with holes: no samples, a target never sampled, or more than `max_poll_gap_s`
    without a probe of some target (between probes, or at the edges of the window asked for).
    """
    problems: list[str] = []
    what = {"zk_no_quorum": ("ZooKeeper had no quorum", "ZooKeeper still had no quorum"),
            "no_elected_master": ("No master was elected", "Still no master was elected")}
    for key, (lost, still) in what.items():
        seconds, formula = _bound(bounds_s, key)
        for begin, finish in report[key]:
            if finish - begin > seconds:
                problems.append(f"{lost} for {finish - begin:.1f} s (from {begin:.1f}), bound {seconds:.1f} s "
                                f"({formula})")
        since = report.get("open_at_end", {}).get(key)
        if since is not None:
            problems.append(f"{still} when the observation ended (since {since:.1f}, "
                            f"{report['observed_to'] - since:.1f} s so far): the outage did not end while observed")
    if report["handovers"] > max_handovers:
        problems.append(f"{report['handovers']} leader handovers ({' -> '.join(report['elected_sequence'])}), "
                        f"at most {max_handovers} allowed")
    # The engine lists one finding per elected answer inside the other's run: overlaps first.
    brain = sorted(report["split_brain"], key=lambda item: " both elected " not in item)
    for item in brain[:SPLIT_BRAIN_SHOWN]:
        problems.append(f"Split brain: {item}")
    if len(brain) > SPLIT_BRAIN_SHOWN:
        problems.append(f"Split brain: {len(brain) - SPLIT_BRAIN_SHOWN} more overlapping-leader findings")
    ids: Mapping[str, Sequence[str]] = report["agent_ids"]
    for name in sorted(set(ids) | set(expected_agent_ids or {})):
        seen = list(ids.get(name, []))
        expected = (expected_agent_ids or {}).get(name)
        if len(seen) > 1:
            problems.append(f"Agent {name} changed its id: it reported {len(seen)} ids ({', '.join(seen)})"
                            + (f", expected {expected}" if expected else ""))
        elif expected is not None and not seen:
            problems.append(f"Agent {name} never reported its id (expected {expected})")
        elif expected is not None and seen[0] != expected:
            problems.append(f"Agent {name} reported id {seen[0]}, expected {expected}")
    if not report["samples"]:
        problems.append("The observation has no samples")
    for target in report.get("unsampled_targets", []):
        problems.append(f"The observer has no sample of {target}")
    if report["poll_gap_max_s"] > max_poll_gap_s:
        problems.append(f"The observer did not probe {report['poll_gap_max_target']} for "
                        f"{report['poll_gap_max_s']:.1f} s (limit {max_poll_gap_s:.1f} s): the analysis has a hole")
    if report.get("edge_gap_max_s", 0.0) > max_poll_gap_s:
        problems.append(f"The observer did not probe {report['edge_gap_target']} for {report['edge_gap_max_s']:.1f} s "
                        f"at an edge of the window (limit {max_poll_gap_s:.1f} s): the analysis has a hole")
    return problems


def summary_table(report: Mapping[str, Any]) -> str:
    """A short table for the test report: longest losses, handovers, elected sequence, samples."""
    rows = [("ZooKeeper without quorum", report["zk_no_quorum_max_s"], len(report["zk_no_quorum"])),
            ("no elected master", report["no_elected_master_max_s"], len(report["no_elected_master"]))]
    for name, longest in sorted(report["agent_unregistered_max_s"].items()):
        rows.append((f"agent {name} unregistered", longest, len(report["agent_unregistered"][name])))
    width = max(len(r[0]) for r in rows)
    lines = [f"{'LOSS':<{width}}  {'LONGEST':>8}  {'TIMES':>5}"]
    lines += [f"{label:<{width}}  {longest:>6.1f} s  {count:>5}" for label, longest, count in rows]
    sequence = " -> ".join(report["elected_sequence"]) or "none"
    lines.append(f"leader handovers: {report['handovers']} ({sequence})")
    lines.append(f"split brain: {len(report['split_brain'])} finding(s)" if report["split_brain"]
                 else "split brain: none")
    lines.append("agent ids: " + (", ".join(f"{n}={'/'.join(ids) or '?'}" for n, ids in
                                            sorted(report["agent_ids"].items())) or "no agents"))
    if report.get("open_at_end"):
        lines.append("still lost at the end: " + ", ".join(sorted(report["open_at_end"])))
    lines.append(f"samples: {report['samples']} over {report['observed_s']:.1f} s (ZooKeeper majority "
                 f"{report['zk_majority']} of {report['zk_members']}), largest poll gap "
                 f"{report['poll_gap_max_s']:.2f} s ({report['poll_gap_max_target'] or '-'})")
    return "\n".join(lines) + "\n"
