"""Mesos authentication, authorization and TLS: who is refused, and with which error.

Negative tests (hardening.md section 7, items 22-25): protected endpoints answer 401 without
credentials or with a wrong password and 200 with the operator's; /health needs none but only
https; plain HTTP to 5050/5051 is refused; certificates come from the cluster CA and name the
host; an agent without a credential, or with a wrong secret, is refused registration; the
credentials, ACL and TLS files have the right modes and content; the agents' ACLs refuse
containers through the agent API and READ_LOG to all but the operator. (Weak secrets are refused
before any change: test_20_bad_inputs.py, with every other refusal of docs/refusals.md.)

The rogue-agent tests start a second mesos-agent process on agent1 (another port and work_dir)
and always stop it and remove its files and firewall rule; nothing else on the cluster is changed.
"""
from __future__ import annotations

import http.client
import json
import os
import re
import socket
import ssl
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from mesos_ha_testlib import hosts as th
from mesos_ha_testlib import mesos

MASTER_CREDENTIALS = "/etc/mesos-ha/mesos-master-credentials.json"
MASTER_ACLS = "/etc/mesos-ha/mesos-master-acls.json"
AGENT_CREDENTIAL = "/etc/mesos-ha/mesos-agent-credential.json"
AGENT_HTTP_CREDENTIALS = "/etc/mesos-ha/mesos-agent-http-credentials.json"
OPERATOR_CREDENTIAL = "/etc/mesos-ha/operator.json"
MASTER_SSL_ENV = "/etc/mesos-ha/mesos-master-ssl.env"
AGENT_SSL_ENV = "/etc/mesos-ha/mesos-agent-ssl.env"
TLS_DIR = "/etc/mesos-ha/tls"
PKI_DIR = "/etc/mesos-ha/pki"
ROGUE_PORT = 5061
ROGUE_DIR = "/var/tmp/mesos-ha-rogue-agent"
ROGUE_RULE = "mesos-ha-test-rogue-agent"
CGROUP_V1_VIEW = "/usr/local/libexec/mesos-ha/cgroup-v1-view"
CA_KEY = Path(os.environ.get("MESOS_HA_CACHE") or mesos.PROJECT_DIR / ".cache") / "pki" / "ca.key"
# A line of the sandbox CA's key (on the controller), to prove it is on no host.
CA_KEY_LINE = CA_KEY.read_text(encoding="utf-8").splitlines()[1] if CA_KEY.is_file() else ""


@pytest.fixture(scope="module")
def auth_on(settings: dict[str, Any], mesos_http: mesos.HttpSettings) -> mesos.HttpSettings:
    if not settings.get("mesos_common_auth_enabled", True):
        pytest.skip("mesos_common_auth_enabled is false in this scenario")
    assert mesos_http.credentials, "authentication is on but the tests have no operator credential"
    return mesos_http


@pytest.fixture(scope="module")
def tls_on(settings: dict[str, Any], mesos_http: mesos.HttpSettings) -> mesos.HttpSettings:
    if not settings.get("mesos_common_tls_enabled", True):
        pytest.skip("mesos_common_tls_enabled is false in this scenario")
    assert mesos_http.scheme == "https"
    return mesos_http


def _wrong(http: mesos.HttpSettings) -> tuple[str, str]:
    assert http.credentials
    return http.credentials[0], http.credentials[1] + "-wrong"


# ----------------------------------------------------------------------------- authentication
def test_master_endpoints_need_the_operator_credential(masters, leader, auth_on):
    """/flags and /metrics/snapshot on every master, /master/state on the leader: 401 without
    credentials and with a wrong password (realm mesos-master-readonly), 200 with them."""
    targets = [(m, path) for m in masters for path in ("/flags", "/metrics/snapshot")]
    targets.append((leader.host, "/master/state"))
    for host, path in targets:
        anonymous = mesos.http_get(host.address, mesos.MASTER_PORT, path, auth=None)
        assert anonymous.status == 401, f"{host.name}{path} without credentials: HTTP {anonymous.status}"
        assert 'realm="mesos-master-readonly"' in anonymous.headers.get("www-authenticate", ""), anonymous.headers
        wrong = mesos.http_get(host.address, mesos.MASTER_PORT, path, auth=_wrong(auth_on))
        assert wrong.status == 401, f"{host.name}{path} with a wrong password: HTTP {wrong.status}"
        good = mesos.http_get(host.address, mesos.MASTER_PORT, path)
        assert good.status == 200, f"{host.name}{path} with the operator's credential: HTTP {good.status}"


