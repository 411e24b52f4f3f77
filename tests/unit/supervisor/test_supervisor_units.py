"""In-process tests of ha_supervisor's parsing and probe helpers."""

from __future__ import annotations

import base64
import http.server
import json
import socketserver
import threading
from pathlib import Path
from typing import Iterator

import pytest

import ha_supervisor as hs

# --------------------------------------------------------------------------- parsing


def test_probe_specs_are_parsed() -> None:
    settings = hs.HttpSettings()
    http = hs.parse_probe("http:http://127.0.0.1:5051/health", settings)
    assert isinstance(http, hs.HttpProbe) and not http.sticky
    assert http.label == "http:http://127.0.0.1:5051/health"

    metric = hs.parse_probe(
        "sticky:metric:http://127.0.0.1:5051/metrics/snapshot#slave/registered=1", settings
    )
    assert isinstance(metric, hs.MetricProbe) and metric.sticky
    assert (metric.url, metric.key, metric.expected) == (
        "http://127.0.0.1:5051/metrics/snapshot",
        "slave/registered",
        "1",
    )
    assert metric.label == "sticky:metric:http://127.0.0.1:5051/metrics/snapshot#slave/registered=1"

    zk = hs.parse_probe("zk:10.0.0.1:2181", settings)
    assert isinstance(zk, hs.ZooKeeperProbe) and zk.address == ("10.0.0.1", 2181)
    tcp = hs.parse_probe("tcp:[::1]:5050", settings)
    assert isinstance(tcp, hs.TcpProbe) and tcp.address == ("::1", 5050)


@pytest.mark.parametrize(
    "spec",
    [
        "health:http://x/",
        "http:",
        "http:ftp://x/",
        "zk:host",
        "zk:host:0",
        "tcp:host:99999",
        "metric:http://x/metrics",
        "metric:http://x/metrics#key",
        "nonsense",
    ],
)
def test_invalid_probe_specs_are_rejected(spec: str) -> None:
    with pytest.raises(hs.UsageError):
        hs.parse_probe(spec, hs.HttpSettings())


def test_url_credentials_never_appear_in_labels() -> None:
    probe = hs.parse_probe("http:http://admin:hunter2@127.0.0.1:5050/health", hs.HttpSettings())
    assert "hunter2" not in probe.label and probe.label == "http:http://127.0.0.1:5050/health"
    with pytest.raises(hs.UsageError) as err:
        hs.parse_probe("metric:http://admin:hunter2@127.0.0.1:5050/x", hs.HttpSettings())
    assert "hunter2" not in str(err.value)


@pytest.mark.parametrize(
    "actual, expected, match",
    [
        (1.0, "1", True),
        (1, "1.0", True),
        (0.0, "1", False),
        (True, "true", True),
        (False, "1", False),
        ("leader", "leader", True),
        ("x", "y", False),
        (1.0, "one", False),
        (None, "null", True),
    ],
)
def test_values_match(actual: object, expected: str, match: bool) -> None:
    assert hs.values_match(actual, expected) is match


def test_notify_address_and_watchdog_env() -> None:
    assert hs.notify_address("/run/systemd/notify") == "/run/systemd/notify"
    assert hs.notify_address("@foo") == b"\0foo"
    assert hs.watchdog_usec({"WATCHDOG_USEC": "4000000"}, 42) == 4_000_000
    assert hs.watchdog_usec({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "42"}, 42) == 4_000_000
    assert hs.watchdog_usec({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "7"}, 42) is None
    assert hs.watchdog_usec({}, 42) is None
    assert hs.watchdog_usec({"WATCHDOG_USEC": "junk"}, 42) is None


def test_exit_status_mapping() -> None:
    assert hs.exit_status(3) == 3
    assert hs.exit_status(-9) == 137
    assert hs.exit_status(-15) == 143
    assert hs.EXIT_WATCHDOG_ABORT == 134


