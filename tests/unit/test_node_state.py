"""playbooks/files/node_state.py: the status report's probes, against local fake services."""
from __future__ import annotations

import http.server
import importlib.util
import socket
import threading
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location(
    "node_state", Path(__file__).resolve().parents[2] / "playbooks/files/node_state.py")
node_state = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(node_state)


@pytest.fixture
def fake_zk():
    """A one-shot four-letter-word server answering like a ZooKeeper follower."""
    server = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            received.append(conn.recv(16))
            conn.sendall(b"Zookeeper version: 3.8.0-debian, built on 2024\nZxid: 0x100000002\nMode: follower\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], received
    server.close()


def test_zk_state_parses_srvr(fake_zk) -> None:
    port, received = fake_zk
    state = node_state.zk_state("127.0.0.1", port)
    assert received == [b"srvr"]
    assert state == {"mode": "follower", "version": "3.8.0-debian", "zxid": "0x100000002"}


def test_zk_state_reports_down_when_nothing_listens() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    assert node_state.zk_state("127.0.0.1", port) == {"mode": "down"}


class Redirecting(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path == "/redirect":
            self.send_response(307)
            self.send_header("Location", "//node2:5050")
            self.end_headers()
        else:
            seen = self.headers.get("Authorization", "")
            body = b'{"master/elected": 1.0, "auth": "%s"}' % seen.encode()
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_http_get_keeps_redirects_and_sends_basic_auth() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        status, headers, _ = node_state.http_get(f"{base}/redirect", None, None)
        assert (status, headers["Location"]) == (307, "//node2:5050")
        status, _, body = node_state.http_get(f"{base}/metrics/snapshot", ("ops", "s3cret"), None)
        assert status == 200 and body["master/elected"] == 1
        assert body["auth"] == "Basic b3BzOnMzY3JldA=="
    finally:
        server.shutdown()


def test_zk_version_drops_debians_unexpanded_placeholder(monkeypatch) -> None:
    """Debian's zookeeper says '3.8.0-${mvngit.commit.id}'; the report shows the release (the
    package version is reported beside it)."""
    monkeypatch.setattr(node_state, "four_letter", lambda *args: (
        "Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-04-07 12:54 UTC\nMode: leader\n"))
    assert node_state.zk_state("127.0.0.1", 2181)["version"] == "3.8.0"
    monkeypatch.setattr(node_state, "four_letter", lambda *args: "This ZooKeeper instance is not currently serving\n")
    assert node_state.zk_state("127.0.0.1", 2181)["mode"] == "not-serving"
