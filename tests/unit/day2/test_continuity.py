"""tests/lib/mesos_ha_testlib/continuity.py: outage intervals, handovers and the verdict from
synthetic observer samples (no network; the watch() tests replace the engine's probes)."""
from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))
from mesos_ha_testlib import continuity  # noqa: E402  (path set up above)

engine = continuity.engine

T0 = 1_796_152_800.0  # wall clock of the synthetic run's start
DT = 0.15             # the observer's poll interval
TIMING = engine.Timing(tick_s=1.0, init_limit=5, sync_limit=2, zk_session_timeout_s=10.0,
                       registration_backoff_s=1.0, agent_total_ping_s=75.0, master_watchdog_s=20.0,
                       master_restart_s=2.0, agent_watchdog_s=30.0, agent_restart_s=2.0, zk_restart_s=2.0)
BOUNDS = continuity.handover_bounds(TIMING)  # zk_no_quorum 10 s, no_elected_master 22 s
AGENT_IDS = {"agent1": "a1-S0", "agent2": "a2-S1"}

MasterState = Callable[[str, float], str]       # -> "elected" | "follower" | "down"
ZkState = Callable[[str, float], str]           # -> srvr mode ("down" = no answer)
AgentState = Callable[[str, float], "tuple[bool, str] | None"]  # -> (registered, id) or None = down


def make_cluster(zookeepers: int = 3) -> object:
    """3 masters (node1-3), 2 agents and `zookeepers` ZooKeeper members (node1..nodeN)."""
    def nodes(names: list[str]) -> list:
        return [engine.Node(n, f"10.0.0.{i}", n) for i, n in enumerate(names, 1)]
    return engine.Cluster(nodes(["node1", "node2", "node3"]), nodes(["agent1", "agent2"]),
                          nodes([f"node{i}" for i in range(1, zookeepers + 1)]))


def steady_masters(name: str, t: float) -> str:
    return "elected" if name == "node1" else "follower"


def steady_zk(name: str, t: float) -> str:
    return "leader" if name == "node3" else "follower"


def steady_agents(name: str, t: float) -> tuple[bool, str] | None:
    return True, AGENT_IDS[name]


def run(cluster: object, seconds: float = 200.0, masters: MasterState = steady_masters, zk: ZkState = steady_zk,
        agents: AgentState = steady_agents, hole: tuple[str, float, float] | None = None) -> list:
    """Samples of every target every DT for `seconds` (t relative to T0; each target a few ms
    apart, each probe 20 ms); `hole` = (target, from, to) drops that target's probes."""
    samples = []
    targets = ([("master", n.name) for n in cluster.masters] + [("agent", n.name) for n in cluster.agents]
               + [("zk", n.name) for n in cluster.zookeepers])
    for k in range(int(seconds / DT) + 1):
        for index, (role, name) in enumerate(targets):
            t = k * DT + index * 0.003
            if hole and hole[0] == f"{role}/{name}" and hole[1] <= t < hole[2]:
                continue
            t0, t1 = T0 + t, T0 + t + 0.02
            if role == "master":
                state = masters(name, t)
                # The elected master lists the agents registered with it (active_ids), as /master/state does.
                active = sorted(a[1] for n in cluster.agents if (a := agents(n.name, t)) is not None and a[0])
                samples.append(engine.Sample("master", name, t0, t1, False, error="refused") if state == "down"
                               else engine.Sample("master", name, t0, t1, True, elected=state == "elected",
                                                  active_ids=active if state == "elected" else None))
            elif role == "agent":
                agent = agents(name, t)
                samples.append(engine.Sample("agent", name, t0, t1, False, error="refused") if agent is None
                               else engine.Sample("agent", name, t0, t1, True, detected=True,
                                                  agent_id=agent[1]))
            else:
                mode = zk(name, t)
                samples.append(engine.Sample("zk", name, t0, t1, mode != "down", mode=mode))
    return sorted(samples, key=lambda s: s.t1)


def handover_masters(name: str, t: float) -> str:
    """node1 leads, is stopped at 100 (back as follower at 105), node2 is elected at 111."""
    if name == "node1":
        return "elected" if t < 100 else "down" if t < 105 else "follower"
    if name == "node2":
        return "elected" if t >= 111 else "follower"
    return "follower"


def zk_election_at(begin: float, length: float) -> ZkState:
    """The ZooKeeper leader node3 is killed at `begin`; node1 leads `length` s later."""
    def mode(name: str, t: float) -> str:
        if t < begin:
            return steady_zk(name, t)
        if name == "node3":
            return "down" if t < begin + length + 5 else "follower"
        if t < begin + length:
            return "not-serving"
        return "leader" if name == "node1" else "follower"
    return mode