def test_defaults() -> None:
    config = hs.load_config(["--", "/usr/sbin/mesos-agent", "--work_dir=/var/lib/mesos"])
    assert config.command == ["/usr/sbin/mesos-agent", "--work_dir=/var/lib/mesos"]
    assert config.name == "mesos-agent"
    assert (config.interval, config.timeout, config.failures, config.sticky_failures) == (2.0, 2.0, 3, 30)
    assert (config.start_timeout, config.stop_timeout) == (120.0, 20.0)
    assert config.trigger_on_failure is True and config.insecure is False and config.probe == []


def test_config_file_is_overridden_by_cli(tmp_path: Path) -> None:
    path = tmp_path / "sup.json"
    path.write_text(
        json.dumps(
            {
                "name": "zk",
                "probe": ["zk:127.0.0.1:2181"],
                "interval": 5,
                "failures": 4,
                "trigger-on-failure": False,
                "command": ["/usr/bin/zkServer.sh", "start-foreground"],
            }
        )
    )
    config = hs.load_config(["--config", str(path), "--interval", "1.5", "--trigger-on-failure"])
    assert config.name == "zk" and config.failures == 4 and config.interval == 1.5
    assert config.trigger_on_failure is True
    assert config.command == ["/usr/bin/zkServer.sh", "start-foreground"]
    config = hs.load_config(["--config", str(path), "--probe", "tcp:127.0.0.1:2181", "--", "/bin/true"])
    assert config.probe == ["tcp:127.0.0.1:2181"] and config.command == ["/bin/true"]
    assert config.trigger_on_failure is False


@pytest.mark.parametrize(
    "argv",
    [
        ["--interval", "1"],  # no daemon
        ["--interval", "0", "--", "/bin/true"],
        ["--failures", "0", "--", "/bin/true"],
        ["--bogus", "--", "/bin/true"],
        ["--client-key", "k.pem", "--", "/bin/true"],
    ],
)
def test_bad_command_lines_are_usage_errors(argv: list[str]) -> None:
    with pytest.raises(hs.UsageError):
        hs.load_config(argv)


def test_bad_config_keys_and_credentials_are_usage_errors(tmp_path: Path) -> None:
    path = tmp_path / "sup.json"
    path.write_text(json.dumps({"intervall": 2}))
    with pytest.raises(hs.UsageError, match="unknown key"):
        hs.load_config(["--config", str(path), "--", "/bin/true"])
    creds = tmp_path / "creds"
    creds.write_text('{"principal": "ops", "secret": "t0p-s3cret"')  # broken JSON
    with pytest.raises(hs.UsageError) as err:
        hs.read_credentials(str(creds))
    assert "t0p-s3cret" not in str(err.value)
    assert hs.main(["--http-credentials", str(creds), "--", "/bin/true"]) == hs.EXIT_USAGE


# --------------------------------------------------------------------------- probes against local servers


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True


@pytest.fixture
def zk_server() -> Iterator[tuple[int, dict[str, bytes]]]:
    replies = {"ruok": b"imok", "srvr": b"Zookeeper version: 3.8.0\nMode: follower\nNode count: 5\n"}

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            word = self.request.recv(4).decode()
            self.request.sendall(replies.get(word, b""))

    server = _Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], replies
    server.shutdown()
    server.server_close()


def test_zk_probe(zk_server: tuple[int, dict[str, bytes]]) -> None:
    port, replies = zk_server
    probe = hs.ZooKeeperProbe(f"127.0.0.1:{port}")
    assert probe.check(1.0) == hs.ProbeResult(True, "Mode: follower")
    for mode in ("leader", "standalone", "observer"):
        replies["srvr"] = f"Mode: {mode}\n".encode()
        assert probe.check(1.0).ok
    replies["srvr"] = b"This ZooKeeper instance is not currently serving requests\n"
    result = probe.check(1.0)
    assert not result.ok and "not currently serving requests" in result.detail
    replies["srvr"] = b"Mode: follower\n"
    replies["ruok"] = b"ruok is not executed because it is not in the whitelist.\n"
    result = probe.check(1.0)
    assert not result.ok and "whitelist" in result.detail


