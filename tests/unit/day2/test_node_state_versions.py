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


def test_running_version_of_the_double_names_its_package(version_server) -> None:
    url = version_server({"version": "1.11.0", "mesos_double_package_version": "1.11.0-0.double2"})
    assert node_state.running_version(url, None) == "1.11.0 (1.11.0-0.double2)"


def test_running_version_without_an_answer() -> None:
    assert node_state.running_version("http://127.0.0.1:9", None) == ""


def test_package_version_of_a_missing_package() -> None:
    assert node_state.package_version("no-such-package-mesos-ha-test") == ""


def test_unit_state_reports_watchdog_and_since(monkeypatch) -> None:
    out = ("LoadState=loaded\nActiveState=active\nSubState=running\nNRestarts=2\nWatchdogUSec=20s\n"
           "ActiveEnterTimestamp=Sat 2026-11-28 18:00:00 UTC\nMainPID=42\n")

    class Done:
        stdout = out

    monkeypatch.setattr(node_state.subprocess, "run", lambda *a, **k: Done())
    assert node_state.unit_state("mesos-master.service") == {
        "state": "active", "sub": "running", "restarts": 2, "watchdog": True, "watchdog_usec": "20s",
        "since": "Sat 2026-11-28 18:00:00 UTC", "pid": 42}
