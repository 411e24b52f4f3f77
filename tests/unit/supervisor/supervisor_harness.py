"""Helpers for the ha-supervisor tests: fake NOTIFY_SOCKET, supervisor runs, timing constants.

All timestamps are ``time.monotonic()`` values, which are comparable across processes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

REPO = Path(__file__).resolve().parents[3]
FILES = REPO / "roles" / "ha_supervisor" / "files"
SUPERVISOR = FILES / "ha_supervisor.py"
FAKE_DAEMON = Path(__file__).resolve().parent / "fake_daemon.py"

# Timing used by the subprocess tests: WatchdogSec=1s, probe every 0.25s, 0.2s timeout.
WATCHDOG_USEC = 1_000_000
INTERVAL = 0.25
TIMEOUT = 0.2
FAILURES = 3
TIMING_ARGS = ["--interval", str(INTERVAL), "--timeout", str(TIMEOUT), "--failures", str(FAILURES)]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], object], timeout: float, step: float = 0.02) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


def process_gone(pid: int) -> bool:
    """True when ``pid`` no longer exists (a zombie still counts as existing)."""
    return not os.path.exists(f"/proc/{pid}")


class NotifyReceiver:
    """Binds the fake NOTIFY_SOCKET and records ``(monotonic time, message)``."""

    def __init__(self, address: str) -> None:
        self.env_value = address
        bind_to = "\0" + address[1:] if address.startswith("@") else address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(bind_to)
        self.sock.settimeout(0.1)
        self.messages: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self.messages.append((time.monotonic(), data.decode()))

    def times(self, message: str) -> list[float]:
        """Receive times of every datagram equal to ``message``."""
        return [t for t, m in list(self.messages) if m == message]

    def texts(self) -> list[str]:
        return [m for _, m in list(self.messages)]

    def statuses(self) -> list[str]:
        return [m[len("STATUS=") :] for m in self.texts() if m.startswith("STATUS=")]

    def wait_for(self, message: str, timeout: float, count: int = 1) -> float:
        """Wait until ``message`` was received ``count`` times; return the last time."""
        assert wait_until(
            lambda: len(self.times(message)) >= count, timeout
        ), f"{message!r} x{count} not received within {timeout}s; got {self.texts()}"
        return self.times(message)[count - 1]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1)
        self.sock.close()


class SupervisorRun:
    """The supervisor under test, its fake daemon and their files."""

    def __init__(self, tmp_path: Path, proc: subprocess.Popen[bytes], started: float) -> None:
        self.tmp_path = tmp_path
        self.proc = proc
        self.started = started
        self.stderr_path = tmp_path / "stderr.log"
        self.pid_file = tmp_path / "daemon.pid"
        self.signal_file = tmp_path / "signals.log"
        self.state_file = tmp_path / "state"
        self.metrics_file = tmp_path / "metrics.json"
        self.ready_file = tmp_path / "ready_at"

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def log_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("ha-supervisor[")]

    def wait_log(self, text: str, timeout: float) -> None:
        assert wait_until(
            lambda: text in self.stderr, timeout
        ), f"{text!r} not logged; stderr:\n{self.stderr}"

    def daemon_pid(self, timeout: float = 5.0) -> int:
        assert wait_until(lambda: self.pid_file.exists() and self.pid_file.read_text().strip(), timeout)
        return int(self.pid_file.read_text())

    def signals(self) -> list[str]:
        return self.signal_file.read_text().split() if self.signal_file.exists() else []

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"supervisor still running after {timeout}s; stderr:\n{self.stderr}")

    def cleanup(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        if self.pid_file.exists() and self.pid_file.read_text().strip():
            pid = int(self.pid_file.read_text())
            for sig in (signal.SIGKILL, signal.SIGCONT):
                try:
                    os.kill(pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