def test_agent_endpoints_need_the_operator_credential(agents, auth_on):
    """The agents authenticate HTTP too (--http_credentials): 401 / 401 / 200 as on the masters."""
    for agent in agents:
        for path in ("/flags", "/state", "/metrics/snapshot"):
            anonymous = mesos.http_get(agent.address, mesos.AGENT_PORT, path, auth=None)
            assert anonymous.status == 401, f"{agent.name}{path} without credentials: HTTP {anonymous.status}"
            assert 'realm="mesos-agent-readonly"' in anonymous.headers.get("www-authenticate", "")
            wrong = mesos.http_get(agent.address, mesos.AGENT_PORT, path, auth=_wrong(auth_on))
            assert wrong.status == 401, f"{agent.name}{path} with a wrong password: HTTP {wrong.status}"
            good = mesos.http_get(agent.address, mesos.AGENT_PORT, path)
            assert good.status == 200, f"{agent.name}{path} with the operator's credential: HTTP {good.status}"


def test_the_agent_principal_is_not_an_http_user_of_the_agents(agents, settings, auth_on):
    """The agents' HTTP credentials hold the operator only: the agent's own secret opens nothing."""
    secret = th.run_in(agents[0].container, "cat", AGENT_CREDENTIAL).stdout
    agent_cred = json.loads(secret)
    for agent in agents:
        resp = mesos.http_get(agent.address, mesos.AGENT_PORT, "/state",
                              auth=(agent_cred["principal"], agent_cred["secret"]))
        assert resp.status == 401, f"{agent.name}: the agent principal reads /state (HTTP {resp.status})"


def test_health_needs_no_credentials(masters, agents, tls_on):
    """/health answers 200 without credentials, over https, on every master and agent."""
    for host, port in [(m, mesos.MASTER_PORT) for m in masters] + [(a, mesos.AGENT_PORT) for a in agents]:
        resp = mesos.http_get(host.address, port, "/health", auth=None)
        assert resp.status == 200, f"{host.name}:{port}/health without credentials over https: HTTP {resp.status}"


# ------------------------------------------------------------------------------------------ TLS
def _plain_http_answer(address: str, port: int) -> str | None:
    """The status line a plain-HTTP GET gets, or None when the server refuses to speak HTTP."""
    try:
        resp = mesos.http_get(address, port, "/health", auth=None, scheme="http", timeout=5.0)
    except (OSError, http.client.HTTPException):
        return None
    return f"HTTP {resp.status}"


def test_plain_http_is_refused(masters, agents, tls_on):
    """With TLS on and downgrade off, a plain-HTTP request to 5050 and 5051 gets no HTTP answer,
    while the same request over https succeeds."""
    for host, port in [(m, mesos.MASTER_PORT) for m in masters] + [(a, mesos.AGENT_PORT) for a in agents]:
        assert _plain_http_answer(host.address, port) is None, (
            f"{host.name}:{port} answered plain HTTP ({_plain_http_answer(host.address, port)})")
        assert mesos.http_get(host.address, port, "/health", auth=None).status == 200


def _peer_certificate(address: str, port: int, ca_file: str | None, server_hostname: str) -> dict[str, Any]:
    context = ssl.create_default_context(cafile=ca_file)
    with socket.create_connection((address, port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=server_hostname) as tls:
            return tls.getpeercert()


def test_certificates_come_from_the_cluster_ca_and_name_the_host(masters, agents, tls_on):
    """The servers' certificates verify against the cluster CA for the host's name and address,
    not for another name, and not against the system's public CAs."""
    for host, port in [(m, mesos.MASTER_PORT) for m in masters] + [(a, mesos.AGENT_PORT) for a in agents]:
        cert = _peer_certificate(host.address, port, tls_on.ca_file, host.address)
        sans = set(cert.get("subjectAltName", ()))
        assert ("DNS", host.name) in sans and ("IP Address", host.address) in sans, f"{host.name}: SANs {sans}"
        with pytest.raises(ssl.SSLCertVerificationError, match="match|mismatch"):
            _peer_certificate(host.address, port, tls_on.ca_file, "not-this-host.invalid")
        with pytest.raises(ssl.SSLCertVerificationError):
            _peer_certificate(host.address, port, None, host.address)


def _env_file(container: str, path: str) -> dict[str, str]:
    text = mesos.read_file(container, path)
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))


