"""The tarball method's download step (roles/zookeeper/tasks/tarball-fetch.yml) against a local
file:// archive: the right sha512 installs, a wrong one fails before anything is stored or
unpacked. No network."""
from __future__ import annotations

import hashlib
import io
import sys
import tarfile

import pytest
import yaml

VERSION = "9.9.9"
TOP = f"apache-zookeeper-{VERSION}-bin"


@pytest.fixture
def archive(tmp_path):
    path = tmp_path / "release" / f"{TOP}.tar.gz"
    path.parent.mkdir()
    with tarfile.open(path, "w:gz") as tar:
        payload = b"not really a jar"
        info = tarfile.TarInfo(f"{TOP}/lib/zookeeper-{VERSION}.jar")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    return path


def playbook(tmp_path, archive, sha512: str) -> str:
    play = [{
        "name": "Fetch a release tarball",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars": {
            "ansible_python_interpreter": sys.executable,
            "zookeeper_version": VERSION,
            "zookeeper_tarball_url": archive.as_uri(),
            "zookeeper_tarball_sha512": sha512,
            "zookeeper_tarball_download_dir": str(tmp_path / "cache"),
            "zookeeper_tarball_install_dir": str(tmp_path / "opt"),
        },
        "tasks": [{"name": "Fetch", "ansible.builtin.include_role": {"name": "zookeeper",
                                                                      "tasks_from": "tarball-fetch.yml"}}],
    }]
    path = tmp_path / "fetch.yml"
    path.write_text(yaml.safe_dump(play, sort_keys=False))
    return str(path)


def run(ansible_playbook, tmp_path, archive, sha512):
    return ansible_playbook("-i", "localhost,", playbook(tmp_path, archive, sha512))


def test_right_checksum_installs_and_is_idempotent(tmp_path, ansible_playbook, archive):
    sha512 = hashlib.sha512(archive.read_bytes()).hexdigest()
    first = run(ansible_playbook, tmp_path, archive, sha512)
    assert first.returncode == 0, first.stdout + first.stderr
    assert (tmp_path / "opt" / TOP / "lib" / f"zookeeper-{VERSION}.jar").is_file()
    assert (tmp_path / "cache" / f"{TOP}.tar.gz").is_file()
    again = run(ansible_playbook, tmp_path, archive, sha512)
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout


def test_wrong_checksum_fails_before_anything_is_stored_or_unpacked(tmp_path, ansible_playbook, archive):
    wrong = hashlib.sha512(b"some other release").hexdigest()
    result = run(ansible_playbook, tmp_path, archive, wrong)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "did not match" in output, output
    assert not (tmp_path / "cache" / f"{TOP}.tar.gz").exists()
    assert list((tmp_path / "opt").iterdir()) == []


def test_missing_checksum_is_refused(tmp_path, ansible_playbook, archive):
    result = run(ansible_playbook, tmp_path, archive, "")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "zookeeper_tarball_sha512 must be the 128-hex-digit sha512" in " ".join(output.split())
    assert not (tmp_path / "opt").exists()
