"""The converged ensemble: roles, replication, hardening, files and the unit."""
from __future__ import annotations

import re

import pytest
from scenario import put, modes, zoo_cfg
from mesos_ha_testlib import hosts as th
from mesos_ha_testlib import zk


def test_exactly_one_leader_and_two_followers(members):
    seen = sorted(modes(members).values())
    assert seen == ["follower", "follower", "leader"], seen


def test_znode_written_on_one_member_is_read_on_the_others(members):
    writer = zk.kazoo_client([members[0].address])
    try:
        put(writer, "/molecule/replicated", b"written-through-" + members[0].name.encode())
    finally:
        writer.stop()
        writer.close()
    for member in members[1:]:
        reader = zk.kazoo_client([member.address])
        try:
            reader.sync("/molecule/replicated")
            data, _ = reader.get("/molecule/replicated")
        finally:
            reader.stop()
            reader.close()
        assert data == b"written-through-" + members[0].name.encode(), member.name


@pytest.mark.parametrize("word", ["conf", "envi", "dump", "wchp"])
def test_unlisted_four_letter_words_are_refused(members, word):
    for member in members:
        answer = zk.four_letter_word(member.address, word)
        assert "is not in the whitelist" in answer, (member.name, answer)


def test_whitelisted_four_letter_words_answer(members):
    for member in members:
        assert zk.four_letter_word(member.address, "ruok") == "imok"
        assert "zk_server_state" in zk.four_letter_word(member.address, "mntr")


def test_nothing_listens_on_8080(members):
    """No AdminServer (8080) and no Prometheus metrics endpoint (7000, metricsProvider.httpPort)."""
    for member in members:
        listening = th.run_in(member.container, "ss", "-Hltn").stdout
        ports = {line.split()[3].rsplit(":", 1)[1] for line in listening.splitlines() if line.strip()}
        assert not {"8080", "7000"} & ports, (member.name, listening)
        assert "2181" in ports, (member.name, listening)


def test_zoo_cfg_hardening(members):
    for member in members:
        cfg = zoo_cfg(member.container)
        assert cfg["dataDir"] == "/var/lib/zookeeper"
        assert cfg["4lw.commands.whitelist"] == "srvr,ruok,mntr"
        assert cfg["admin.enableServer"] == "false"
        assert cfg["reconfigEnabled"] == "false"
        assert "skipACL" not in cfg
        assert int(cfg["autopurge.snapRetainCount"]) >= 3
        assert int(cfg["autopurge.purgeInterval"]) >= 1
        assert sorted(k for k in cfg if k.startswith("server.")) == ["server.1", "server.2", "server.3"]


def test_ownership_and_modes(members):
    expected = {
        "/etc/zookeeper/conf_mesos_ha": "root:zookeeper 750",
        "/etc/zookeeper/conf_mesos_ha/zoo.cfg": "root:zookeeper 640",
        "/etc/zookeeper/conf_mesos_ha/myid": "root:zookeeper 640",
        "/var/lib/zookeeper": "zookeeper:zookeeper 750",
        "/var/lib/zookeeper/version-2": "zookeeper:zookeeper 750",
        "/etc/systemd/system/zookeeper.service": "root:root 644",
    }
    for member in members:
        for path, want in expected.items():
            got = th.run_in(member.container, "stat", "-c", "%U:%G %a", path).stdout.strip()
            assert got == want, (member.name, path, got)


def test_myid_matches_the_server_line_and_resolves_from_the_data_dir(members):
    for member in members:
        myid = th.run_in(member.container, "cat", "/var/lib/zookeeper/myid").stdout.strip()
        assert myid.isdigit() and 1 <= int(myid) <= 255, (member.name, myid)
        target = th.run_in(member.container, "readlink", "-f", "/var/lib/zookeeper/myid").stdout.strip()
        assert target == "/etc/zookeeper/conf_mesos_ha/myid", (member.name, target)
        assert zoo_cfg(member.container)[f"server.{myid}"] == f"{member.name}:2888:3888", member.name
    ids = {th.run_in(m.container, "cat", "/var/lib/zookeeper/myid").stdout.strip() for m in members}
    assert len(ids) == len(members), ids


def test_alternatives_select_the_role_conf_dir(members):
    for member in members:
        query = th.run_in(member.container, "update-alternatives", "--query", "zookeeper-conf").stdout
        assert re.search(r"^Value: /etc/zookeeper/conf_mesos_ha$", query, re.M), (member.name, query)
        assert re.search(r"^Status: auto$", query, re.M), (member.name, query)
        assert th.run_in(member.container, "readlink", "-f", "/etc/zookeeper/conf").stdout.strip() == \
            "/etc/zookeeper/conf_mesos_ha"


def test_unit_runs_java_as_zookeeper_with_a_fixed_heap(members):
    for member in members:
        show = th.run_in(member.container, "systemctl", "show", "zookeeper.service", "-p", "User", "-p", "Restart",
                         "-p", "ActiveState", "-p", "MemoryMax", "-p", "ExecStart", "-p", "FragmentPath").stdout
        props = dict(line.split("=", 1) for line in show.splitlines() if "=" in line)
        assert props["User"] == "zookeeper" and props["Restart"] == "always"
        assert props["ActiveState"] == "active"
        assert props["FragmentPath"] == "/etc/systemd/system/zookeeper.service"
        heap = re.findall(r"-Xm([sx])(\d+)m", props["ExecStart"])
        assert dict(heap)["s"] == dict(heap)["x"], heap
        assert int(props["MemoryMax"]) > int(dict(heap)["x"]) * 1024 * 1024
        assert "-Dzookeeper.datadir.autocreate=false" in props["ExecStart"]
        assert "org.apache.zookeeper.server.quorum.QuorumPeerMain" in props["ExecStart"]
        process = th.run_in(member.container, "ps", "-o", "user=,args=", "-C", "java").stdout
        assert process.startswith("zookeep"), process
        th.run_in(member.container, "systemd-analyze", "verify", "/etc/systemd/system/zookeeper.service")
