"""Fixtures for the ha-supervisor tests.

* makes ``roles/ha_supervisor/files/ha_supervisor.py`` importable as ``ha_supervisor``
  (and this directory's ``supervisor_harness`` helpers);
* ``notify`` / ``abstract_notify``: a fake NOTIFY_SOCKET that timestamps every datagram;
* ``supervise``: starts the real supervisor as a subprocess around ``fake_daemon.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable, Iterator, Optional

import pytest

sys.dont_write_bytecode = True  # keep __pycache__ out of roles/ha_supervisor/files (shipped to hosts)

HERE = Path(__file__).resolve().parent
FILES = HERE.parents[2] / "roles" / "ha_supervisor" / "files"
for _path in (FILES, HERE):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from supervisor_harness import (  # noqa: E402
    FAKE_DAEMON,
    SUPERVISOR,
    WATCHDOG_USEC,
    NotifyReceiver,
    SupervisorRun,
)


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[NotifyReceiver]:
    """A fake NOTIFY_SOCKET bound in tmp_path (or a short temp dir if the path is too long)."""
    path = tmp_path / "notify.sock"
    short_dir = None
    if len(str(path)) > 100:  # sun_path is 108 bytes
        short_dir = tempfile.mkdtemp(prefix="hasup")
        path = Path(short_dir) / "n.sock"
    receiver = NotifyReceiver(str(path))
    yield receiver
    receiver.close()
    if short_dir:
        path.unlink(missing_ok=True)
        os.rmdir(short_dir)


@pytest.fixture
def abstract_notify() -> Iterator[NotifyReceiver]:
    """A fake NOTIFY_SOCKET in the abstract namespace (``@name``)."""
    receiver = NotifyReceiver(f"@ha-supervisor-test-{uuid.uuid4().hex}")
    yield receiver
    receiver.close()


Supervise = Callable[..., SupervisorRun]


@pytest.fixture
def supervise(tmp_path: Path) -> Iterator[Supervise]:
    """Factory: ``supervise(supervisor_args, daemon_args, notify=..., env=...)``.

    ``daemon_args`` are the fake daemon's arguments; its --pid-file and
    --signal-file options are added.  ``watchdog_usec=None`` leaves WATCHDOG_USEC unset.
    """
    runs: list[SupervisorRun] = []

    def start(
        args: list[str],
        daemon_args: list[str],
        notify: Optional[NotifyReceiver] = None,
        watchdog_usec: Optional[int] = WATCHDOG_USEC,
        env: Optional[dict[str, str]] = None,
    ) -> SupervisorRun:
        run_env = {
            k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")
        }
        run_env["PYTHONUNBUFFERED"] = "1"
        if notify is not None:
            run_env["NOTIFY_SOCKET"] = notify.env_value
        if watchdog_usec is not None:
            run_env["WATCHDOG_USEC"] = str(watchdog_usec)
        run_env.update(env or {})
        daemon = [
            sys.executable,
            str(FAKE_DAEMON),
            *daemon_args,
            "--pid-file",
            str(tmp_path / "daemon.pid"),
            "--signal-file",
            str(tmp_path / "signals.log"),
        ]
        command = [sys.executable, str(SUPERVISOR), *args, "--", *daemon]
        stderr = open(tmp_path / "stderr.log", "wb")  # noqa: SIM115 (kept open by the child)
        started = time.monotonic()
        proc = subprocess.Popen(command, env=run_env, stdout=stderr, stderr=stderr, stdin=subprocess.DEVNULL)
        stderr.close()
        run = SupervisorRun(tmp_path, proc, started)
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.cleanup()
