"""HTTP auth realms, agent authentication, TLS and the double-only fault hooks."""

import http.client as httpclient
import json
import os
import shutil
import socket
import ssl
import subprocess
import time

import pytest

from mesos_double_testlib import free_port, get, get_json, http, metrics, wait_until

CREDS = {"credentials": [{"principal": "ops", "secret": "s3cret"},
                         {"principal": "agent", "secret": "agentpw"}]}


def write_creds(tmp_path):
    p = tmp_path / "credentials.json"
    p.write_text(json.dumps(CREDS))
    p.chmod(0o600)
    return str(p)


def standalone_master(procs, tmp_path, extra=(), env=None):
    port = free_port()
    m = procs.master(port, extra=["--registry=in_memory"] + list(extra), env=env)
    return port, m


def test_master_http_basic_auth(procs, tmp_path):
    creds = write_creds(tmp_path)
    port, _ = standalone_master(procs, tmp_path, ["--authenticate_http_readonly",
                                                  "--authenticate_http_readwrite",
                                                  "--credentials=%s" % creds])
    wait_until(lambda: get(port, "/health")[0] == 200, 10, what="master up")
    for path in ("/master/state", "/state", "/flags", "/master/flags", "/metrics/snapshot",
                 "/master/slaves"):
        st, h, _ = get(port, path)
        assert st == 401, path
        assert h["www-authenticate"] == 'Basic realm="mesos-master-readonly"', path
        assert get(port, path, auth=("ops", "wrong"))[0] == 401
        assert get(port, path, auth=("ops", "s3cret"))[0] == 200, path
    for method, path in (("POST", "/master/teardown"), ("POST", "/api/v1"),
                         ("POST", "/master/maintenance/schedule")):
        st, h, _ = http(method, port, path, body={})
        assert st == 401 and h["www-authenticate"] == 'Basic realm="mesos-master-readwrite"'
        assert http(method, port, path, body={"type": "GET_HEALTH"},
                    auth=("ops", "s3cret"))[0] != 401
    st, _, body = http("POST", port, "/api/v1", body={"type": "GET_HEALTH"},
                       auth=("ops", "s3cret"))
    assert st == 200 and json.loads(body)["get_health"]["healthy"] is True
    # never authenticated
    assert get(port, "/health")[0] == 200
    assert get(port, "/redirect")[0] == 307
    st = get_json(port, "/master/state", auth=("ops", "s3cret"))
    assert st["flags"]["credentials"] == creds


def test_agent_authentication_and_agent_http_auth(procs, tmp_path):
    creds = write_creds(tmp_path)
    mport, _ = standalone_master(procs, tmp_path, ["--authenticate_agents",
                                                   "--credentials=%s" % creds])
    wait_until(lambda: get(mport, "/health")[0] == 200, 10, what="master up")
    good = tmp_path / "agent-cred.json"
    good.write_text(json.dumps({"principal": "agent", "secret": "agentpw"}))
    bad = tmp_path / "bad-cred.json"
    bad.write_text(json.dumps({"principal": "agent", "secret": "nope"}))
    httpcreds = tmp_path / "http.json"
    httpcreds.write_text(json.dumps({"credentials": [{"principal": "ro", "secret": "ro"}]}))
    p_none, p_bad, p_good = free_port(), free_port(), free_port()
    a_none = procs.agent(p_none, "127.0.0.1:%d" % mport)
    a_bad = procs.agent(p_bad, "127.0.0.1:%d" % mport, extra=["--credential=%s" % bad])
    a_good = procs.agent(p_good, "127.0.0.1:%d" % mport,
                         extra=["--credential=file://%s" % good, "--authenticate_http_readonly",
                                "--http_credentials=%s" % httpcreds])
    auth = ("ro", "ro")
    wait_until(lambda: metrics(p_good, auth=auth)["slave/registered"] == 1.0, 10,
               what="authenticated agent registered")
    wait_until(lambda: "refused" in a_none.log() and "refused" in a_bad.log(), 10,
               what="refusals logged")
    time.sleep(1.0)
    assert metrics(p_none)["slave/registered"] == 0.0
    assert metrics(p_bad)["slave/registered"] == 0.0
    assert get_json(p_bad, "/state")["id"] == ""
    assert "master_hostname" in get_json(p_bad, "/state")   # a master is known
    slaves = get_json(mport, "/master/state")["slaves"]
    assert [s["port"] for s in slaves] == [p_good]
    assert "not authenticated" in a_none.log()
    assert "Authentication failed" in a_bad.log()
    # agent HTTP auth realm
    st, h, _ = get(p_good, "/slave(1)/state")
    assert st == 401 and h["www-authenticate"] == 'Basic realm="mesos-agent-readonly"'
    assert get(p_good, "/flags")[0] == 401
    assert get(p_good, "/slave(1)/health")[0] == 200
    fl = get_json(p_good, "/slave(1)/flags", auth=auth)["flags"]
    assert fl["credential"] == str(good)          # Path flag: file:// stripped, path kept


