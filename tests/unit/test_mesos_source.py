"""tools/mesos-source.sh: where the sandbox and the tests get Mesos from, decided once."""
from __future__ import annotations

import http.server
import os
import subprocess
import threading
from pathlib import Path
from typing import Iterator

import pytest
import yaml

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "mesos-source.sh"
UNREACHABLE = "http://127.0.0.1:9/Debian"


def run(out: Path, shared: Path, repository: str = UNREACHABLE, package: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MESOS_PACKAGE_FILE"}
    if package is not None:
        env["MESOS_PACKAGE_FILE"] = package
    return subprocess.run(["bash", str(SCRIPT), str(out), str(shared), repository], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def source(out: Path) -> dict:
    return yaml.safe_load((out / "mesos-source.yml").read_text())


def test_the_setting_wins(tmp_path: Path) -> None:
    deb = tmp_path / "mine.deb"
    deb.write_bytes(b"x")
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "aventer-mesos_1.11.0-0.10.0.debian12_amd64.deb").write_bytes(b"y")
    done = run(tmp_path / "out", shared, package=str(deb))
    assert done.returncode == 0, done.stderr
    assert source(tmp_path / "out") == {"mesos_common_install_method": "package_file",
                                        "mesos_common_package_file": str(deb)}


def test_a_setting_that_is_no_file_stops_with_its_name(tmp_path: Path) -> None:
    done = run(tmp_path / "out", tmp_path, package=str(tmp_path / "missing.deb"))
    assert done.returncode == 1
    assert "MESOS_PACKAGE_FILE is" in done.stderr and "missing.deb" in done.stderr
    assert not (tmp_path / "out" / "mesos-source.yml").exists()


def test_the_newest_shared_package_beside_the_checkout(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    for version in ("1.11.0-0.9.0.debian12", "1.11.0-0.10.0.debian12", "1.11.0-0.2.0.debian12"):
        (shared / f"aventer-mesos_{version}_amd64.deb").write_bytes(b"y")
    done = run(tmp_path / "out", shared)
    assert done.returncode == 0, done.stderr
    assert source(tmp_path / "out")["mesos_common_package_file"].endswith("aventer-mesos_1.11.0-0.10.0.debian12_amd64.deb")


@pytest.fixture
def repository() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            ok = self.path == "/Debian/dists/bookworm/Release"
            self.send_response(200 if ok else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/Debian"
    server.shutdown()
    server.server_close()


def test_the_repository_when_it_answers(tmp_path: Path, repository: str) -> None:
    done = run(tmp_path / "out", tmp_path / "empty", repository)
    assert done.returncode == 0, done.stderr
    assert source(tmp_path / "out")["mesos_common_install_method"] == "repository"


def test_no_source_stops_naming_the_setting_and_both_sources(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "mesos-source.yml").write_text("stale")
    done = run(out, tmp_path / "empty")
    assert done.returncode == 1
    for phrase in ("MESOS_PACKAGE_FILE is not set", "aventer-mesos_*.deb", "AVENTER's repository", UNREACHABLE):
        assert phrase in done.stderr, done.stderr
    assert not (out / "mesos-source.yml").exists(), "a stale source survived"