# ============================================================================ analyse + check
def test_clean_run_with_one_handover_and_a_short_zk_election_passes() -> None:
    cluster = make_cluster()
    report = continuity.analyse(cluster, run(cluster, masters=handover_masters, zk=zk_election_at(50.0, 1.0)))
    assert report["no_elected_master_max_s"] == pytest.approx(11.0, abs=0.2)
    assert len(report["no_elected_master"]) == 1
    assert report["no_elected_master"][0][0] == pytest.approx(T0 + 100.0, abs=0.2)
    assert report["zk_no_quorum_max_s"] == pytest.approx(1.0, abs=0.2)
    assert report["elected_sequence"] == ["node1", "node2"] and report["handovers"] == 1
    assert report["elected_changes"][1][0] == pytest.approx(T0 + 111.0, abs=0.2)
    assert report["split_brain"] == []
    assert report["agent_ids"] == {"agent1": ["a1-S0"], "agent2": ["a2-S1"]}
    # Registration is the elected master's word: while no master is elected no agent is registered.
    assert report["agent_unregistered_max_s"] == {"agent1": pytest.approx(11.0, abs=0.2),
                                                  "agent2": pytest.approx(11.0, abs=0.2)}
    assert report["poll_gap_max_s"] == pytest.approx(DT, abs=0.01)
    assert report["observed_s"] == pytest.approx(200.0, abs=0.2)
    assert report["samples"] == len(run(cluster)) and report["open_at_end"] == {}
    assert continuity.check(report, BOUNDS, max_handovers=1, expected_agent_ids=AGENT_IDS) == []
    json.dumps(report)  # the report goes into the test's JSON report as it is
    table = continuity.summary_table(report)
    assert "leader handovers: 1 (node1 -> node2)" in table
    assert re.search(r"no elected master\s+11\.\d s\s+1", table), table


def test_long_zk_gap_fails_with_the_bound_in_the_message() -> None:
    cluster = make_cluster()
    report = continuity.analyse(cluster, run(cluster, zk=zk_election_at(50.0, 15.0)))
    assert report["zk_no_quorum_max_s"] == pytest.approx(15.0, abs=0.2)
    problems = continuity.check(report, BOUNDS, max_handovers=1)
    assert len(problems) == 1, problems
    assert re.fullmatch(r"ZooKeeper had no quorum for 1[45]\.\d s \(from 17961528(49|50)\.\d\), bound 10\.0 s "
                        r"\(\(syncLimit 2 \+ initLimit 5\) x tickTime 1 \+ 3\)", problems[0]), problems


def test_overlapping_elected_masters_are_split_brain() -> None:
    cluster = make_cluster()

    def masters(name: str, t: float) -> str:
        return "elected" if name == "node1" or (name == "node2" and 60 <= t < 70) else "follower"
    report = continuity.analyse(cluster, run(cluster, masters=masters))
    assert report["split_brain"], report
    assert any("node1 and node2 both elected" in p for p in report["split_brain"])
    assert report["elected_sequence"] == ["node1"]  # node1 never stopped leading: no handover
    problems = continuity.check(report, BOUNDS, max_handovers=1)
    assert problems and all(p.startswith("Split brain") for p in problems), problems
    assert problems[0].startswith("Split brain: node1 and node2 both elected during [17961528")
    assert len(problems) <= continuity.SPLIT_BRAIN_SHOWN + 1  # dozens of findings, summarised


def test_a_changed_agent_id_is_reported() -> None:
    cluster = make_cluster()

    def agents(name: str, t: float) -> tuple[bool, str] | None:
        if name == "agent1" and t >= 80:
            return None if t < 85 else (t >= 88, "a1-S7")  # replaced: new id, registered at 88
        return True, AGENT_IDS[name]
    report = continuity.analyse(cluster, run(cluster, agents=agents))
    assert report["agent_ids"]["agent1"] == ["a1-S0", "a1-S7"]
    assert report["agent_unregistered_max_s"]["agent1"] == pytest.approx(8.0, abs=0.2)
    problems = continuity.check(report, BOUNDS, max_handovers=1, expected_agent_ids=AGENT_IDS)
    assert problems == ["Agent agent1 changed its id: it reported 2 ids (a1-S0, a1-S7), expected a1-S0"]
    other = continuity.check(report | {"agent_ids": {"agent1": ["a1-S0"], "agent2": ["zz"]}}, BOUNDS, 1,
                             {**AGENT_IDS, "agent3": "a3"})
    assert other == ["Agent agent2 reported id zz, expected a2-S1", "Agent agent3 never reported its id (expected a3)"]


