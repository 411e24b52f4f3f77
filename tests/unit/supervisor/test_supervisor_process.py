"""Process handling of the real supervisor: exit statuses, signals, start timeout, secrets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from supervisor_harness import (
    INTERVAL,
    SUPERVISOR,
    TIMING_ARGS,
    NotifyReceiver,
    free_port,
    process_gone,
    wait_until,
)


def test_dead_daemon_status_is_mirrored(supervise, notify: NotifyReceiver) -> None:
    run = supervise([*TIMING_ARGS, "--name", "fake", "--probe", "tcp:127.0.0.1:9"], ["dead"], notify=notify)
    assert run.wait(timeout=5) == 3
    assert "READY=1" not in notify.texts() and "WATCHDOG=1" not in notify.texts()
    assert "ha-supervisor[fake]: daemon exited with status 3" in run.stderr
    assert "fake daemon: failing at once" in run.stderr  # the daemon's stderr is passed through
    assert notify.statuses()[-1] == "daemon exited with status 3"


def test_runs_without_notify_socket(supervise) -> None:
    run = supervise([*TIMING_ARGS], ["dead", "--exit-code", "0"], notify=None, watchdog_usec=None)
    assert run.wait(timeout=5) == 0
    assert "NOTIFY_SOCKET is not set; running without systemd notifications" in run.stderr


def test_killed_daemon_gives_128_plus_signal(supervise, notify: NotifyReceiver) -> None:
    port = free_port()
    run = supervise(
        [*TIMING_ARGS, "--probe", f"tcp:127.0.0.1:{port}"], ["http", "--port", str(port)], notify=notify
    )
    notify.wait_for("WATCHDOG=1", timeout=5)
    os.kill(run.daemon_pid(), signal.SIGKILL)
    assert run.wait(timeout=3) == 137
    assert "daemon was killed by SIGKILL (status 137)" in run.stderr


def test_sigterm_is_forwarded_and_status_mirrored(supervise, notify: NotifyReceiver) -> None:
    port = free_port()
    run = supervise(
        [*TIMING_ARGS, "--probe", f"http:http://127.0.0.1:{port}/health"],
        ["http", "--port", str(port)],
        notify=notify,
    )
    notify.wait_for("READY=1", timeout=5)
    for sig, name in (
        (signal.SIGHUP, "HUP"),
        (signal.SIGUSR1, "USR1"),
        (signal.SIGUSR2, "USR2"),
        (signal.SIGINT, "INT"),
        (signal.SIGQUIT, "QUIT"),
    ):
        run.proc.send_signal(sig)
        assert wait_until(lambda: run.signals()[-1:] == [name], 2), run.signals()
    assert run.proc.poll() is None  # forwarding alone does not stop anything
    sent_at = time.monotonic()
    run.proc.send_signal(signal.SIGTERM)
    assert run.wait(timeout=3) == 0  # the fake daemon exits 0 on SIGTERM
    assert time.monotonic() - sent_at < 1.0
    assert run.signals() == ["HUP", "USR1", "USR2", "INT", "QUIT", "TERM"]
    assert "received SIGTERM; forwarding to daemon" in run.stderr
    assert "STOPPING=1" in notify.texts()


def test_sigterm_ignored_leads_to_sigkill_after_stop_timeout(supervise, notify: NotifyReceiver) -> None:
    port = free_port()
    run = supervise(
        [*TIMING_ARGS, "--stop-timeout", "0.8", "--probe", f"tcp:127.0.0.1:{port}"],
        ["http", "--port", str(port), "--ignore-term"],
        notify=notify,
    )
    notify.wait_for("READY=1", timeout=5)
    pid = run.daemon_pid()
    sent_at = time.monotonic()
    run.proc.send_signal(signal.SIGTERM)
    assert run.wait(timeout=4) == 137
    # Not before the stop timeout; the upper bound only rules out a much longer wait (a loaded
    # CI machine adds scheduling delay, so it is loose).
    assert 0.8 <= time.monotonic() - sent_at < 2.5
    assert run.signals() == ["TERM"]
    assert process_gone(pid)
    assert "daemon still running 0.8s after SIGTERM; sending SIGKILL" in run.stderr


def test_start_timeout_stops_daemon_and_exits_124(supervise, notify: NotifyReceiver, tmp_path: Path) -> None:
    """A ZooKeeper member outside a quorum never becomes ready."""
    port = free_port()
    state = tmp_path / "state"
    state.write_text("notserving")
    run = supervise(
        [*TIMING_ARGS, "--start-timeout", "1.0", "--stop-timeout", "1", "--probe", f"zk:127.0.0.1:{port}"],
        ["zk", "--port", str(port), "--state-file", str(state), "--ignore-term"],
        notify=notify,
    )
    pid = run.daemon_pid()
    assert run.wait(timeout=5) == 124
    elapsed = time.monotonic() - run.started
    assert 2.0 <= elapsed < 3.0  # 1s start timeout + 1s stop timeout (the daemon ignores SIGTERM)
    assert process_gone(pid)
    assert "READY=1" not in notify.texts() and "WATCHDOG=1" not in notify.texts()
    assert "not currently serving requests" in run.stderr
    assert "daemon not healthy after 1s" in run.stderr
    assert "exiting with status 124" in run.stderr


def test_secrets_are_used_but_never_printed(supervise, notify: NotifyReceiver, tmp_path: Path) -> None:
    secret = "s3cr3t-Zq81"
    port = free_port()
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps({"principal": "ops", "secret": secret}))
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"registrar/log/recovered": 1.0}))
    probe = f"metric:http://127.0.0.1:{port}/metrics/snapshot#registrar/log/recovered=1"
    run = supervise(
        [*TIMING_ARGS, "--http-credentials", str(creds), "--probe", probe],
        ["http", "--port", str(port), "--metrics-file", str(metrics), "--auth", f"ops:{secret}"],
        notify=notify,
    )
    notify.wait_for("READY=1", timeout=5)  # only possible with the right Basic auth header
    run.proc.send_signal(signal.SIGTERM)
    run.wait(timeout=3)

    # Wrong credentials: the 401 is reported, the secret still is not.
    creds.write_text(json.dumps({"principal": "ops", "secret": "wrong-" + secret}))
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    port2 = free_port()
    daemon = [
        sys.executable,
        str(Path(__file__).parent / "fake_daemon.py"),
        "http",
        "--port",
        str(port2),
        "--metrics-file",
        str(metrics),
        "--auth",
        f"ops:{secret}",
    ]
    probe2 = probe.replace(str(port), str(port2))
    result = subprocess.run(
        [
            sys.executable,
            str(SUPERVISOR),
            *TIMING_ARGS,
            "--start-timeout",
            "0.8",
            "--stop-timeout",
            "1",
            "--http-credentials",
            str(creds),
            "--probe",
            probe2,
            "--",
            *daemon,
        ],
        env=env,
        capture_output=True,
        timeout=10,
        text=True,
    )
    assert result.returncode == 124
    assert "HTTP 401" in result.stderr
    for output in (run.stderr, result.stderr, result.stdout, "\n".join(notify.texts())):
        assert secret not in output
        assert "b3BzOn" not in output  # base64 of "ops:" (the Authorization header)


def test_usage_errors_and_missing_executable(tmp_path: Path) -> None:
    def sup(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(SUPERVISOR), *args], capture_output=True, text=True, timeout=10
        )

    assert sup("--probe", "bogus:x").returncode == 2
    assert sup("--probe", "tcp:127.0.0.1:1").returncode == 2  # no daemon
    assert sup("--probe", "tcp:nope", "--", "/bin/true").returncode == 2
    missing = sup("--interval", str(INTERVAL), "--", str(tmp_path / "no-such-daemon"))
    assert missing.returncode == 127 and "not found" in missing.stderr
    help_text = sup("--help")
    assert help_text.returncode == 0 and "--sticky-failures" in help_text.stdout


def test_daemon_dies_with_a_killed_supervisor(supervise, notify: NotifyReceiver) -> None:
    """KillMode=process (the agent's unit) lets systemd SIGKILL the supervisor alone: the daemon
    must not outlive it (parent-death signal), or a second agent would start beside it."""
    port = free_port()
    run = supervise([*TIMING_ARGS, "--probe", f"tcp:127.0.0.1:{port}"], ["http", "--port", str(port)], notify=notify)
    notify.wait_for("READY=1", timeout=5)
    daemon = run.daemon_pid()
    os.kill(run.proc.pid, signal.SIGKILL)
    run.proc.wait(timeout=3)
    assert wait_until(lambda: process_gone(daemon), 3), f"daemon {daemon} outlived its supervisor"


def test_passed_sockets_reach_the_daemon(tmp_path: Path) -> None:
    """A socket systemd passes (LISTEN_FDS/LISTEN_PID) is handed on with LISTEN_PID naming the daemon."""
    import socket as socketlib

    listener = socketlib.socket(socketlib.AF_UNIX, socketlib.SOCK_STREAM)
    listener.bind(str(tmp_path / "s.sock"))
    listener.listen()
    report = tmp_path / "report"
    script = (f"import os,stat; open({str(report)!r},'w').write("
              "f\"{os.environ.get('LISTEN_PID')} {os.getpid()} {os.environ.get('LISTEN_FDNAMES')} "
              "{stat.S_ISSOCK(os.fstat(3).st_mode)}\")")
    # systemd's side: the socket on fd 3, and LISTEN_PID naming the supervisor (set by exec'ing it).
    launcher = ('import os,sys; os.dup2(int(sys.argv[1]), 3); os.environ.update(LISTEN_PID=str(os.getpid()), '
                'LISTEN_FDS="1", LISTEN_FDNAMES="executors"); os.execv(sys.executable, [sys.executable] + sys.argv[2:])')
    proc = subprocess.run([sys.executable, "-c", launcher, str(listener.fileno()), str(SUPERVISOR), "--",
                           sys.executable, "-c", script], pass_fds=(listener.fileno(),), timeout=10,
                          capture_output=True, text=True, check=False)
    listener.close()
    assert proc.returncode == 0, proc.stderr
    listen_pid, pid, names, is_socket = report.read_text().split()
    assert listen_pid == pid and names == "executors" and is_socket == "True"
