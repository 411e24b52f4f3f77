"""The .deb build: fields, files, version override, reproducibility, binaries' --version."""

import os
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.abspath(os.path.join(HERE, "..", "..", "mesos_double", "build-deb.sh"))


def build(tmp_path, *args):
    r = subprocess.run(["bash", BUILD, "--out", str(tmp_path)] + list(args),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    deb = r.stdout.strip().splitlines()[-1]
    assert os.path.isfile(deb)
    return deb


def field(deb, name):
    return subprocess.run(["dpkg-deb", "-f", deb, name], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_default_package(tmp_path):
    deb = build(tmp_path)
    assert os.path.basename(deb) == "aventer-mesos_1.11.0-0.double1_all.deb"
    info = subprocess.run(["dpkg-deb", "-I", deb], capture_output=True, text=True,
                          check=True).stdout
    assert "Package: aventer-mesos" in info
    assert field(deb, "Version") == "1.11.0-0.double1"
    assert field(deb, "Architecture") == "all"
    assert field(deb, "Depends") == "python3, python3-kazoo"
    desc = field(deb, "Description")
    assert "protocol double" in desc.lower() and "NOT Apache Mesos" in desc
    listing = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True,
                             check=True).stdout
    lines = {ln.split()[-1]: ln for ln in listing.splitlines()}
    for exe in ("./usr/sbin/mesos-master", "./usr/sbin/mesos-agent"):
        assert exe in lines and lines[exe].startswith("-rwxr-xr-x root/root")
    for mod in ("master.py", "agent.py", "flags.py", "zk.py", "registry.py", "_pkgversion.py"):
        assert "./usr/lib/mesos-double/mesos_double/" + mod in lines
    assert not any("__pycache__" in k for k in lines)


def test_version_override_and_reproducible(tmp_path):
    a = build(tmp_path / "a", "--version", "1.11.0-0.double2", "--name", "mesos-double-test")
    b = build(tmp_path / "b", "--version=1.11.0-0.double2", "--name=mesos-double-test")
    assert field(a, "Version") == "1.11.0-0.double2"
    assert field(a, "Package") == "mesos-double-test"
    with open(a, "rb") as fa, open(b, "rb") as fb:
        assert fa.read() == fb.read()


def test_installed_layout_runs(tmp_path):
    deb = build(tmp_path, "--version", "1.11.0-0.double9")
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", deb, str(root)], check=True)
    lib = root / "usr" / "lib" / "mesos-double"
    pkgv = (lib / "mesos_double" / "_pkgversion.py").read_text()
    assert '"1.11.0-0.double9"' in pkgv
    for role in ("master", "agent"):
        exe = root / "usr" / "sbin" / ("mesos-" + role)
        assert exe.read_text().startswith("#!/usr/bin/python3\n")
        # run the installed script against the extracted library path
        code = exe.read_text().replace("/usr/lib/mesos-double", str(lib))
        r = subprocess.run(["python3", "-c", code, "--version"], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 0 and r.stdout.strip() == "mesos 1.11.0", r.stderr


def test_bad_arguments(tmp_path):
    r = subprocess.run(["bash", BUILD, "--bogus"], capture_output=True, text=True)
    assert r.returncode == 2
    r = subprocess.run(["bash", BUILD, "--version", "not a version", "--out", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 2


@pytest.mark.parametrize("role", ["master", "agent"])
def test_version_endpoint_exposes_package_version(role, procs, tmp_path):
    from mesos_double_testlib import free_port, get_json, wait_until
    port = free_port()
    if role == "master":
        procs.master(port, extra=["--registry=in_memory"])
    else:
        procs.agent(port, "127.0.0.1:%d" % free_port())
    v = wait_until(lambda: get_json(port, "/version"), 10, what="/version")
    assert v["version"] == "1.11.0" and "mesos_double_package_version" in v


LOADER_ERROR = ("%s: error while loading shared libraries: libmesos-1.11.0.so: cannot open "
                "shared object file: No such file or directory\n")


def listing_names(deb):
    out = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True,
                         check=True).stdout
    return sorted(ln.split()[-1] for ln in out.splitlines())


def test_broken_build_binaries_fail_like_a_missing_shared_library(tmp_path):
    version = "1.11.0-0.double3"
    broken = build(tmp_path / "broken", "--broken", "--version", version)
    normal = build(tmp_path / "normal", "--version", version)
    # Same package name, the given version, same dependencies and the same files layout.
    assert os.path.basename(broken) == "aventer-mesos_%s_all.deb" % version
    for name in ("Package", "Version", "Architecture", "Depends"):
        assert field(broken, name) == field(normal, name), name
    assert field(broken, "Version") == version
    assert listing_names(broken) == listing_names(normal)
    desc = field(broken, "Description")
    assert "broken on purpose" in desc.lower() and "upgrade tests" in desc.lower(), desc
    assert "broken" not in field(normal, "Description").lower()

    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", broken, str(root)], check=True)
    for role in ("master", "agent"):
        exe = root / "usr" / "sbin" / ("mesos-" + role)
        assert os.access(exe, os.X_OK)
        for args in ([], ["--version"], ["--help"], ["--work_dir=/tmp/x"]):
            r = subprocess.run([str(exe)] + args, capture_output=True, text=True, timeout=10)
            assert r.returncode == 127, (role, args, r)
            assert r.stdout == ""
            assert r.stderr == LOADER_ERROR % exe, r.stderr


def test_normal_build_binaries_unaffected_by_the_broken_option(tmp_path):
    deb = build(tmp_path, "--version", "1.11.0-0.double3")
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", deb, str(root)], check=True)
    lib = root / "usr" / "lib" / "mesos-double"
    for role in ("master", "agent"):
        exe = root / "usr" / "sbin" / ("mesos-" + role)
        code = exe.read_text()
        assert code.startswith("#!/usr/bin/python3\n") and "error while loading" not in code
        r = subprocess.run(["python3", "-c", code.replace("/usr/lib/mesos-double", str(lib)),
                            "--version"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and r.stdout.strip() == "mesos 1.11.0", r.stderr