def test_tls_settings_verify_and_refuse_downgrade(masters, agents, settings, tls_on):
    """The LIBPROCESS_SSL_* EnvironmentFile is 0640, verifies certificates, refuses downgrade and
    old protocols, and is loaded by the unit; keys are readable by their daemon only."""
    user = settings["mesos_common_user"]
    for hosts, env_path, unit, key, key_owner in (
            (masters, MASTER_SSL_ENV, "mesos-master.service", f"{TLS_DIR}/mesos-master.key", ("0o640", "root", user)),
            (agents, AGENT_SSL_ENV, "mesos-agent.service", f"{TLS_DIR}/mesos-agent.key", ("0o600", "root", "root"))):
        for host in hosts:
            stat = mesos.file_stat(host.container, env_path)
            assert oct(stat.mode) == "0o640" and stat.owner == "root", f"{host.name}: {env_path} {oct(stat.mode)}"
            env = _env_file(host.container, env_path)
            expected = {"LIBPROCESS_SSL_ENABLED": "true", "LIBPROCESS_SSL_VERIFY_SERVER_CERT": "true",
                        "LIBPROCESS_SSL_SUPPORT_DOWNGRADE": "false",
                        "LIBPROCESS_SSL_HOSTNAME_VALIDATION_SCHEME": "openssl",
                        "LIBPROCESS_SSL_ENABLE_TLS_V1_0": "false", "LIBPROCESS_SSL_ENABLE_TLS_V1_1": "false",
                        "LIBPROCESS_SSL_ENABLE_TLS_V1_2": "true", "LIBPROCESS_SSL_ENABLE_TLS_V1_3": "false",
                        "LIBPROCESS_SSL_VERIFY_IPADD": "true", "LIBPROCESS_SSL_KEY_FILE": key,
                        "LIBPROCESS_SSL_CA_FILE": f"{TLS_DIR}/ca.crt"}
            assert {k: env.get(k) for k in expected} == expected, f"{host.name}: {env_path}"
            shown = th.run_in(host.container, "systemctl", "show", unit, "-p", "EnvironmentFiles").stdout
            assert env_path in shown, f"{host.name}: {unit} does not load {env_path}: {shown}"
            stat = mesos.file_stat(host.container, key)
            assert (oct(stat.mode), stat.owner, stat.group) == key_owner, f"{host.name}: {key}"
            stat = mesos.file_stat(host.container, f"{PKI_DIR}/host.key")
            assert (oct(stat.mode), stat.owner) == ("0o600", "root"), f"{host.name}: {PKI_DIR}/host.key"
            for public in ("ca.crt", "host.crt"):
                stat = mesos.file_stat(host.container, f"{PKI_DIR}/{public}")
                assert (oct(stat.mode), stat.owner) == ("0o644", "root"), f"{host.name}: {PKI_DIR}/{public}"
            listing = th.run_in(host.container, "ls", PKI_DIR).stdout.split()
            assert sorted(listing) == ["ca.crt", "host.crt", "host.key"], f"{host.name}: {PKI_DIR} holds {listing}"
            if CA_KEY_LINE:
                found = th.run_in(host.container, "grep", "-rlF", CA_KEY_LINE, "/etc", check=False).stdout
                assert not found.strip(), f"{host.name}: the CA key is on the host: {found}"


def test_a_default_client_completes_the_handshake_with_tls_1_2(masters, agents, tls_on):
    """What every probe is (Python's default OpenSSL 3 context: the watchdog, the health gate, the
    drill, Ansible's uri) completes the handshake with every master and agent, verifying the
    certificate by IP address, over TLS 1.2 with an ECDHE AES-GCM suite; TLS 1.3 is refused
    (libprocess does not support it, MESOS-9730)."""
    for host, port in [(m, mesos.MASTER_PORT) for m in masters] + [(a, mesos.AGENT_PORT) for a in agents]:
        context = ssl.create_default_context(cafile=tls_on.ca_file)
        with socket.create_connection((host.address, port), timeout=5) as raw, \
                context.wrap_socket(raw, server_hostname=host.address) as tls:
            version, cipher = tls.version(), tls.cipher()[0]
        assert version == "TLSv1.2" and cipher.startswith("ECDHE-") and "GCM" in cipher, (host.name, version, cipher)
        only_13 = ssl.create_default_context(cafile=tls_on.ca_file)
        only_13.minimum_version = ssl.TLSVersion.TLSv1_3
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            with socket.create_connection((host.address, port), timeout=5) as raw, \
                    only_13.wrap_socket(raw, server_hostname=host.address):
                pass


