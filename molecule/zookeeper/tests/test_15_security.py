"""Security of the converged ensemble: quorum SASL and TLS, secrets kept off the command line and
out of the journal, and the ACL on the Mesos path (hardening.md §7 items 11-16, 19, 20).

Negative tests: an unauthenticated client (or one with a wrong password) cannot create, set,
delete or re-ACL under /mesos but can still read it; the role repairs an ACL someone opened.
"""
from __future__ import annotations

import re
import time

import pytest
from kazoo.exceptions import NoAuthError
from kazoo.security import ACL, Id, make_digest_acl_credential
from scenario import converge_playbook, report, secret, zoo_cfg
from mesos_ha_testlib import hosts as th
from mesos_ha_testlib import zk

MESOS_PATH = "/mesos"
ALL, READ = 31, 1


def mesos_digest() -> str:
    return make_digest_acl_credential("mesos", secret("mesos_zk"))


def expected_acl() -> set[tuple[int, str, str]]:
    return {(ALL, "digest", mesos_digest()), (READ, "world", "anyone")}


def acl_set(acls) -> set[tuple[int, str, str]]:
    return {(a.perms, a.id.scheme, a.id.id) for a in acls}


@pytest.fixture
def anonymous(addresses):
    client = zk.kazoo_client(addresses)
    yield client
    client.stop()
    client.close()


@pytest.fixture
def as_mesos(addresses):
    client = zk.kazoo_client(addresses, auth_data=[("digest", "mesos:" + secret("mesos_zk"))])
    yield client
    client.stop()
    client.close()


@pytest.fixture
def as_super(addresses):
    client = zk.kazoo_client(addresses, auth_data=[("digest", "super:" + secret("zookeeper_super"))])
    yield client
    client.stop()
    client.close()


def test_quorum_sasl_and_tls_are_configured(members):
    for member in members:
        cfg = zoo_cfg(member.container)
        for key in ("quorum.auth.enableSasl", "quorum.auth.learnerRequireSasl", "quorum.auth.serverRequireSasl",
                    "sslQuorum"):
            assert cfg.get(key) == "true", (member.name, key, cfg.get(key))
        assert cfg.get("portUnification") == "false", member.name
        assert cfg["quorum.auth.learner.saslLoginContext"] == "QuorumLearner"
        assert cfg["quorum.auth.server.saslLoginContext"] == "QuorumServer"
        assert cfg["authProvider.sasl"] == "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"
        assert cfg["ssl.quorum.keyStore.type"] == cfg["ssl.quorum.trustStore.type"] == "PEM"
        assert cfg["ssl.quorum.hostnameVerification"] == "true"
        assert cfg["DigestAuthenticationProvider.superDigest"].startswith("super:")
        # Client SASL is offered, not required: Mesos's C client speaks only the digest scheme.
        assert "requireClientAuthScheme" not in cfg and "skipACL" not in cfg


def test_jaas_logins_are_private_and_complete(members):
    for member in members:
        assert th.run_in(member.container, "stat", "-c", "%U:%G %a", "/etc/zookeeper/conf_mesos_ha/jaas.conf"
                         ).stdout.strip() == "root:zookeeper 640", member.name
        jaas = th.run_in(member.container, "cat", "/etc/zookeeper/conf/jaas.conf").stdout
        for section in ("QuorumServer", "QuorumLearner", "Server"):
            assert re.search(rf"^{section} \{{", jaas, re.M), (member.name, section)
        assert 'username="zkpeer"' in jaas and "user_zkpeer=" in jaas and "user_super=" in jaas
        assert "user_mesos=" in jaas


def test_tls_stores_are_installed_with_private_key_modes(members):
    expected = {
        "/etc/zookeeper/conf_mesos_ha/tls": "root:zookeeper 750",
        "/etc/zookeeper/conf_mesos_ha/tls/ca.crt": "root:zookeeper 644",
        "/etc/zookeeper/conf_mesos_ha/tls/host.pem": "root:zookeeper 640",
    }
    for member in members:
        for path, want in expected.items():
            got = th.run_in(member.container, "stat", "-c", "%U:%G %a", path).stdout.strip()
            assert got == want, (member.name, path, got)
        pem = th.run_in(member.container, "cat", "/etc/zookeeper/conf_mesos_ha/tls/host.pem").stdout
        # PEM labels by name: a literal key header here would look like a committed key to scanners.
        assert all(f"-----BEGIN {label}-----" in pem for label in ("PRIVATE KEY", "CERTIFICATE")), member.name


def test_members_use_tls_and_sasl_on_the_quorum(members):
    for member in members:
        journal = th.run_in(member.container, "journalctl", "-u", "zookeeper.service", "--no-pager", "-o", "cat",
                            "-b").stdout
        assert "Using TLS encrypted quorum communication" in journal, member.name
        assert "Successfully completed the authentication using SASL" in journal, member.name
        assert "Using insecure (non-TLS) quorum communication" not in journal.split(
            "Using TLS encrypted quorum communication")[-1], member.name
    # The election port speaks TLS with a certificate from the cluster CA.
    probe = members[0]
    for member in members[1:]:
        out = th.run_in(probe.container, "sh", "-c",
                        f"openssl s_client -connect {member.name}:3888 -CAfile /etc/mesos-ha/pki/ca.crt "
                        f"-verify_return_error </dev/null 2>&1", check=False, timeout=20).stdout
        assert "Verify return code: 0 (ok)" in out, (member.name, out[-1500:])


