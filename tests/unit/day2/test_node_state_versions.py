"""playbooks/files/node_state.py: the versions and unit fields the status report and the gate use."""
from __future__ import annotations

import http.server
import importlib.util
import json
import threading
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location(
    "node_state_versions", Path(__file__).resolve().parents[3] / "playbooks/files/node_state.py")
node_state = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(node_state)


class Version(http.server.BaseHTTPRequestHandler):
    body: dict = {}

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path != "/version":
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.end_headers()
        self.wfile.write(json.dumps(self.body).encode())

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass


@pytest.fixture
def version_server():
    def serve(body: dict) -> str:
        handler = type("Handler", (Version,), {"body": body})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"
    servers: list = []
    yield serve
    for server in servers:
        server.shutdown()


def test_running_version_of_real_mesos(version_server) -> None:
    url = version_server({"version": "1.11.0", "build_date": "2021-06-06"})
    assert node_state.running_version(url, None) == "1.11.0"


def test_running_version_without_an_answer() -> None:
    assert node_state.running_version("http://127.0.0.1:9", None) == ""


def test_package_info_of_a_missing_package() -> None:
    assert node_state.package_info("no-such-package-mesos-ha-test") == {"version": ""}


def test_package_info_of_an_installed_package() -> None:
    """dpkg (this machine is Debian) reports the version and the install time of a real package."""
    info = node_state.package_info("dpkg")
    assert info["version"] and info["installed_at"] > 1_000_000_000


def _fake_systemctl(monkeypatch, out: str) -> None:
    class Done:
        stdout = out

    monkeypatch.setattr(node_state.subprocess, "run", lambda *a, **k: Done())


def test_unit_state_reports_watchdog_since_and_start(monkeypatch) -> None:
    _fake_systemctl(monkeypatch, "LoadState=loaded\nActiveState=active\nSubState=running\nNRestarts=2\n"
                                 "WatchdogUSec=20s\nActiveEnterTimestamp=@1796150000\n"
                                 "ExecMainStartTimestamp=@1796149998\nMainPID=42\n")
    assert node_state.unit_state("mesos-master.service") == {
        "state": "active", "sub": "running", "restarts": 2, "watchdog": True, "watchdog_usec": "20s",
        "since": "2026-12-01 18:33:20 UTC", "started_at": 1796149998.0, "pid": 42}


def test_unit_state_of_an_unknown_unit(monkeypatch) -> None:
    _fake_systemctl(monkeypatch, "LoadState=not-found\nActiveState=inactive\n")
    assert node_state.unit_state("nope.service") == {"state": "absent"}


@pytest.mark.parametrize("unit,package,pending", [
    ({"state": "active", "started_at": 100.0}, {"version": "2", "installed_at": 200.0}, True),
    ({"state": "active", "started_at": 300.0}, {"version": "2", "installed_at": 200.0}, False),
    ({"state": "failed", "started_at": 100.0}, {"version": "2", "installed_at": 200.0}, False),
    ({"state": "active", "started_at": 100.0}, {"version": ""}, False),
])
def test_restart_pending_when_the_package_is_newer_than_the_process(unit, package, pending) -> None:
    assert node_state.restart_pending(unit, package) is pending