def test_five_zk_members_keep_quorum_with_two_down_but_not_three() -> None:
    cluster = make_cluster(zookeepers=5)

    def two_down(name: str, t: float) -> str:
        return "down" if name in ("node4", "node5") else steady_zk(name, t)

    def three_down(name: str, t: float) -> str:
        return "down" if name in ("node4", "node5") or (name == "node2" and 50 <= t < 60) else steady_zk(name, t)
    report = continuity.analyse(cluster, run(cluster, zk=two_down))
    assert report["zk_majority"] == 3 and report["zk_no_quorum"] == []
    report = continuity.analyse(cluster, run(cluster, zk=three_down))
    assert report["zk_no_quorum_max_s"] == pytest.approx(10.0, abs=0.2)
    assert report["zk_no_quorum"][0][0] == pytest.approx(T0 + 50.0, abs=0.2)
    # The same samples seen as the 3-member ensemble (before growth): two of three serve.
    report = continuity.analyse(make_cluster(3), run(cluster, zk=three_down))
    assert report["zk_majority"] == 2 and report["zk_no_quorum"] == []


def test_an_interval_open_at_the_end_is_closed_at_the_last_sample() -> None:
    cluster = make_cluster()
    samples = run(cluster, zk=lambda name, t: "not-serving" if t >= 190 else steady_zk(name, t))
    report = continuity.analyse(cluster, samples)
    (begin, finish), = report["zk_no_quorum"]
    assert begin == pytest.approx(T0 + 190.0, abs=0.2)
    assert finish == pytest.approx(samples[-1].t1, abs=0.001) == report["observed_to"]
    assert report["zk_no_quorum_max_s"] == pytest.approx(10.0, abs=0.2)
    assert report["open_at_end"] == {"zk_no_quorum": pytest.approx(begin, abs=0.001)}
    problems = continuity.check(report, BOUNDS, max_handovers=1)
    assert len(problems) == 1 and problems[0].startswith("ZooKeeper still had no quorum when the observation ended")


def test_a_hole_in_the_sampling_is_reported() -> None:
    cluster = make_cluster()
    report = continuity.analyse(cluster, run(cluster, hole=("master/node2", 100.0, 103.5)))
    assert report["poll_gap_max_target"] == "master/node2"
    assert report["poll_gap_max_s"] == pytest.approx(3.6, abs=0.16)
    problems = continuity.check(report, BOUNDS, max_handovers=1)
    assert len(problems) == 1 and re.match(r"The observer did not probe master/node2 for 3\.\d s \(limit 2\.0 s\)",
                                           problems[0]), problems
    short = continuity.analyse(cluster, run(cluster, hole=("zk/node1", 100.0, 101.5)))
    assert 1.4 < short["poll_gap_max_s"] < 2.0
    assert continuity.check(short, BOUNDS, max_handovers=1) == []


def test_a_gap_then_the_same_master_is_no_handover_and_too_many_handovers_fail() -> None:
    cluster = make_cluster()

    def back(name: str, t: float) -> str:
        return ("follower" if 100 <= t < 105 else "elected") if name == "node1" else "follower"
    report = continuity.analyse(cluster, run(cluster, masters=back))
    assert report["elected_sequence"] == ["node1"] and report["handovers"] == 0
    assert report["no_elected_master_max_s"] == pytest.approx(5.0, abs=0.2)

    def pingpong(name: str, t: float) -> str:
        leader = "node1" if t < 50 else "node2" if t < 100 else "node1" if t < 150 else "node3"
        return "elected" if name == leader else "follower"
    report = continuity.analyse(cluster, run(cluster, masters=pingpong))
    assert report["elected_sequence"] == ["node1", "node2", "node1", "node3"] and report["handovers"] == 3
    assert report["split_brain"] == []
    assert continuity.check(report, BOUNDS, max_handovers=3) == []
    assert continuity.check(report, BOUNDS, max_handovers=2) == [
        "3 leader handovers (node1 -> node2 -> node1 -> node3), at most 2 allowed"]


def test_window_and_edges() -> None:
    cluster = make_cluster()
    samples = run(cluster, masters=handover_masters)
    report = continuity.analyse(cluster, samples, start=T0 + 50.0, end=T0 + 105.0)
    assert report["observed_from"] >= T0 + 49.98 and report["observed_to"] <= T0 + 105.0
    # The open interval (node2 only elected at 111) ends at the window's last sample.
    assert report["open_at_end"] == {"no_elected_master": pytest.approx(T0 + 100.0, abs=0.2),
                                     "agent_unregistered/agent1": pytest.approx(T0 + 100.0, abs=0.2),
                                     "agent_unregistered/agent2": pytest.approx(T0 + 100.0, abs=0.2)}
    assert report["edge_gap_max_s"] < 0.2
    # A window reaching past the observation (observer stopped early) has an uncovered edge.
    report = continuity.analyse(cluster, samples, start=T0 + 150.0, end=T0 + 205.0)
    assert report["edge_gap_max_s"] == pytest.approx(5.0, abs=0.2)
    assert any("at an edge of the window" in p for p in continuity.check(report, BOUNDS, 1))
    empty = continuity.analyse(cluster, samples, start=T0 + 500.0)
    assert empty["samples"] == 0 and len(empty["unsampled_targets"]) == 8
    assert "The observation has no samples" in continuity.check(empty, BOUNDS, 1)


