"""The converged HA cluster: one leader every master agrees on, both agents registered with it,
and the znode layout real Mesos 1.11 writes (shared/reference/mesos-contracts.md §1, §3, §8).

Read-only: these tests change nothing on the hosts.
"""
from __future__ import annotations

import json
import re
import socket

from mesos_ha_testlib import hosts as th
from mesos_ha_testlib import mesos

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
MASTER_CAPABILITIES = {"AGENT_UPDATE", "AGENT_DRAINING", "QUOTA_V2"}


def network_order_uint32(ip: str) -> int:
    """MasterInfo.ip: the IPv4 address in network byte order read as a little-endian uint32."""
    return int.from_bytes(socket.inet_aton(ip), "little")


# -------------------------------------------------------------------------------------- election
def test_every_master_agrees_on_one_leader(masters, leader):
    """/master/state on the leader names itself; followers send it there with a 307."""
    assert leader.pid == f"master@{leader.host.address}:{mesos.MASTER_PORT}", leader.state
    assert leader.state.get("leader_info", {}).get("hostname") == leader.host.name, leader.state
    for master in masters:
        resp = mesos.http_get(master.address, mesos.MASTER_PORT, "/master/state")
        if master == leader.host:
            assert resp.status == 200, f"leader {master.name}: /master/state answered {resp.status}"
            state = resp.json()
        else:
            assert resp.status == 307, f"follower {master.name}: /master/state answered {resp.status}, not 307"
            hostname, port, path = mesos.parse_location(resp.headers.get("location", ""))
            assert (hostname, port, path) == (leader.host.name, mesos.MASTER_PORT, "/master/state"), (
                f"follower {master.name} redirects to {resp.headers.get('location')!r}")
            target = mesos.by_hostname(masters, hostname)
            state = mesos.get_json(target.address, port, path)
        assert state["leader"] == leader.pid, f"via {master.name}: leader is {state['leader']!r}, not {leader.pid!r}"


def test_exactly_one_master_is_elected(masters, leader):
    """master/elected summed over the masters is 1, it is the leader's, and its registry is recovered."""
    snapshots = {m.name: mesos.metrics_snapshot(m.address) for m in masters}
    elected = {name: snap["master/elected"] for name, snap in snapshots.items()}
    assert sum(elected.values()) == 1, f"master/elected per master: {elected}"
    assert elected[leader.host.name] == 1, f"master/elected per master: {elected}; leader is {leader.host.name}"
    assert snapshots[leader.host.name]["registrar/log/recovered"] == 1, snapshots[leader.host.name]


def test_redirect_names_the_leader_on_every_master(masters, leader):
    """/redirect answers 307 Location //<leader hostname>:5050 on followers and on the leader itself."""
    expected = f"//{leader.host.name}:{mesos.MASTER_PORT}"
    answers = {}
    for master in masters:
        resp = mesos.redirect_location(master.address)
        answers[master.name] = (resp.status, resp.headers.get("location"))
    assert answers == {m.name: (307, expected) for m in masters}


# ---------------------------------------------------------------------------------------- agents
def test_both_agents_registered_and_active(masters, agents, leader):
    """The leader lists agent1 and agent2 as active, with ids derived from a master's id."""
    state = mesos.find_leader(masters).state
    slaves = state["slaves"]
    assert len(slaves) == 2, f"leader lists {len(slaves)} agents: {[s.get('hostname') for s in slaves]}"
    assert sorted(s["hostname"] for s in slaves) == [a.name for a in agents]
    assert all(s["active"] for s in slaves), [(s["hostname"], s["active"]) for s in slaves]
    assert len({s["id"] for s in slaves}) == 2, [s["id"] for s in slaves]
    for slave in slaves:
        match = re.fullmatch(rf"(?P<master>{UUID})-S(?P<n>\d+)", slave["id"])
        assert match, f"{slave['hostname']}: agent id {slave['id']!r} is not <master id>-S<n>"
        # Registered with this leader, or with an earlier one and then re-registered here.
        assert match["master"] == leader.id or slave.get("reregistered_time"), (
            f"{slave['hostname']}: id {slave['id']} comes from master {match['master']}, the leader is "
            f"{leader.id}, and the agent never re-registered with it")
        agent = mesos.by_hostname(agents, slave["hostname"])
        assert slave["pid"] == f"slave(1)@{agent.address}:{mesos.AGENT_PORT}", slave