# -------------------------------------------------------------------------------- credentials
def test_credentials_files_are_private_to_the_service_user(masters, agents, settings, auth_on):
    """Credentials files are 0600 and owned by the user of the daemon that reads them."""
    user = settings["mesos_common_user"]
    expected = [(m, MASTER_CREDENTIALS, user) for m in masters]
    expected += [(a, path, "root") for a in agents for path in (AGENT_CREDENTIAL, AGENT_HTTP_CREDENTIALS)]
    expected += [(h, OPERATOR_CREDENTIAL, "root") for h in masters + agents]
    for host, path, owner in expected:
        stat = mesos.file_stat(host.container, path)
        assert (oct(stat.mode), stat.owner) == ("0o600", owner), (
            f"{host.name}: {path} is {oct(stat.mode)} {stat.owner}, expected 0600 {owner}")
    doc = json.loads(mesos.read_file(masters[0].container, MASTER_CREDENTIALS))
    principals = [c["principal"] for c in doc["credentials"]]
    assert settings["mesos_common_operator_principal"] in principals
    assert settings["mesos_common_agent_principal"] in principals
    assert all(len(c["secret"]) >= 16 for c in doc["credentials"]), "a credential has a short secret"


def _matches(entity: dict[str, Any], value: str) -> bool:
    """Does an ACL entity (ANY / NONE / values) match a request for `value`? (local authorizer)"""
    kind = entity.get("type")
    if kind in ("ANY", "NONE"):
        return True
    return value in entity.get("values", [])


def _allows(entity: dict[str, Any], value: str) -> bool:
    kind = entity.get("type")
    if kind == "ANY":
        return True
    if kind == "NONE":
        return False
    return value in entity.get("values", [])


def _authorized(acls: dict[str, Any], action: str, subject_key: str, principal: str,
                object_key: str, obj: str) -> bool:
    """Mesos's local authorizer: the first ACL whose subject and object match decides; with no
    match, 'permissive' does."""
    for acl in acls.get(action, []):
        if _matches(acl[subject_key], principal) and _matches(acl[object_key], obj):
            return _allows(acl[subject_key], principal) and _allows(acl[object_key], obj)
    return bool(acls.get("permissive", True))


def test_acls_deny_by_default_and_refuse_tasks_as_root(masters, settings, auth_on):
    """--acls is default-deny; no principal may run tasks as root; the agent principal may
    register agents; the operator may read flags and metrics; nobody else may."""
    acls = json.loads(mesos.read_file(masters[0].container, MASTER_ACLS))
    assert acls.get("permissive") is False, f"ACLs are permissive: {acls.get('permissive')!r}"
    operator = settings["mesos_common_operator_principal"]
    agent = settings["mesos_common_agent_principal"]
    framework_principals = [c["principal"] for c in settings.get("mesos_common_frameworks", [])]
    for principal in [operator, agent, "some-framework"] + framework_principals:
        assert not _authorized(acls, "run_tasks", "principals", principal, "users", "root"), (
            f"{principal} may run tasks as root: {acls.get('run_tasks')}")
    assert _authorized(acls, "register_agents", "principals", agent, "agents", "any")
    assert not _authorized(acls, "register_agents", "principals", operator, "agents", "any")
    assert _authorized(acls, "view_flags", "principals", operator, "flags", "any")
    assert not _authorized(acls, "view_flags", "principals", "someone-else", "flags", "any")
    assert _authorized(acls, "get_endpoints", "principals", operator, "paths", "/metrics/snapshot")
    assert not _authorized(acls, "register_frameworks", "principals", "unknown", "roles", "*")
    for host in masters:
        flags = mesos.flags(host.address)
        # A file-loaded JSON flag shows its content, here as protobuf text.
        assert flags.get("acls", "").startswith("permissive: false"), (
            f"{host.name}: --acls is not the default-deny document: {flags.get('acls', '')[:80]!r}")


# ------------------------------------------------------------------------------- rogue agents
def _leader_slaves(leader: mesos.Leader) -> list[dict[str, Any]]:
    return mesos.get_json(leader.host.address, mesos.MASTER_PORT, "/master/slaves")["slaves"]


