"""ZooKeeper security in the full cluster (issue 7): the Mesos path belongs to the Mesos ZooKeeper
user, everyone may read it (leader detection), nobody else may write; the masters still elect
through it, and the znodes they create carry world:READ + the creator's digest (Mesos's
EVERYONE_READ_CREATOR_ALL). Read-only apart from refused writes."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from kazoo.exceptions import NoAuthError
from kazoo.security import ACL, Id, make_digest_acl_credential
from mesos_ha_testlib import zk

ALL, READ = 31, 1
PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY") or Path(__file__).resolve().parents[3])


def _secret(name: str) -> str:
    cache = Path(os.environ.get("MESOS_HA_CACHE", PROJECT / ".cache"))
    return (cache / "secrets" / name).read_text(encoding="utf-8").strip()


@pytest.fixture(scope="module")
def zk_path(settings) -> str:
    return settings.get("mesos_common_zk_path", "/mesos")


@pytest.fixture(scope="module")
def mesos_acl(settings) -> set[tuple[int, str, str]]:
    user = settings.get("mesos_common_zk_username", "mesos")
    return {(ALL, "digest", make_digest_acl_credential(user, _secret("mesos_zk"))), (READ, "world", "anyone")}


@pytest.fixture(scope="module")
def as_super(zk_addresses):
    """Reads ACLs with their digests (ZooKeeper 3.8 shows others 'user:x' without ADMIN)."""
    client = zk.kazoo_client(zk_addresses, auth_data=[("digest", "super:" + _secret("zookeeper_super"))])
    yield client
    client.stop()
    client.close()


@pytest.fixture(scope="module")
def anonymous(zk_addresses):
    client = zk.kazoo_client(zk_addresses)
    yield client
    client.stop()
    client.close()


def _acl(client, path) -> set[tuple[int, str, str]]:
    return {(a.perms, a.id.scheme, a.id.id) for a in client.get_acls(path)[0]}


def test_mesos_path_is_owned_by_the_mesos_user_and_world_readable(as_super, anonymous, zk_path, mesos_acl):
    assert _acl(as_super, zk_path) == mesos_acl
    assert (ALL, "world", "anyone") not in _acl(anonymous, zk_path)
    assert (READ, "world", "anyone") in _acl(anonymous, zk_path)


def test_unauthenticated_client_cannot_write_under_the_mesos_path(anonymous, zk_path):
    children = anonymous.get_children(zk_path)  # reading (leader detection) still works
    with pytest.raises(NoAuthError):
        anonymous.create(f"{zk_path}/intruder", b"x")
    with pytest.raises(NoAuthError):
        anonymous.set(zk_path, b"x")
    with pytest.raises(NoAuthError):
        anonymous.set_acls(zk_path, [ACL(ALL, Id("world", "anyone"))])
    for child in children:
        with pytest.raises(NoAuthError):
            anonymous.delete(f"{zk_path}/{child}", recursive=False)
    assert anonymous.exists(f"{zk_path}/intruder") is None


def test_masters_elect_through_the_protected_path(as_super, anonymous, zk_path, mesos_acl, leader):
    """Leader election works with ACLs on: contender znodes exist, readable by anyone, writable
    only by the Mesos user (world:READ + auth:ALL as Mesos creates them)."""
    children = anonymous.get_children(zk_path)
    contenders = sorted(c for c in children if c.startswith("json.info_"))
    assert contenders, f"no json.info_ contenders under {zk_path}: {children}"
    for child in contenders:
        data, _ = anonymous.get(f"{zk_path}/{child}")
        assert data, child
        assert _acl(as_super, f"{zk_path}/{child}") == mesos_acl, child
    assert leader is not None