def test_handover_bounds_are_the_engines() -> None:
    bounds = continuity.handover_bounds(TIMING)
    assert bounds["zk_no_quorum"] == (10.0, "(syncLimit 2 + initLimit 5) x tickTime 1 + 3")
    seconds, formula = bounds["no_elected_master"]
    assert seconds == pytest.approx(10.0 + 1.0 + engine.REGISTRY_MARGIN + engine.DETECT_MARGIN)
    assert formula.startswith("zk_session_timeout 10 + tickTime 1")
    scaled = continuity.handover_bounds(TIMING, 0.5)
    assert scaled["zk_no_quorum"][0] == 5.0 and scaled["zk_no_quorum"][1].endswith("x scale 0.5")
    # check() also takes the engine's Bound objects.
    raw = engine.bounds(TIMING)
    cluster = make_cluster()
    report = continuity.analyse(cluster, run(cluster, zk=zk_election_at(50.0, 15.0)))
    assert continuity.check(report, {"zk_no_quorum": raw["zk_reelection"], "no_elected_master": raw["new_leader"]},
                            1) == continuity.check(report, BOUNDS, 1)


# ============================================================================ watch (fake probes)
@pytest.fixture
def fake_probes(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Replace the engine's probes with instant synthetic answers (optionally a slow ZooKeeper)."""
    def install(zk_delay: float = 0.0) -> None:
        def master(cluster: object, node: object) -> object:
            now = time.time()
            elected = node.name == "node1"
            return engine.Sample("master", node.name, now, now, True, elected=elected,
                                 active_ids=sorted(AGENT_IDS.values()) if elected else None)

        def agent(cluster: object, node: object) -> object:
            now = time.time()
            return engine.Sample("agent", node.name, now, now, True, detected=True, agent_id=AGENT_IDS[node.name])

        def zk(cluster: object, node: object) -> object:
            time.sleep(zk_delay)
            now = time.time()
            return engine.Sample("zk", node.name, now, now, True, mode=steady_zk(node.name, 0))
        monkeypatch.setattr(engine, "probe_master", master)
        monkeypatch.setattr(engine, "probe_agent", agent)
        monkeypatch.setattr(engine, "probe_zk", zk)
    return install


def test_watch_keeps_the_samples_and_writes_the_sink(fake_probes: Callable[..., None], tmp_path: Path) -> None:
    fake_probes()
    cluster = make_cluster()
    sink = tmp_path / "out" / "samples.jsonl"
    sink.parent.mkdir()
    sink.write_text("stale line from an earlier run\n", encoding="utf-8")
    with continuity.watch(cluster, sink=sink) as seen:
        view = seen.view()
        assert all(view.get(role, name) for role, name in continuity._targets(cluster)), "not ready"
        assert seen.running
        time.sleep(0.6)
    assert not seen.running and not seen.stopped_early
    kept = seen.samples
    assert len(kept) >= 8 * 2 and kept == sorted(kept, key=lambda s: s.t1)
    assert len(engine.read_samples(sink)) == len(kept)
    assert "stale" not in sink.read_text(encoding="utf-8")
    time.sleep(0.2)
    assert len(seen.samples) == len(kept)  # stopped: nothing is added any more
    report = seen.analyse()
    assert report["elected_sequence"] == ["node1"] and report["zk_no_quorum"] == []
    assert continuity.check(report, BOUNDS, 0, AGENT_IDS) == []


def test_watch_reports_an_observer_that_stopped_early(fake_probes: Callable[..., None]) -> None:
    fake_probes()
    with continuity.watch(make_cluster(), max_seconds=0.4) as seen:
        time.sleep(1.2)
    assert seen.stopped_early
    report = seen.analyse()
    assert report["edge_gap_max_s"] >= 0.6
    assert any("at an edge of the window" in p for p in continuity.check(report, BOUNDS, 0, max_poll_gap_s=0.5))


def test_watch_times_out_naming_the_targets_never_sampled(fake_probes: Callable[..., None]) -> None:
    fake_probes(zk_delay=1.0)
    with pytest.raises(TimeoutError, match=r"never sampled: zk/node1, zk/node2, zk/node3"):
        with continuity.watch(make_cluster(), ready_timeout=0.3):
            pytest.fail("the block must not run before every target was sampled")
