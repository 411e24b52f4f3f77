"""Two of three members down: the survivor refuses service and writes fail; one member back
restores quorum and the data."""
from __future__ import annotations

import pytest
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError
from scenario import put, report, wait_all_serving
from mesos_ha_testlib import hosts as th
from mesos_ha_testlib import zk


def test_quorum_loss_and_recovery(members, addresses, failover_bound_s):
    wait_all_serving(members)
    client = zk.kazoo_client(addresses)
    try:
        put(client, "/molecule/quorum", b"before-quorum-loss")
    finally:
        client.stop()
        client.close()

    survivor, down = members[0], members[1:]
    try:
        for member in down:
            th.run_in(member.container, "systemctl", "stop", "zookeeper.service")
        zk.wait_for(lambda: zk.srvr(survivor.address).mode == "not-serving", timeout=failover_bound_s + 10)
        assert "not currently serving requests" in zk.four_letter_word(survivor.address, "srvr")

        with pytest.raises((KazooException, KazooTimeoutError)):
            lonely = zk.kazoo_client([survivor.address], timeout=3)
            try:
                lonely.create("/molecule/without-quorum", b"must-not-exist")
            finally:
                lonely.stop()
                lonely.close()

        th.run_in(down[0].container, "systemctl", "start", "zookeeper.service")
        took = zk.wait_for(lambda: zk.has_quorum([zk.srvr(m.address, timeout=0.5) for m in members], len(members)),
                           timeout=90, interval=0.1)
        report(f"quorum loss: {survivor.name}+{down[0].name} serve again {took:.1f} s after starting {down[0].name}")
        client = zk.kazoo_client([survivor.address, down[0].address])
        try:
            assert client.get("/molecule/quorum")[0] == b"before-quorum-loss"
            assert client.exists("/molecule/without-quorum") is None
            put(client, "/molecule/after-quorum", b"ok")
        finally:
            client.stop()
            client.close()
    finally:
        for member in down:
            th.run_in(member.container, "systemctl", "start", "zookeeper.service", check=False)
    wait_all_serving(members)