def test_tcp_and_zk_probes_report_refused_connections() -> None:
    with socketserver.TCPServer(("127.0.0.1", 0), socketserver.BaseRequestHandler) as server:
        port = server.server_address[1]
    assert hs.TcpProbe(f"127.0.0.1:{port}").check(0.5) == hs.ProbeResult(False, "connection refused")
    assert hs.ZooKeeperProbe(f"127.0.0.1:{port}").check(0.5) == hs.ProbeResult(False, "connection refused")


@pytest.fixture
def http_server() -> Iterator[tuple[int, dict[str, object]]]:
    state: dict[str, object] = {"health": 200, "metrics": {"registrar/log/recovered": 1.0}, "auth": None}

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            state["last_auth"] = self.headers.get("Authorization")
            if self.path == "/health":
                status, body = int(state["health"]), b""  # type: ignore[call-overload]
            elif self.path == "/redirect":
                self.send_response(307)
                self.send_header("Location", "/health")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            else:
                status, body = 200, json.dumps(state["metrics"]).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], state
    server.shutdown()
    server.server_close()


def test_http_probe(http_server: tuple[int, dict[str, object]], monkeypatch: pytest.MonkeyPatch) -> None:
    port, state = http_server
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # must be ignored
    probe = hs.HttpProbe(f"http://127.0.0.1:{port}/health", hs.HttpSettings(credentials=("ops", "pw")))
    assert probe.check(1.0) == hs.ProbeResult(True, "HTTP 200")
    assert state["last_auth"] == "Basic " + base64.b64encode(b"ops:pw").decode()
    state["health"] = 503
    assert probe.check(1.0) == hs.ProbeResult(False, "HTTP 503")
    redirect = hs.HttpProbe(f"http://127.0.0.1:{port}/redirect", hs.HttpSettings())
    assert redirect.check(1.0) == hs.ProbeResult(False, "HTTP 307")


def test_metric_probe(http_server: tuple[int, dict[str, object]]) -> None:
    port, state = http_server
    probe = hs.MetricProbe(
        f"http://127.0.0.1:{port}/metrics/snapshot#registrar/log/recovered=1", hs.HttpSettings()
    )
    assert probe.check(1.0).ok
    state["metrics"] = {"registrar/log/recovered": 0.0}
    result = probe.check(1.0)
    assert not result.ok and result.detail == "registrar/log/recovered=0.0, expected 1"
    state["metrics"] = {}
    assert probe.check(1.0) == hs.ProbeResult(False, "registrar/log/recovered not in response")


def test_https_is_verified_by_default() -> None:
    probe = hs.HttpProbe("https://127.0.0.1:5051/health", hs.HttpSettings())
    handler = next(h for h in probe.opener.handlers if isinstance(h, hs.urllib.request.HTTPSHandler))
    context = handler._context  # type: ignore[attr-defined]
    assert context.verify_mode == hs.ssl.CERT_REQUIRED and context.check_hostname
    insecure = hs.HttpProbe("https://127.0.0.1:5051/health", hs.HttpSettings(insecure=True))
    handler = next(h for h in insecure.opener.handlers if isinstance(h, hs.urllib.request.HTTPSHandler))
    assert handler._context.verify_mode == hs.ssl.CERT_NONE  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- registration by the leader