@pytest.fixture
def rogue_agent(agents, leader) -> Iterator[Any]:
    """Start a second real mesos-agent on agent1 (port 5061, its own work and runtime dirs, the
    POSIX launcher so it touches no cgroup) with the TLS settings but the given --credential (or
    none). The masters may reach its port for as long as it runs (a tagged nftables rule): a
    master answers an agent on the agent's own port, as it does for SASL's steps. Always stopped,
    its files and the rule removed afterwards."""
    host = agents[0]
    started: list[bool] = []

    def start(credential: dict[str, str] | None) -> tuple[th.Host, str]:
        hostname = f"rogue-{int(time.time())}"
        th.run_in(host.container, "mkdir", "-p", f"{ROGUE_DIR}/work", f"{ROGUE_DIR}/run", f"{ROGUE_DIR}/log")
        th.run_in(host.container, "nft", "insert", "rule", "inet", "mesos_ha", "input", "tcp", "dport", str(ROGUE_PORT),
                  "ip", "saddr", "@agent_v4", "accept", "comment", f'"{ROGUE_RULE}"')
        flags = ["--master=file:///etc/mesos/zk", f"--work_dir={ROGUE_DIR}/work", f"--runtime_dir={ROGUE_DIR}/run",
                 f"--log_dir={ROGUE_DIR}/log", f"--ip={host.address}", f"--port={ROGUE_PORT}",
                 f"--hostname={hostname}", "--registration_backoff_factor=100ms", "--launcher=posix",
                 "--isolation=posix/cpu,posix/mem", "--no-systemd_enable_support"]
        if credential is not None:
            th.run_in(host.container, "sh", "-c", f"umask 077; cat > {ROGUE_DIR}/credential.json",
                      stdin=json.dumps(credential))
            flags.append(f"--credential={ROGUE_DIR}/credential.json")
        # The role's cgroup v1 view, as the real agent on this hybrid host: the fork refuses to start
        # while cgroup2 is mounted anywhere but /sys/fs/cgroup.
        script = (f"set -a; [ -f {AGENT_SSL_ENV} ] && . {AGENT_SSL_ENV}; set +a; echo $$ > {ROGUE_DIR}/pid; "
                  f"{CGROUP_V1_VIEW} /usr/bin/mesos-agent {' '.join(flags)} >{ROGUE_DIR}/stderr 2>&1; "
                  f"echo $? > {ROGUE_DIR}/exit")
        th.run_in(host.container, "sh", "-c", f"setsid sh -c '{script}' </dev/null >/dev/null 2>&1 &")
        started.append(True)
        return host, hostname

    yield start
    if started:
        th.run_in(host.container, "sh", "-c", f"pkill -f -- '--port={ROGUE_PORT}'; sleep 1; "
                  f"pkill -9 -f -- '--port={ROGUE_PORT}'; true", check=False)
        rules = th.run_in(host.container, "nft", "-a", "list", "chain", "inet", "mesos_ha", "input").stdout
        for handle in re.findall(rf'comment "{ROGUE_RULE}" # handle (\d+)', rules):
            th.run_in(host.container, "nft", "delete", "rule", "inet", "mesos_ha", "input", "handle", handle)
    th.run_in(host.container, "rm", "-rf", ROGUE_DIR, check=False)
    assert th.run_in(host.container, "test", "!", "-e", ROGUE_DIR, check=False).returncode == 0
    assert ROGUE_RULE not in th.run_in(host.container, "nft", "list", "table", "inet", "mesos_ha").stdout


def _wait_for_log(container: str, pattern: str, timeout: float = 45.0) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = th.run_in(container, "cat", f"{ROGUE_DIR}/stderr", check=False).stdout
        if re.search(pattern, text):
            return text
        time.sleep(1)
    raise AssertionError(f"the rogue agent's log never matched {pattern!r}:\n{text[-2000:]}")


def _assert_not_registered(leader: mesos.Leader, hostname: str) -> None:
    listed = [s["hostname"] for s in _leader_slaves(leader)]
    assert hostname not in listed, f"the master registered the rogue agent {hostname}: {listed}"


def test_agent_without_credential_is_refused(rogue_agent, leader, agents, auth_on):
    """An agent started without --credential stays unregistered (it keeps asking; the leader
    refuses every attempt and logs it)."""
    host, hostname = rogue_agent(None)
    _wait_for_log(host.container, r"No credentials provided")
    deadline = time.monotonic() + 45
    refused = ""
    while time.monotonic() < deadline and not refused:
        time.sleep(2)
        master_log = th.run_in(leader.host.container, "journalctl", "-u", "mesos-master", "--since", "-2min",
                               "--no-pager", check=False).stdout
        refused = re.search(rf"Refusing registration of agent .*{host.address}:{ROGUE_PORT}.* not authenticated", master_log)
    assert refused, "the leader did not log the refusal"
    _assert_not_registered(leader, hostname)
    assert len(_leader_slaves(leader)) == len(agents), "the real agents are not all registered"