def test_each_agent_follows_the_leader_under_the_id_the_leader_lists(masters, agents, leader):
    """Each agent has detected the leader (slave/registered=1: a leader detected, which alone
    proves no registration), its /state id is the one the leader lists, and it names the leader."""
    by_host = {s["hostname"]: s for s in mesos.find_leader(masters).state["slaves"]}
    for agent in agents:
        metrics = mesos.metrics_snapshot(agent.address, mesos.AGENT_PORT)
        assert metrics["slave/registered"] == 1, f"{agent.name}: slave/registered={metrics['slave/registered']}"
        state = mesos.get_json(agent.address, mesos.AGENT_PORT, "/state")
        assert agent.name in by_host, f"{agent.name} is not in the leader's slaves"
        assert state["id"] == by_host[agent.name]["id"], (agent.name, state["id"], by_host[agent.name]["id"])
        # Mesos reports the reverse DNS name of the master's IP; it must lead back to the leader.
        resolved = th.run_in(agent.container, "getent", "ahostsv4", state["master_hostname"]).stdout.split()
        assert resolved[:1] == [leader.host.address], (
            f"{agent.name} follows master {state['master_hostname']} ({resolved[:1]}), not {leader.host.name}")


# ---------------------------------------------------------------------------------------- znodes
def test_master_znodes_hold_master_info(masters, zk_addresses, leader, settings):
    """Exactly 3 ephemeral json.info_<10 digits> children with MasterInfo JSON; the lowest leads."""
    zk_path = settings["mesos_common_zk_path"]
    parent, children = mesos.read_tree(zk_addresses, zk_path)
    assert parent.ephemeral_owner == 0 and parent.data == b"", f"{zk_path} must be persistent and empty: {parent}"
    contenders = {n: z for n, z in children.items() if re.fullmatch(r"json\.info_\d{10}", n)}
    # Anything else that parses as <label>_<int> or <int> would be taken for a contender.
    assert set(children) - set(contenders) == {"log_replicas"}, f"children of {zk_path}: {sorted(children)}"
    assert len(contenders) == 3, f"json.info_ children: {sorted(contenders)}"
    assert all(z.ephemeral_owner != 0 for z in contenders.values()), contenders
    assert len({z.ephemeral_owner for z in contenders.values()}) == 3, "contenders must use 3 sessions"

    addresses = {m.name: m.address for m in masters}
    infos = {}
    for name, znode in contenders.items():
        info = json.loads(znode.data)
        infos[name] = info
        assert set(info) >= {"id", "ip", "port", "pid", "hostname", "version", "address", "capabilities"}, info
        host, ip = info["hostname"], info["address"]["ip"]
        assert host in addresses and ip == addresses[host], f"{name}: {host} advertises {ip}"
        assert re.fullmatch(UUID, info["id"]), info["id"]
        assert info["ip"] == network_order_uint32(ip), f"{name}: ip {info['ip']} is not {ip} in network order"
        assert info["port"] == mesos.MASTER_PORT, info
        assert info["pid"] == f"master@{ip}:{mesos.MASTER_PORT}", info
        assert info["version"] == settings["mesos_common_version"], info
        assert info["address"] == {"hostname": host, "ip": ip, "port": mesos.MASTER_PORT}, info
        assert {c["type"] for c in info["capabilities"]} == MASTER_CAPABILITIES, info["capabilities"]
    assert sorted(i["hostname"] for i in infos.values()) == sorted(addresses), infos
    assert len({i["id"] for i in infos.values()}) == 3, infos

    lowest = min(contenders)  # same width, so the name order is the sequence order
    assert infos[lowest]["pid"] == leader.pid and infos[lowest]["id"] == leader.id, (
        f"lowest sequence {lowest} is {infos[lowest]['hostname']}, the leader is {leader.host.name}")


def test_log_replica_znodes(masters, zk_addresses, settings):
    """/mesos/log_replicas: 3 bare 10-digit ephemeral members holding log-replica(N)@<ip>:5050."""
    path = settings["mesos_common_zk_path"].rstrip("/") + "/log_replicas"
    parent, children = mesos.read_tree(zk_addresses, path)
    assert parent.ephemeral_owner == 0 and parent.data == b"", f"{path} must be persistent and empty: {parent}"
    assert len(children) == 3 and all(re.fullmatch(r"\d{10}", n) for n in children), sorted(children)
    assert all(z.ephemeral_owner != 0 for z in children.values()), children
    ips = []
    for name, znode in children.items():
        match = re.fullmatch(rf"log-replica\(\d+\)@(?P<ip>[\d.]+):{mesos.MASTER_PORT}", znode.data.decode())
        assert match, f"{path}/{name}: {znode.data!r}"
        ips.append(match["ip"])
    assert sorted(ips) == sorted(m.address for m in masters), f"replicas advertise {ips}"