@pytest.fixture
def mesos_cluster() -> Iterator[dict[str, object]]:
    """An agent (/state with its id) and three masters: one elected (/master/slaves answers 200),
    two that redirect to it (307), as the real ones do."""
    state: dict[str, object] = {"agent_id": "A-S0", "leader": 1, "slaves": [{"id": "A-S0", "active": True}],
                                "queries": []}

    def make(kind: str, index: int) -> http.server.ThreadingHTTPServer:
        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                if kind == "agent":
                    body = json.dumps({"id": state["agent_id"]}).encode()
                elif index != state["leader"]:
                    self.send_response(307)
                    self.send_header("Location", "//leader:5050/master/slaves")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                else:
                    state["queries"].append(self.path)  # type: ignore[union-attr]
                    body = json.dumps({"slaves": state["slaves"]}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    servers = [make("agent", -1)] + [make("master", i) for i in range(3)]
    urls = [f"http://127.0.0.1:{s.server_address[1]}" for s in servers]
    state["spec"] = f"registered:{urls[0]}|{','.join(urls[1:])}"
    yield state
    for server in servers:
        server.shutdown()
        server.server_close()


def test_registered_probe_asks_the_elected_master(mesos_cluster: dict[str, object]) -> None:
    probe = hs.parse_probe(str(mesos_cluster["spec"]), hs.HttpSettings())
    assert isinstance(probe, hs.RegisteredProbe)
    assert probe.check(2.0) == hs.ProbeResult(True, "agent A-S0 active on the elected master")
    assert mesos_cluster["queries"] == ["/master/slaves?slave_id=A-S0"]
    mesos_cluster["slaves"] = [{"id": "A-S0", "active": False}]
    assert probe.check(2.0) == hs.ProbeResult(False, "agent A-S0 is not active on the elected master")
    mesos_cluster["slaves"] = []
    assert probe.check(2.0) == hs.ProbeResult(False, "the elected master does not list agent A-S0")
    mesos_cluster["leader"] = 7  # nobody elected: every master redirects
    result = probe.check(2.0)
    assert not result.ok and result.detail.startswith("no elected master answered (HTTP 307")


def test_registered_probe_follows_a_new_leader_and_needs_an_id(mesos_cluster: dict[str, object]) -> None:
    probe = hs.parse_probe(str(mesos_cluster["spec"]), hs.HttpSettings())
    mesos_cluster["leader"] = 2
    assert probe.check(2.0).ok
    mesos_cluster["agent_id"] = ""
    fresh = hs.parse_probe(str(mesos_cluster["spec"]), hs.HttpSettings())
    assert fresh.check(2.0) == hs.ProbeResult(False, "the agent has no id yet (never registered)")


@pytest.mark.parametrize("spec", ["registered:http://a:5051", "registered:http://a:5051|", "registered:|http://m:5050"])
def test_registered_probe_spec_needs_agent_and_masters(spec: str) -> None:
    with pytest.raises(hs.UsageError):
        hs.parse_probe(spec, hs.HttpSettings())


def test_check_once_prints_the_result(mesos_cluster: dict[str, object], capsys: pytest.CaptureFixture[str]) -> None:
    assert hs.main(["--check", str(mesos_cluster["spec"]), "--timeout", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["detail"] == "agent A-S0 active on the elected master"
    mesos_cluster["slaves"] = []
    assert hs.main(["--check", str(mesos_cluster["spec"])]) == 1
    assert json.loads(capsys.readouterr().out)["ok"] is False
    assert hs.main(["--check", "nonsense"]) == hs.EXIT_USAGE


def test_socket_activation_descriptors_go_to_the_daemon() -> None:
    env = {"LISTEN_PID": "42", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "executors:other", "PATH": "/bin"}
    command, fds = hs.listen_fds_for_daemon(["/usr/bin/mesos-agent", "--x"], env, 42)
    assert fds == (3, 4)
    assert command[:3] == ["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$0" "$@"'] and command[3:] == ["/usr/bin/mesos-agent", "--x"]
    assert "LISTEN_PID" not in env and env["LISTEN_FDS"] == "2" and env["LISTEN_FDNAMES"] == "executors:other"
    others = {"LISTEN_PID": "7", "LISTEN_FDS": "1"}  # passed to someone else: not ours to hand on
    assert hs.listen_fds_for_daemon(["/bin/true"], others, 42) == (["/bin/true"], ())
    assert others == {}