def test_no_secret_on_the_command_line_or_in_the_journal(members):
    secrets = [secret("zookeeper_quorum"), secret("zookeeper_super"), secret("mesos_zk")]
    digest = make_digest_acl_credential("super", secret("zookeeper_super")).split(":", 1)[1]
    for member in members:
        cmdlines = th.run_in(member.container, "sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '").stdout
        assert "-Djava.security.auth.login.config=/etc/zookeeper/conf/jaas.conf" in cmdlines, member.name
        journal = th.run_in(member.container, "journalctl", "--no-pager", "-o", "cat").stdout
        for value in secrets + [digest]:
            assert value not in cmdlines, f"a secret is on a command line on {member.name}"
            assert value not in journal, f"a secret is in the journal of {member.name}"


def test_unit_keeps_datadir_autocreate_off_and_a_fixed_heap(members):
    for member in members:
        exec_start = th.run_in(member.container, "systemctl", "show", "zookeeper.service", "-p", "ExecStart").stdout
        assert "-Dzookeeper.datadir.autocreate=false" in exec_start
        heap = dict(re.findall(r"-Xm([sx])(\d+)m", exec_start))
        assert heap["s"] == heap["x"], heap
        assert "jute.maxbuffer" not in exec_start


def test_mesos_path_has_the_mesos_digest_and_world_read(as_super, anonymous):
    acls, _ = as_super.get_acls(MESOS_PATH)
    assert acl_set(acls) == expected_acl(), acls
    # Without ADMIN on the znode, ZooKeeper 3.8 shows digest ids without their hash.
    assert acl_set(anonymous.get_acls(MESOS_PATH)[0]) == {(ALL, "digest", "mesos:x"), (READ, "world", "anyone")}


def test_unauthenticated_client_can_read_but_not_write_under_mesos(anonymous, as_mesos):
    if not as_mesos.exists(f"{MESOS_PATH}/molecule-owned"):
        as_mesos.create(f"{MESOS_PATH}/molecule-owned", b"mesos",
                        acl=[ACL(READ, Id("world", "anyone")), ACL(ALL, Id("auth", ""))])
    try:
        assert "molecule-owned" in anonymous.get_children(MESOS_PATH)
        assert anonymous.get(f"{MESOS_PATH}/molecule-owned")[0] == b"mesos"
        with pytest.raises(NoAuthError):
            anonymous.create(f"{MESOS_PATH}/intruder", b"x")
        with pytest.raises(NoAuthError):
            anonymous.set(MESOS_PATH, b"overwritten")
        with pytest.raises(NoAuthError):
            anonymous.set(f"{MESOS_PATH}/molecule-owned", b"overwritten")
        with pytest.raises(NoAuthError):
            anonymous.delete(f"{MESOS_PATH}/molecule-owned")
        with pytest.raises(NoAuthError):
            anonymous.set_acls(MESOS_PATH, [ACL(ALL, Id("world", "anyone"))])
        assert anonymous.exists(f"{MESOS_PATH}/intruder") is None
    finally:
        as_mesos.delete(f"{MESOS_PATH}/molecule-owned")


def test_wrong_password_is_as_good_as_none(addresses):
    client = zk.kazoo_client(addresses, auth_data=[("digest", "mesos:not-the-password-0123456789")])
    try:
        with pytest.raises(NoAuthError):
            client.create(f"{MESOS_PATH}/intruder", b"x")
    finally:
        client.stop()
        client.close()


def test_authenticated_mesos_client_can_write_like_mesos_does(as_mesos, anonymous):
    # Mesos (zk://mesos:pw@.../mesos) creates its znodes world:READ + auth:ALL.
    path = f"{MESOS_PATH}/molecule-child"
    if as_mesos.exists(path):
        as_mesos.delete(path)
    as_mesos.create(path, b"leader-info", acl=[ACL(READ, Id("world", "anyone")), ACL(ALL, Id("auth", ""))])
    try:
        as_mesos.set(path, b"updated")
        assert anonymous.get(path)[0] == b"updated"
        acls, _ = as_mesos.get_acls(path)
        assert acl_set(acls) == expected_acl(), acls  # auth:ALL is stored as the creator's digest
    finally:
        as_mesos.delete(path)


def test_role_repairs_an_opened_mesos_acl(as_super):
    """Someone opened /mesos (world:anyone:cdrwa): a converge puts the ACL back (changed), and a
    second one changes nothing."""
    as_super.set_acls(MESOS_PATH, [ACL(ALL, Id("world", "anyone"))])
    assert acl_set(as_super.get_acls(MESOS_PATH)[0]) == {(ALL, "world", "anyone")}
    tags = ["--tags", "zookeeper_validate,zookeeper_acl"]
    try:
        t0 = time.monotonic()
        first = converge_playbook("playbooks/zookeeper.yml", tags)
        took = time.monotonic() - t0
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
        assert re.search(r"changed: \[\w+\]", first.stdout.split("Create or repair the protected znodes")[1]
                         .split("TASK")[0]), first.stdout[-3000:]
        assert "set the ACL of /mesos" in first.stdout
        assert acl_set(as_super.get_acls(MESOS_PATH)[0]) == expected_acl()
        second = converge_playbook("playbooks/zookeeper.yml", tags)
        assert second.returncode == 0, second.stdout[-3000:]
        assert re.search(r"changed=0 ", second.stdout), second.stdout[-1500:]
        report(f"ACL repair: /mesos opened to world:cdrwa, restored by a tagged run in {took:.1f} s")
    finally:
        as_super.set_acls(MESOS_PATH, [ACL(ALL, Id("digest", mesos_digest())), ACL(READ, Id("world", "anyone"))])