def _make_cert(tmp_path):
    if shutil.which("openssl") is None:
        pytest.fail("openssl binary is required for the TLS test")
    key, cert = str(tmp_path / "key.pem"), str(tmp_path / "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=localhost"], check=True,
                   capture_output=True)
    return key, cert


def test_tls_https_only_and_downgrade(procs, tmp_path):
    key, cert = _make_cert(tmp_path)
    env = {"LIBPROCESS_SSL_ENABLED": "true", "LIBPROCESS_SSL_KEY_FILE": key,
           "LIBPROCESS_SSL_CERT_FILE": cert, "LIBPROCESS_SSL_CA_FILE": cert,
           "LIBPROCESS_SSL_VERIFY_SERVER_CERT": "false"}
    port, _ = standalone_master(procs, tmp_path, env=env)
    wait_until(lambda: get(port, "/health", https=True)[0] == 200, 10, what="https master")
    with pytest.raises((OSError, httpclient.HTTPException)):
        get(port, "/health")               # plain http is refused
    assert get(port, "/redirect", https=True)[0] == 307
    # agent talks TLS to the master
    aport = free_port()
    procs.agent(aport, "127.0.0.1:%d" % port, env=env)
    wait_until(lambda: json.loads(get(aport, "/metrics/snapshot", https=True)[2])
               ["slave/registered"] == 1.0, 10, what="agent registered over TLS")
    # downgrade: both https and http
    env2 = dict(env, LIBPROCESS_SSL_SUPPORT_DOWNGRADE="true")
    port2, _ = standalone_master(procs, tmp_path, env=env2)
    wait_until(lambda: get(port2, "/health")[0] == 200, 10, what="http with downgrade")
    assert get(port2, "/health", https=True)[0] == 200


def test_health_fault_hooks(procs, tmp_path):
    port, _ = standalone_master(procs, tmp_path)
    wait_until(lambda: get(port, "/health")[0] == 200, 10, what="master up")
    os.makedirs("/run/mesos-double", exist_ok=True)
    hook = "/run/mesos-double/master-%d.health" % port
    try:
        with open(hook, "w") as fh:
            fh.write("fail\n")
        assert get(port, "/health")[0] == 503
        assert get(port, "/master/health")[0] == 503
        with open(hook, "w") as fh:
            fh.write("hang")
        with pytest.raises((socket.timeout, TimeoutError)):
            get(port, "/health", timeout=1.0)
        assert get(port, "/metrics/snapshot")[0] == 200       # only /health is affected
        os.unlink(hook)
        assert get(port, "/health")[0] == 200
    finally:
        if os.path.exists(hook):
            os.unlink(hook)


def test_agent_disconnected_unreachable_and_back(procs, tmp_path):
    mport, _ = standalone_master(procs, tmp_path, ["--agent_ping_timeout=1secs",
                                                   "--max_agent_ping_timeouts=2"])
    wait_until(lambda: get(mport, "/health")[0] == 200, 10, what="master up")
    aport = free_port()
    awork = str(tmp_path / "agent")
    ag = procs.agent(aport, "127.0.0.1:%d" % mport, work_dir=awork)
    aid = wait_until(lambda: get_json(aport, "/state")["id"], 10, what="registered")
    time.sleep(1.5)   # heartbeats keep it active well past the ping timeout
    m = metrics(mport)
    assert (m["master/slaves_active"], m["master/slaves_connected"]) == (1.0, 1.0)
    ag.kill()
    ag.wait(5)
    t0 = time.monotonic()
    wait_until(lambda: metrics(mport)["master/slaves_unreachable"] == 1.0, 6,
               what="agent unreachable")
    assert time.monotonic() - t0 >= 1.0           # not before agent_ping_timeout x max
    st = get_json(mport, "/master/state")
    assert st["unreachable_slaves"] == 1.0 and st["slaves"] == []
    procs.agent(aport, "127.0.0.1:%d" % mport, work_dir=awork, name="agent-again")
    wait_until(lambda: metrics(mport)["master/slaves_active"] == 1.0, 10, what="active again")
    assert metrics(mport)["master/slaves_unreachable"] == 0.0
    assert get_json(mport, "/master/state")["slaves"][0]["id"] == aid
