"""Pure rules: ZooKeeper URL, member parsing, leader selection, MasterInfo JSON, resources."""

import json

import pytest

from mesos_double import masterinfo, net, resources, zk


def test_zk_url_parse():
    u = zk.parse_url("zk://h1:2181,h2:2182/mesos\n")
    assert (u.servers, u.path, u.auth) == ("h1:2181,h2:2182", "/mesos", None)
    u = zk.parse_url("zk://user:p@ss@h1:2181/a/b")
    assert (u.servers, u.path, u.auth) == ("h1:2181", "/a/b", "user:p@ss")  # last '@' splits
    with pytest.raises(zk.URLError, match=r"\('/' is not supported\)"):
        zk.parse_url("zk://h1:2181/")
    with pytest.raises(zk.URLError, match="Expecting a \\(chroot\\) path for ZooKeeper$"):
        zk.parse_url("zk://h1:2181")
    with pytest.raises(zk.URLError, match="Expecting 'zk://'"):
        zk.parse_url("h1:2181/mesos")


def test_member_parsing_and_leader_rule():
    assert zk.parse_member("json.info_0000000004") == ("json.info", 4)
    assert zk.parse_member("0000000003") == (None, 3)
    assert zk.parse_member("log_replicas") is None
    assert zk.parse_member("info_0000000010") == ("info", 10)
    children = ["log_replicas", "json.info_0000000007", "json.info_0000000004",
                "json.info_0000000012"]
    assert zk.select_leader(children)[0] == "json.info_0000000004"
    # bare sequences (oldest format) take part too, and lowest wins regardless of label
    assert zk.select_leader(children + ["0000000002"])[:2] == ("0000000002", None)
    assert zk.select_leader(["log_replicas"]) is None
    assert zk.select_leader([]) is None


def test_leader_data_decoding():
    info = {"pid": "master@1.2.3.4:5050", "id": "x"}
    assert zk.decode_leader("json.info", json.dumps(info).encode()) == info
    assert zk.decode_leader(None, b"master@1.2.3.4:5050")["pid"] == "master@1.2.3.4:5050"
    with pytest.raises(zk.LeaderDataError, match="Failed to parse data of unknown label 'foo'"):
        zk.decode_leader("foo", b"x")


def test_acls():
    from kazoo.security import OPEN_ACL_UNSAFE
    assert zk.acls_for(zk.parse_url("zk://h:1/m")) == list(OPEN_ACL_UNSAFE)
    acl = zk.acls_for(zk.parse_url("zk://u:p@h:1/m"))
    assert [(a.id.scheme, a.id.id, a.perms) for a in acl] == [("world", "anyone", 1),
                                                              ("auth", "", 31)]


def test_master_info_json_shape():
    info = masterinfo.build("1f0c-uuid", "127.0.0.1", 5050, "localhost")
    assert info["ip"] == 16777343                       # network byte order
    assert masterinfo.build("x", "10.0.0.1", 5050, "h")["ip"] == 16777226
    assert info["pid"] == "master@127.0.0.1:5050"
    assert info["version"] == "1.11.0"
    assert info["address"] == {"hostname": "localhost", "ip": "127.0.0.1", "port": 5050}
    assert info["capabilities"] == [{"type": "AGENT_UPDATE"}, {"type": "AGENT_DRAINING"},
                                    {"type": "QUOTA_V2"}]
    assert set(info) == {"id", "ip", "port", "pid", "hostname", "version", "address",
                         "capabilities"}
    raw = masterinfo.serialize(info)
    assert raw.startswith(b'{"address":') and b" " not in raw   # compact, sorted keys
    assert json.loads(raw) == info
    assert masterinfo.leader_info(info) == {"id": "1f0c-uuid", "pid": "master@127.0.0.1:5050",
                                            "port": 5050, "hostname": "localhost"}


def test_resources_and_attributes():
    assert resources.parse_resources(None) == {"cpus": 1.0, "gpus": 0.0, "mem": 1024.0,
                                               "disk": 10240.0, "ports": "[31000-32000]"}
    r = resources.parse_resources("cpus:4;mem(*):2048;ports:[1000-2000]")
    assert r["cpus"] == 4.0 and r["mem"] == 2048.0 and r["ports"] == "[1000-2000]"
    assert r["disk"] == 10240.0
    j = resources.parse_resources('[{"name":"cpus","type":"SCALAR","scalar":{"value":2}}]')
    assert j["cpus"] == 2.0
    assert resources.parse_attributes("rack:2;os:linux") == {"rack": 2.0, "os": "linux"}


def test_default_ip_resolution_follows_hostname():
    # libprocess without --ip resolves gethostname(); on Debian that can be 127.0.1.1
    import socket

    class Fl:
        ip = None
        port = 5050
        advertise_ip = None
        advertise_port = None
        hostname = None
        hostname_lookup = False
    a = net.Addresses(Fl, 5050)
    assert a.bind_ip == "0.0.0.0"
    assert a.ip == socket.gethostbyname(socket.gethostname())
    assert a.hostname == a.ip   # --no-hostname_lookup -> the IP

    class Fl2(Fl):
        ip = "127.0.0.1"
        advertise_ip = "10.9.8.7"
        advertise_port = "6000"
    b = net.Addresses(Fl2, 5050)
    assert (b.bind_ip, b.ip, b.port, b.advertise_port) == ("127.0.0.1", "10.9.8.7", 5050, 6000)
