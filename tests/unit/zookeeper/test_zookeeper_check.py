"""Unit tests for the role's zookeeper-check script (the zoo.cfg validator and srvr probe)."""
from __future__ import annotations

import importlib.machinery
import importlib.util
import socket
import threading
from pathlib import Path

_path = Path(__file__).resolve().parents[3] / "roles/zookeeper/files/usr/local/sbin/zookeeper-check"
_loader = importlib.machinery.SourceFileLoader("zookeeper_check", str(_path))
_spec = importlib.util.spec_from_loader("zookeeper_check", _loader)
zc = importlib.util.module_from_spec(_spec)
_loader.exec_module(zc)

GOOD = """# comment
tickTime=1000
initLimit=5
syncLimit=2
dataDir=/var/lib/zookeeper
clientPort=2181
4lw.commands.whitelist=srvr,ruok,mntr
admin.enableServer=false
reconfigEnabled=false
server.1=zk1:2888:3888
server.2=zk2:2888:3888
server.3=zk3:2888:3888
"""


def test_good_config_passes():
    assert zc.config_errors(GOOD) == []


def test_bad_configs_are_explained():
    bad = GOOD.replace("dataDir=/var/lib/zookeeper", "dataDir=/tmp/zookeeper") \
        .replace("admin.enableServer=false", "admin.enableServer=true") \
        .replace("server.3=zk3:2888:3888", "server.3=zk3:2888\nskipACL=yes\ntickTime=1000")
    errors = "\n".join(zc.config_errors(bad))
    for reason in ("dataDir must be an absolute path outside /tmp", "AdminServer must be disabled",
                   "server.3=zk3:2888: expected host:peerPort:electionPort", "skipACL must not be set",
                   "tickTime is set twice"):
        assert reason in errors


def test_even_server_count_is_refused():
    assert any("odd number" in e for e in zc.config_errors(GOOD + "server.4=zk4:2888:3888\n"))


def test_mode_probe_reads_srvr_and_reports_down():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]

    def answer():
        conn, _ = server.accept()
        assert conn.recv(4) == b"srvr"
        conn.sendall(b"Zookeeper version: 3.8.0\nZxid: 0x100000002\nMode: follower\n")
        conn.close()

    thread = threading.Thread(target=answer)
    thread.start()
    assert zc.mode("127.0.0.1", port, 2.0) == "follower"
    thread.join()
    server.close()
    assert zc.mode("127.0.0.1", port, 0.5) == "down"


def test_connections_sum_the_serving_members_only():
    """The rolling restart waits on this sum: a member that answers without serving (no Mode) or
    does not answer adds nothing, and how many served is reported beside it."""
    replies = {"127.0.0.1": b"Zookeeper version: 3.8.0\nConnections: 7\nMode: leader\n",
               "127.0.0.2": b"Zookeeper version: 3.8.0\nConnections: 4\nMode: follower\n",
               "127.0.0.3": b"This ZooKeeper instance is not currently serving requests\n"}
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    servers, threads = [], []
    for address, reply in replies.items():
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((address, port))
        server.listen(1)
        servers.append(server)

        def answer(server=server, reply=reply):
            conn, _ = server.accept()
            assert conn.recv(4) == b"srvr"
            conn.sendall(reply)
            conn.close()

        threads.append(threading.Thread(target=answer))
        threads[-1].start()
    total = zc.connections([*replies, "127.0.0.4"], port, 1.0)
    for thread in threads:
        thread.join()
    for server in servers:
        server.close()
    assert total == (11, 2)
