"""READY / WATCHDOG behaviour of the real supervisor against fake daemons.

Timing: WATCHDOG_USEC=1s, --interval 0.25 (effective min(0.25, 1s/2) = 0.25), --timeout 0.2,
--failures 3.  After a hang, the last WATCHDOG=1 and WATCHDOG=trigger must come within
failures x interval + timeout (+ margin), and never before failures-1 intervals + timeout.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import time
from pathlib import Path

from supervisor_harness import (
    FAILURES,
    INTERVAL,
    TIMEOUT,
    TIMING_ARGS,
    NotifyReceiver,
    free_port,
    process_gone,
    wait_until,
)

MARGIN = 0.35
DETECTION_BOUND = FAILURES * INTERVAL + TIMEOUT + MARGIN
EARLIEST_DETECTION = (FAILURES - 1) * INTERVAL + TIMEOUT - 0.05


def health_probe(port: int) -> list[str]:
    return ["--probe", f"http:http://127.0.0.1:{port}/health"]


def assert_cadence(times: list[float], interval: float) -> None:
    """Pings come every ``interval``, never later than interval + timeout."""
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len(gaps) >= 3, times
    assert abs(statistics.median(gaps) - interval) < 0.06, gaps
    assert min(gaps) > interval * 0.5, gaps
    assert max(gaps) < interval + TIMEOUT, gaps


def test_slow_start_ready_once_then_watchdog_cadence(
    supervise, notify: NotifyReceiver, tmp_path: Path
) -> None:
    port = free_port()
    ready_file = tmp_path / "ready_at"
    run = supervise(
        [*TIMING_ARGS, "--name", "mesos-agent", *health_probe(port)],
        ["http", "--port", str(port), "--health", "slow:2", "--ready-file", str(ready_file)],
        notify=notify,
    )
    ready_at = notify.wait_for("READY=1", timeout=5)
    healthy_at = float(ready_file.read_text())
    # READY only after the daemon became healthy, and within one interval (+ slack) of it.
    assert healthy_at <= ready_at <= healthy_at + INTERVAL + 0.15
    assert ready_at - run.started >= 2.0
    time.sleep(1.3)
    pings = notify.times("WATCHDOG=1")
    texts = notify.texts()
    # Nothing but STATUS before READY; READY exactly once; WATCHDOG only after READY.
    assert (
        texts.index("READY=1") == max(i for i, m in enumerate(texts) if m.startswith("STATUS=starting")) + 1
    )
    assert texts.count("READY=1") == 1
    assert pings and min(pings) > ready_at
    assert 4 <= len(pings) <= 7, pings
    assert_cadence(pings, INTERVAL)
    assert notify.statuses()[0].startswith("starting")
    assert "healthy (1 probes passing)" in notify.statuses()
    assert not [m for m in texts if m.startswith("WATCHDOG=") and m != "WATCHDOG=1"]
    assert "ha-supervisor[mesos-agent]: daemon healthy after 2." in run.stderr
    assert all(line.startswith("ha-supervisor[mesos-agent]: ") for line in run.log_lines())


def test_sigstop_hang_stops_watchdog_triggers_and_sigabrt_kills(
    supervise, notify: NotifyReceiver, capsys
) -> None:
    port = free_port()
    run = supervise([*TIMING_ARGS, *health_probe(port)], ["http", "--port", str(port)], notify=notify)
    notify.wait_for("WATCHDOG=1", timeout=5, count=3)
    pid = run.daemon_pid()
    hung_at = time.monotonic()
    os.kill(pid, signal.SIGSTOP)
    trigger_at = notify.wait_for("WATCHDOG=trigger", timeout=DETECTION_BOUND + 1)
    time.sleep(0.6)  # no WATCHDOG=1 may follow the decision
    last_ping = max(notify.times("WATCHDOG=1"))
    assert last_ping < trigger_at
    assert last_ping - hung_at <= DETECTION_BOUND
    assert EARLIEST_DETECTION <= trigger_at - hung_at <= DETECTION_BOUND
    assert notify.texts().count("WATCHDOG=trigger") == 1
    assert notify.texts().count("READY=1") == 1
    run.wait_log(f"failed 3/3 (timed out after {TIMEOUT:g}s); withholding WATCHDOG=1", 1)
    assert run.stderr.count("withholding WATCHDOG=1") == 1
    assert any(s.startswith("unhealthy: probe http:") for s in notify.statuses())
    with capsys.disabled():
        print(
            f"\n[detection] SIGSTOP -> last WATCHDOG=1 {last_ping - hung_at:.2f}s, "
            f"-> WATCHDOG=trigger {trigger_at - hung_at:.2f}s (bound {DETECTION_BOUND:.2f}s)"
        )

    # systemd's watchdog action: SIGABRT to the main process.  The stopped daemon must die.
    aborted_at = time.monotonic()
    run.proc.send_signal(signal.SIGABRT)
    assert run.wait(timeout=3) == 134
    assert time.monotonic() - aborted_at < 1.0
    assert process_gone(pid), "stopped daemon survived SIGABRT (or was not reaped)"
    assert "watchdog abort" in run.stderr
    assert "daemon was killed by SIGKILL (status 137)" in run.stderr


def test_unhealthy_without_trigger_only_withholds(supervise, notify: NotifyReceiver, tmp_path: Path) -> None:
    """/health turns 503: with --no-trigger-on-failure the pings stop and nothing else is sent."""
    port = free_port()
    state = tmp_path / "state"
    state.write_text("ok")
    run = supervise(
        [*TIMING_ARGS, "--no-trigger-on-failure", *health_probe(port)],
        ["http", "--port", str(port), "--health", "state", "--state-file", str(state)],
        notify=notify,
    )
    notify.wait_for("WATCHDOG=1", timeout=5, count=2)
    state.write_text("fail")
    flipped_at = time.monotonic()
    run.wait_log("withholding WATCHDOG=1", DETECTION_BOUND + 1)
    decided_at = time.monotonic()
    time.sleep(0.6)
    last_ping = max(notify.times("WATCHDOG=1"))
    assert last_ping - flipped_at <= DETECTION_BOUND
    assert decided_at - flipped_at >= EARLIEST_DETECTION - TIMEOUT
    assert not [t for t in notify.times("WATCHDOG=1") if t > decided_at]
    assert "WATCHDOG=trigger" not in notify.texts()
    assert "failed 3/3 (HTTP 503); withholding WATCHDOG=1" in run.stderr
    assert "failed 1/3 (HTTP 503)" in run.stderr and "failed 2/3 (HTTP 503)" in run.stderr
    assert run.proc.poll() is None  # the supervisor waits for systemd's SIGABRT


def test_daemon_that_stops_answering_is_detected(
    supervise, notify: NotifyReceiver, tmp_path: Path, capsys
) -> None:
    """The daemon still runs and handles signals, but /health never answers any more."""
    port = free_port()
    state = tmp_path / "state"
    state.write_text("ok")
    run = supervise(
        [*TIMING_ARGS, *health_probe(port)],
        ["http", "--port", str(port), "--health", "state", "--state-file", str(state)],
        notify=notify,
    )
    notify.wait_for("WATCHDOG=1", timeout=5, count=2)
    state.write_text("hang")
    hung_at = time.monotonic()
    trigger_at = notify.wait_for("WATCHDOG=trigger", timeout=DETECTION_BOUND + 1)
    assert EARLIEST_DETECTION - 0.05 <= trigger_at - hung_at <= DETECTION_BOUND
    time.sleep(0.5)
    assert not [t for t in notify.times("WATCHDOG=1") if t > trigger_at]
    assert f"failed 3/3 (timed out after {TIMEOUT:g}s); withholding WATCHDOG=1" in run.stderr
    with capsys.disabled():
        print(f"\n[detection] /health stops answering -> WATCHDOG=trigger {trigger_at - hung_at:.2f}s")
    run.proc.send_signal(signal.SIGTERM)
    assert run.wait(timeout=2) == 0


def test_flapping_below_threshold_keeps_feeding(supervise, notify: NotifyReceiver) -> None:
    port = free_port()
    run = supervise(
        [*TIMING_ARGS, *health_probe(port)], ["http", "--port", str(port), "--health", "flap"], notify=notify
    )
    ready_at = notify.wait_for("READY=1", timeout=5)
    time.sleep(2.0)
    pings = [t for t in notify.times("WATCHDOG=1") if t > ready_at]
    assert len(pings) >= 6, pings
    assert_cadence(pings, INTERVAL)
    assert "WATCHDOG=trigger" not in notify.texts()
    assert "failed 1/3 (HTTP 503)" in run.stderr
    assert "recovered after 1 failed round(s)" in run.stderr
    assert "failed 2/3" not in run.stderr and "withholding" not in run.stderr
    assert any(s.startswith("degraded: ") for s in notify.statuses())


def test_zookeeper_follower_then_out_of_quorum(supervise, notify: NotifyReceiver, tmp_path: Path) -> None:
    port = free_port()
    state = tmp_path / "state"
    state.write_text("follower")
    run = supervise(
        [*TIMING_ARGS, "--name", "zookeeper", "--probe", f"zk:127.0.0.1:{port}"],
        ["zk", "--port", str(port), "--state-file", str(state)],
        notify=notify,
    )
    notify.wait_for("WATCHDOG=1", timeout=5, count=2)
    state.write_text("notserving")
    flipped_at = time.monotonic()
    trigger_at = notify.wait_for("WATCHDOG=trigger", timeout=DETECTION_BOUND + 1)
    assert EARLIEST_DETECTION - TIMEOUT <= trigger_at - flipped_at <= DETECTION_BOUND
    assert not [t for t in notify.times("WATCHDOG=1") if t > trigger_at]
    assert (
        f"ha-supervisor[zookeeper]: probe zk:127.0.0.1:{port} failed 3/3 "
        "(not currently serving requests (not in a quorum)); withholding WATCHDOG=1"
    ) in run.stderr


def test_sticky_metric_is_enforced_only_after_first_pass(
    supervise, notify: NotifyReceiver, tmp_path: Path
) -> None:
    port = free_port()
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"slave/registered": 0.0}))
    sticky = f"sticky:metric:http://127.0.0.1:{port}/metrics/snapshot#slave/registered=1"
    run = supervise(
        [*TIMING_ARGS, "--sticky-failures", "6", *health_probe(port), "--probe", sticky],
        ["http", "--port", str(port), "--metrics-file", str(metrics)],
        notify=notify,
    )
    # Not registered: READY anyway, and the watchdog keeps being fed well past --failures rounds.
    ready_at = notify.wait_for("READY=1", timeout=5)
    time.sleep((FAILURES + 3) * INTERVAL)
    assert len([t for t in notify.times("WATCHDOG=1") if t > ready_at]) >= FAILURES + 1
    assert "withholding" not in run.stderr
    # First registration arms it ...
    metrics.write_text(json.dumps({"slave/registered": 1.0}))
    run.wait_log("sticky probe sticky:metric:", 2)
    # ... and losing it trips only after --sticky-failures (6) rounds, not --failures (3).
    metrics.write_text(json.dumps({"slave/registered": 0.0}))
    lost_at = time.monotonic()
    trigger_at = notify.wait_for("WATCHDOG=trigger", timeout=6 * INTERVAL + 1.5)
    assert 5 * INTERVAL <= trigger_at - lost_at <= 6 * INTERVAL + TIMEOUT + MARGIN
    assert "failed 6/6 (slave/registered=0.0, expected 1); withholding WATCHDOG=1" in run.stderr


def test_interval_is_derived_from_watchdog_usec(supervise, notify: NotifyReceiver) -> None:
    """--interval 5 with WatchdogSec=0.6s: probe and ping every 0.3s."""
    port = free_port()
    run = supervise(
        ["--interval", "5", "--timeout", "0.1", *health_probe(port)],
        ["http", "--port", str(port)],
        notify=notify,
        watchdog_usec=600_000,
    )
    ready_at = notify.wait_for("READY=1", timeout=5)

    def received() -> list:
        return [t for t in notify.times("WATCHDOG=1") if t > ready_at]

    # Four gaps take 1.2 s at the expected cadence; 5 s leaves room for a slow first ping on a
    # loaded machine, and a 5 s cadence (--interval) would still produce at most one ping.
    wait_until(lambda: len(received()) >= 5, 5)
    pings = received()
    gaps = [b - a for a, b in zip(pings, pings[1:])]
    # The cadence follows WATCHDOG_USEC/2 (0.3 s), not --interval (5 s); the tolerance is for
    # a loaded CI machine.
    assert len(gaps) >= 3 and abs(statistics.median(gaps) - 0.3) < 0.08, gaps
    assert max(gaps) < 0.3 + 0.3, gaps
    assert "probing every 0.3s" in run.stderr


def test_foreign_watchdog_pid_disables_pings(supervise, abstract_notify: NotifyReceiver) -> None:
    """WATCHDOG_PID of another process: READY but no WATCHDOG=1 (also covers '@' sockets)."""
    port = free_port()
    run = supervise(
        [*TIMING_ARGS, *health_probe(port)],
        ["http", "--port", str(port)],
        notify=abstract_notify,
        env={"WATCHDOG_PID": "1"},
    )
    abstract_notify.wait_for("READY=1", timeout=5)
    time.sleep(4 * INTERVAL)
    assert "WATCHDOG=1" not in abstract_notify.texts()
    assert "WATCHDOG_PID is not ours" in run.stderr
    pid = run.daemon_pid()
    environ = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
    assert not [
        v for v in environ if v.split(b"=")[0] in (b"NOTIFY_SOCKET", b"WATCHDOG_USEC", b"WATCHDOG_PID")
    ]