def test_agent_with_a_wrong_secret_is_refused_and_exits(rogue_agent, leader, settings, auth_on):
    """An agent with the right principal but a wrong secret fails CRAM-MD5 authentication and
    exits 1 ("refused authentication"): under systemd it would crash-loop into the start limit."""
    host, hostname = rogue_agent({"principal": settings["mesos_common_agent_principal"],
                                  "secret": "not-the-agent-secret-0123456789"})
    log = _wait_for_log(host.container, r"refused authentication", timeout=90)
    assert "Authenticating with master" in log, log[-2000:]
    deadline = time.monotonic() + 20
    status = ""
    while time.monotonic() < deadline and not status:
        status = th.run_in(host.container, "cat", f"{ROGUE_DIR}/exit", check=False).stdout.strip()
        time.sleep(0.5)
    assert status == "1", f"the refused agent exited {status or 'not at all'}"
    _assert_not_registered(leader, hostname)


# ---------------------------------------------------------------------------- the agent's ACLs
def test_agent_api_refuses_nested_and_standalone_containers(agents, framework, auth_on):
    """The agent's default-deny ACLs: not even the operator may launch a container through the
    agent API (LAUNCH_CONTAINER), nested under a running task's container or standalone, as root or
    as the task user. Without the agent's --acls the real agent accepts all three (HTTP 200: seen
    when the file is removed). (The fork gates LAUNCH_NESTED_CONTAINER_SESSION apart from ACLs,
    behind --agent_subsystems=container_exec, which the roles never set.)"""
    agent = agents[0]
    fw = framework()
    task = fw.launch(f"sleep 600 # mesos-ha-nested-{time.time_ns()}", agent=agent.name)
    fw.wait_for(task, "TASK_RUNNING", timeout=90)
    containers = mesos.get_json(agent.address, mesos.AGENT_PORT, "/containers")
    # /containers names a container by its id string (the v1 API wraps it in {"value": ...}).
    parent = next((c["container_id"] for c in containers if c.get("executor_id") == task), None)
    assert parent, f"{agent.name}: no container for task {task} in /containers ({containers})"
    resources = [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
                 {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}}]
    calls = {f"nested as {user}": {"container_id": {"parent": {"value": parent}, "value": f"mesos-ha-{time.time_ns()}"},
                                   "command": {"value": "sleep 5", "user": user}} for user in ("root", fw.user)}
    calls["standalone as root"] = {"container_id": {"value": f"mesos-ha-{time.time_ns()}"},
                                   "command": {"value": "sleep 5", "user": "root"}, "resources": resources}
    for what, launch in calls.items():
        resp = mesos.http_post_json(agent.address, mesos.AGENT_PORT, "/api/v1",
                                    {"type": "LAUNCH_CONTAINER", "launch_container": launch})
        assert resp.status == 403, f"{agent.name}: a container {what} answered {resp.status} {resp.body[:200]!r}"


def test_read_log_is_the_operators(masters, agents, leader, settings, mesos_secrets, auth_on):
    """READ_LOG (the fork's call, ACL access_mesos_logs): the operator reads the master's and the
    agent's log; a framework principal, authenticated by the master, is refused (403)."""
    master_call = {"type": "READ_LOG", "read_log": {"offset": 0, "length": 256}}
    resp = mesos.http_post_json(leader.host.address, mesos.MASTER_PORT, "/api/v1", master_call)
    assert resp.status == 200 and resp.json()["type"] == "READ_LOG", (resp.status, resp.body[:200])
    framework = (settings["mesos_common_frameworks"][0]["principal"], mesos_secrets["mesos_framework"])
    resp = mesos.http_post_json(leader.host.address, mesos.MASTER_PORT, "/api/v1", master_call, auth=framework)
    assert resp.status == 403, f"a framework principal read the master's log: {resp.status}"
    agent_call = {"type": "READ_LOG", "read_log": {"source": "AGENT", "length": 256}}
    resp = mesos.http_post_json(agents[0].address, mesos.AGENT_PORT, "/api/v1", agent_call)
    assert resp.status == 200, (resp.status, resp.body[:200])
    resp = mesos.http_post_json(agents[0].address, mesos.AGENT_PORT, "/api/v1", agent_call, auth=None)
    assert resp.status == 401, f"READ_LOG without credentials answered {resp.status}"
