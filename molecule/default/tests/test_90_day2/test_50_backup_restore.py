"""playbooks/backup.yml and playbooks/restore.yml.

* A backup is taken while a marker znode exists; a second znode is made after it. Restoring the
  whole cluster from the backup brings back exactly the backed-up tree (the marker is there, the
  later znode is not) and the backed-up registry: every agent re-registers with its old id.
* A restore without restore_confirm=yes stops before touching anything.
* One member whose ZooKeeper data and replicated log are wiped (a dead disk) is rebuilt from its
  peers: it serves again, its log replica has caught up, it holds the marker, agent ids unchanged.
"""
from __future__ import annotations

import json
import time

import pytest
from day2lib import Day2, main_pids, sh
from mesos_ha_testlib import mesos
from mesos_ha_testlib import zk as tzk

MARKER = "/day2-backup-marker"
LATER = "/day2-after-the-backup"
RESTORE = "playbooks/restore.yml"


@pytest.fixture(scope="module")
def backup(day2: Day2) -> dict:
    """A backup taken with MARKER present and LATER made afterwards: its directory and manifest."""
    zks = [h.address for h in day2.hosts("zookeeper")]
    with mesos.zk_session(zks) as client:
        client.ensure_path(MARKER)
        client.set(MARKER, b"before the backup")
        client.delete(LATER) if client.exists(LATER) else None
    root = day2.tmp / "backups"
    leader = mesos.find_leader(day2.hosts("mesos_masters")).host.name
    run = day2.run("playbooks/backup.yml", extra={"backup_root": str(root)})
    assert run.rc == 0, run.summary()
    (directory,) = list(root.iterdir())
    with mesos.zk_session(zks) as client:
        client.create(LATER, b"after the backup")
    return {"dir": directory, "leader": leader,
            "manifest": json.loads((directory / "manifest.json").read_text(encoding="utf-8"))}


def test_backup_holds_both_stores_with_checksums(backup: dict, baseline) -> None:
    manifest = backup["manifest"]
    assert manifest["format"] == "mesos-ha-backup/1"
    assert set(manifest["files"]) == {"zookeeper-data.tar.gz", "replicated-log.tar.gz"}
    for name, digest in manifest["files"].items():
        assert (backup["dir"] / name).stat().st_size > 0
        assert digest and len(digest) == 64
    assert manifest["agents"] == baseline.baseline["agent_ids"]
    assert manifest["zookeeper"]["zxid"].startswith("0x")
    # The log is copied from a stopped follower, never from the leader.
    assert manifest["replicated_log"]["source"] != backup["leader"]


def test_restore_needs_a_confirmation(day2: Day2, backup: dict) -> None:
    before = main_pids(day2)
    run = day2.run(RESTORE, extra={"restore_from": str(backup["dir"])})
    assert run.rc != 0 and "restore_confirm=yes" in " ".join(run.failure_messages()), run.summary()
    assert main_pids(day2) == before


def test_whole_cluster_restore_brings_back_the_backup(day2: Day2, backup: dict, baseline) -> None:
    ids = dict(baseline.baseline["agent_ids"])
    run = day2.run(RESTORE, extra={"restore_from": str(backup["dir"]), "restore_confirm": "yes"})
    assert run.rc == 0, run.summary()
    zks = [h.address for h in day2.hosts("zookeeper")]
    with mesos.zk_session(zks) as client:
        assert client.get(MARKER)[0] == b"before the backup"
        assert client.exists(LATER) is None, "the znode made after the backup survived the restore"
    check = day2.drill().establish_baseline()
    assert check["agent_ids"] == ids, f"agent ids changed: {ids} -> {check['agent_ids']}"
    for host in day2.groups["mesos_masters"]:
        assert sh(host, "ls -d /var/lib/mesos/master/replicated_log.before-restore-*"), "the old log was not kept"


def test_member_with_a_wiped_disk_is_rebuilt_from_its_peers(day2: Day2, baseline) -> None:
    ids = dict(baseline.baseline["agent_ids"])
    target = next(h for h in day2.groups["mesos_masters"] if h != mesos.find_leader(day2.hosts("mesos_masters")).host.name)
    sh(target, "systemctl stop mesos-master zookeeper && rm -rf /var/lib/zookeeper/version-2* /var/lib/mesos/master/replicated_log*")
    run = day2.run(RESTORE, extra={"restore_hosts": [target], "restore_confirm": "yes"})
    assert run.rc == 0, run.summary()
    host = next(h for h in day2.hosts("mesos_masters") if h.name == target)
    assert tzk.srvr(host.address).mode in ("leader", "follower")
    deadline = time.monotonic() + 60
    while mesos.metrics_snapshot(host.address).get("registrar/log/recovered") != 1:
        assert time.monotonic() < deadline, f"{target}'s log replica did not catch up"
        time.sleep(1)
    with mesos.zk_session([host.address]) as client:
        assert client.get(MARKER)[0] == b"before the backup"
    assert day2.drill().establish_baseline()["agent_ids"] == ids
