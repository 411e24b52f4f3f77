"""Helpers and fixtures for the Mesos double tests (real ZooKeeper, subprocesses)."""

import base64
import http.client as httpclient
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
DOUBLE_DIR = os.path.abspath(os.path.join(HERE, "..", "..", "mesos_double"))
ZK_JAR = "/usr/share/java/zookeeper.jar"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(fn, timeout, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
        except (OSError, ValueError, httpclient.HTTPException) as exc:
            last = exc
            last_ok = False
        else:
            last_ok = bool(last)
        if last_ok:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %.1fs waiting for %s (last: %r)" % (timeout, what, last))


def http(method, port, path, auth=None, body=None, timeout=3.0, https=False, host="127.0.0.1"):
    """Returns (status, headers dict (lower-case keys), body bytes); never follows redirects."""
    if https:
        import ssl
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn = httpclient.HTTPSConnection(host, port, timeout=timeout, context=ctx)
    else:
        conn = httpclient.HTTPConnection(host, port, timeout=timeout)
    headers = {}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(("%s:%s" % auth).encode()).decode()
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def get(port, path, **kw):
    return http("GET", port, path, **kw)


def get_json(port, path, **kw):
    status, _, body = get(port, path, **kw)
    assert status == 200, (path, status, body)
    return json.loads(body)


def metrics(port, **kw):
    return get_json(port, "/metrics/snapshot", **kw)


class Proc:
    def __init__(self, role, args, env, workdir, name):
        self.role = role
        self.args = args
        self.name = name
        self.log_path = os.path.join(workdir, name + ".log")
        self._log = open(self.log_path, "ab")
        full_env = {k: v for k, v in os.environ.items()
                    if not k.startswith("MESOS_") and not k.startswith("LIBPROCESS_")}
        full_env["PYTHONPATH"] = DOUBLE_DIR
        full_env["PYTHONDONTWRITEBYTECODE"] = "1"
        full_env.update(env or {})
        self.popen = subprocess.Popen([sys.executable, "-m", "mesos_double", role] + list(args),
                                      stdout=self._log, stderr=subprocess.STDOUT, env=full_env,
                                      cwd=workdir)
        self.pid = self.popen.pid

    def log(self):
        with open(self.log_path, "rb") as fh:
            return fh.read().decode("utf-8", "replace")

    def alive(self):
        return self.popen.poll() is None

    def kill(self, sig=signal.SIGKILL):
        if self.alive():
            os.kill(self.pid, sig)

    def wait(self, timeout):
        return self.popen.wait(timeout=timeout)


class Procs:
    """Starts masters/agents as subprocesses and kills exactly those at teardown."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.all = []

    def start(self, role, args, env=None, name=None):
        name = name or "%s-%d" % (role, len(self.all))
        p = Proc(role, args, env, self.workdir, name)
        self.all.append(p)
        return p

    def master(self, port, zk=None, quorum=None, work_dir=None, extra=(), env=None, name=None):
        args = ["--ip=127.0.0.1", "--port=%d" % port, "--hostname=localhost"]
        if zk:
            args += ["--zk=%s" % zk, "--zk_session_timeout=2secs"]
        if quorum is not None:
            args.append("--quorum=%d" % quorum)
        args.append("--work_dir=%s" % (work_dir or os.path.join(self.workdir, "m%d" % port)))
        args += list(extra)
        return self.start("master", args, env, name or "master-%d" % port)

    def agent(self, port, master, work_dir=None, extra=(), env=None, name=None):
        args = ["--ip=127.0.0.1", "--port=%d" % port, "--hostname=localhost",
                "--master=%s" % master, "--zk_session_timeout=2secs",
                "--registration_backoff_factor=100ms",
                "--work_dir=%s" % (work_dir or os.path.join(self.workdir, "a%d" % port))]
        args += list(extra)
        return self.start("agent", args, env, name or "agent-%d" % port)

    def cleanup(self):
        for p in self.all:
            try:
                p.kill(signal.SIGKILL)
                p.popen.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
            p._log.close()

    def dump_logs(self):
        out = []
        for p in self.all:
            out.append("===== %s (rc=%s) =====\n%s" % (p.name, p.popen.poll(), p.log()[-4000:]))
        return "\n".join(out)


@pytest.fixture
def procs(request, tmp_path):
    ps = Procs(str(tmp_path))
    yield ps
    failed = getattr(request.node, "rep_call", None)
    ps.cleanup()
    if failed is not None and failed.failed:
        sys.stderr.write(ps.dump_logs())


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):  # pragma: no cover - pytest plumbing
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


class ZooKeeperServer:
    def __init__(self):
        if shutil.which("java") is None:
            pytest.fail("Java is missing: install 'default-jre-headless' (needed for the real "
                        "ZooKeeper used by the Mesos double tests)", pytrace=False)
        if not os.path.exists(ZK_JAR):
            pytest.fail("ZooKeeper is missing (%s): install the Debian package 'zookeeper'"
                        % ZK_JAR, pytrace=False)
        self.dir = tempfile.mkdtemp(prefix="mesos-double-zk-")
        self.port = free_port()
        cfg = os.path.join(self.dir, "zoo.cfg")
        with open(cfg, "w") as fh:
            fh.write("tickTime=200\ndataDir=%s/data\nclientPort=%d\nclientPortAddress=127.0.0.1\n"
                     "4lw.commands.whitelist=*\nadmin.enableServer=false\n"
                     "minSessionTimeout=400\nmaxSessionTimeout=60000\n"
                     "maxClientCnxns=0\n" % (self.dir, self.port))
        self.log_path = os.path.join(self.dir, "zk.log")
        self._log = open(self.log_path, "wb")
        self.popen = subprocess.Popen(
            ["java", "-Xmx256m", "-Dzookeeper.jmx.log4j.disable=true", "-cp", ZK_JAR,
             "org.apache.zookeeper.server.ZooKeeperServerMain", cfg],
            stdout=self._log, stderr=subprocess.STDOUT)
        try:
            wait_until(self._ruok, 30, 0.2, "ZooKeeper to answer ruok")
        except BaseException:
            with open(self.log_path, "rb") as fh:
                tail = fh.read().decode("utf-8", "replace")[-3000:]
            self.stop()
            pytest.fail("ZooKeeper did not start:\n" + tail, pytrace=False)

    @property
    def hosts(self):
        return "127.0.0.1:%d" % self.port

    def _ruok(self):
        if self.popen.poll() is not None:
            raise AssertionError("ZooKeeper exited with %s" % self.popen.returncode)
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
            s.sendall(b"ruok")
            return s.recv(16) == b"imok"

    def pause(self):
        os.kill(self.popen.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.popen.pid, signal.SIGCONT)

    def stop(self):
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)
        self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def zk_server():
    srv = ZooKeeperServer()
    yield srv
    srv.stop()


@pytest.fixture
def zk_client(zk_server):
    from kazoo.client import KazooClient
    c = KazooClient(hosts=zk_server.hosts, timeout=5.0)
    c.start(timeout=10)
    yield c
    c.stop()
    c.close()


@pytest.fixture
def zk_path(zk_server):
    """A unique chroot path per test: (zk url, path)."""
    path = "/mesos-%s" % uuid.uuid4().hex[:8]
    return "zk://%s%s" % (zk_server.hosts, path), path


def start_cluster(procs, zk_url, n=3, quorum=2, extra=()):
    ports = [free_port() for _ in range(n)]
    masters = [procs.master(p, zk=zk_url, quorum=quorum, extra=extra) for p in ports]
    return ports, masters


def elected_ports(ports):
    out = []
    for p in ports:
        try:
            if metrics(p).get("master/elected") == 1.0:
                out.append(p)
        except (OSError, httpclient.HTTPException, AssertionError):
            pass
    return out


def wait_leader(ports, timeout=15, recovered=True):
    """Wait until exactly one of ports is elected (and its registry recovered)."""
    def check():
        e = elected_ports(ports)
        if len(e) != 1:
            return None
        if recovered:
            st, _, _ = http("POST", e[0], "/api/v1", body={"type": "GET_HEALTH"})
            if st != 200:
                return None
        return e[0]
    return wait_until(check, timeout, 0.1, "a single elected master among %s" % ports)


def wait_all_ready(ports, leader, timeout=10):
    """Every master has a VOTING replica and sees `leader` (so failover tests are deterministic)."""
    def ready():
        for p in ports:
            if metrics(p).get("registrar/log/recovered") != 1.0:
                return False
            if get(p, "/redirect")[1].get("location") != "//localhost:%d" % leader:
                return False
        return True
    wait_until(ready, timeout, 0.1, "all masters recovered and agreeing on %d" % leader)
