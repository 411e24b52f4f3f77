"""TLS details of the double: protocol switches and OpenSSL hostname validation (docs/ssl.md)."""

import http.client as httpclient
import json
import shutil
import ssl
import subprocess

import pytest

from mesos_double_testlib import free_port, get, wait_until


def _make_ca_and_cert(tmp_path, san):
    """A CA and a server certificate it signed, whose only SAN is `san` (e.g. IP:127.0.0.1)."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl binary is required for the TLS tests")
    d = tmp_path / san.replace(":", "_")
    d.mkdir()
    run = lambda *a: subprocess.run(a, check=True, capture_output=True, cwd=d)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "2", "-subj", "/CN=test CA")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "host.key", "-out", "host.csr",
        "-subj", "/CN=host")
    (d / "ext.cnf").write_text("subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n" % san)
    run("openssl", "x509", "-req", "-in", "host.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "host.crt", "-days", "2", "-extfile", "ext.cnf")
    return str(d / "ca.crt"), str(d / "host.crt"), str(d / "host.key")


def _env(ca, cert, key, **extra):
    env = {"LIBPROCESS_SSL_ENABLED": "true", "LIBPROCESS_SSL_KEY_FILE": key, "LIBPROCESS_SSL_CERT_FILE": cert,
           "LIBPROCESS_SSL_CA_FILE": ca, "LIBPROCESS_SSL_VERIFY_SERVER_CERT": "true"}
    env.update(extra)
    return env


def _tls_get(port, ca, version):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.minimum_version = ctx.maximum_version = version
    conn = httpclient.HTTPSConnection("127.0.0.1", port, timeout=3, context=ctx)
    try:
        conn.request("GET", "/health")
        return conn.getresponse().status
    finally:
        conn.close()


def _registered(port):
    try:
        return json.loads(get(port, "/metrics/snapshot", https=True)[2])["slave/registered"] == 1.0
    except (OSError, httpclient.HTTPException, ValueError):
        return False


def test_only_tls_1_2_by_default_and_1_3_when_enabled(procs, tmp_path):
    ca, cert, key = _make_ca_and_cert(tmp_path, "IP:127.0.0.1")
    port = free_port()
    procs.master(port, extra=["--registry=in_memory"], env=_env(ca, cert, key))
    wait_until(lambda: get(port, "/health", https=True)[0] == 200, 10, what="https master")
    assert _tls_get(port, ca, ssl.TLSVersion.TLSv1_2) == 200
    with pytest.raises((ssl.SSLError, OSError)):
        _tls_get(port, ca, ssl.TLSVersion.TLSv1_3)     # LIBPROCESS_SSL_ENABLE_TLS_V1_3 defaults to false
    port13 = free_port()
    procs.master(port13, extra=["--registry=in_memory"], env=_env(ca, cert, key, LIBPROCESS_SSL_ENABLE_TLS_V1_3="true"))
    wait_until(lambda: get(port13, "/health", https=True)[0] == 200, 10, what="https master with TLS 1.3")
    assert _tls_get(port13, ca, ssl.TLSVersion.TLSv1_3) == 200


def test_no_protocol_enabled_exits(procs, tmp_path):
    ca, cert, key = _make_ca_and_cert(tmp_path, "IP:127.0.0.1")
    m = procs.master(free_port(), extra=["--registry=in_memory"],
                     env=_env(ca, cert, key, LIBPROCESS_SSL_ENABLE_TLS_V1_2="false"))
    assert m.wait(10) == 1
    assert "No SSL/TLS protocol version is enabled" in m.log()


def test_openssl_hostname_validation_checks_the_address(procs, tmp_path):
    """With VERIFY_SERVER_CERT and the openssl scheme, the agent accepts the master only when the
    master's certificate names the address it connects to."""
    good = _make_ca_and_cert(tmp_path, "IP:127.0.0.1")
    bad = _make_ca_and_cert(tmp_path, "DNS:elsewhere.invalid")
    for (ca, cert, key), ok in ((good, True), (bad, False)):
        env = _env(ca, cert, key, LIBPROCESS_SSL_HOSTNAME_VALIDATION_SCHEME="openssl")
        mport = free_port()
        procs.master(mport, extra=["--registry=in_memory"], env=env)
        wait_until(lambda: get(mport, "/health", https=True)[0] == 200, 10, what="https master")
        aport = free_port()
        agent = procs.agent(aport, "127.0.0.1:%d" % mport, env=env)
        if ok:
            wait_until(lambda: _registered(aport), 15, what="agent registered (SAN matches)")
        else:
            wait_until(lambda: "Failed to send registration" in agent.log(), 15, what="registration refused")
            assert not _registered(aport)
    # the legacy scheme (default) does not check the name
    ca, cert, key = bad
    env = _env(ca, cert, key)
    mport = free_port()
    procs.master(mport, extra=["--registry=in_memory"], env=env)
    wait_until(lambda: get(mport, "/health", https=True)[0] == 200, 10, what="https master")
    aport = free_port()
    procs.agent(aport, "127.0.0.1:%d" % mport, env=env)
    wait_until(lambda: _registered(aport), 15, what="agent registered (legacy scheme)")
