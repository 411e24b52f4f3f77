"""The firewall (roles/firewall): who can connect to what, and how the table is managed.

Behavioural: TCP connections are attempted between the scenario's containers (docker exec ...
python3 socket connect with a timeout) and from the controller, which is the sandbox's
administrator (firewall_admin_cidrs = the docker network's gateway). Ports that are listening are
used for the negative cases, so "timeout" proves the firewall dropped the SYN (without it the
connection would succeed; a closed port would answer "refused"). The ruleset is read as JSON
(`nft -j list ruleset`), and a converge with --tags firewall must change nothing and keep the
rule handles; a foreign table (as Docker's) survives reloads and service restarts.
"""
from __future__ import annotations

import ipaddress
import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mesos_ha_testlib import hosts as th
from mesos_ha_testlib import mesos
from mesos_ha_testlib import zk

TABLE = "mesos_ha"
BASELINE = "playbooks/baseline.yml"
TIMEOUT = 3.0
ZK_CLIENT, ZK_PEER, ZK_ELECTION = 2181, 2888, 3888
MASTER, AGENT, SSH = 5050, 5051, 22

PROBE = (
    "import socket, sys\n"
    "s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
    "s.settimeout(float(sys.argv[3]))\n"
    "try:\n"
    "    s.connect((sys.argv[1], int(sys.argv[2])))\n"
    "    print('connected')\n"
    "except socket.timeout:\n"
    "    print('timeout')\n"
    "except ConnectionRefusedError:\n"
    "    print('refused')\n"
    "except OSError as exc:\n"
    "    print('error ' + str(exc))\n"
)



def group_hosts(group: str) -> list[mesos.Host]:
    """The hosts of a group (children expanded) with their containers and scenario addresses."""
    return mesos.group_hosts(group)

def connect_from(container: str, address: str, port: int, timeout: float = TIMEOUT) -> str:
    """'connected', 'timeout', 'refused' or 'error ...' for a TCP connect from inside a container."""
    result = th.run_in(container, "python3", "-c", PROBE, address, str(port), str(timeout),
                       timeout=timeout + 30)
    return result.stdout.strip()


def connect_from_controller(address: str, port: int, timeout: float = TIMEOUT) -> str:
    """The same probe from the controller (the test machine, seen as the network's gateway)."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return "connected"
    except socket.timeout:
        return "timeout"
    except ConnectionRefusedError:
        return "refused"
    except OSError as exc:
        return f"error {exc}"


def ruleset(container: str) -> list[dict[str, Any]]:
    """`nft -j list ruleset` of a container: the list of objects under 'nftables'."""
    out = th.run_in(container, "nft", "-j", "list", "ruleset").stdout
    return json.loads(out)["nftables"]


def table_objects(objects: list[dict[str, Any]], kind: str, table: str = TABLE) -> list[dict[str, Any]]:
    """The objects of one kind ('chain', 'rule', 'set') in our inet table."""
    return [o[kind] for o in objects if kind in o and o[kind].get("table") == table
            and o[kind].get("family") == "inet"]


def rule_handles(container: str) -> list[tuple[str, int, str]]:
    """(chain, handle, expression) of every rule in our table, in order."""
    return [(r["chain"], r["handle"], json.dumps(r["expr"], sort_keys=True))
            for r in table_objects(ruleset(container), "rule")]


def tables(container: str) -> set[tuple[str, str]]:
    """Every (family, name) table in the container's network namespace."""
    return {(o["table"]["family"], o["table"]["name"]) for o in ruleset(container) if "table" in o}


@pytest.fixture(scope="module")
def cluster() -> dict[str, list[mesos.Host]]:
    """The scenario's hosts per group (each group must have members: a loop over an empty group
    would pass every check below)."""
    found = {group: group_hosts(group) for group in ("zookeeper", "mesos_masters", "mesos_agents")}
    assert len(found["zookeeper"]) == 3 and len(found["mesos_masters"]) == 3 and len(found["mesos_agents"]) >= 2, found
    return found


@pytest.fixture(scope="module")
def all_hosts(cluster: dict[str, list[mesos.Host]]) -> list[mesos.Host]:
    found: dict[str, mesos.Host] = {}
    for members in cluster.values():
        found.update({h.name: h for h in members})
    return [found[name] for name in sorted(found)]


@pytest.fixture(scope="module")
def zk_roles(cluster: dict[str, list[mesos.Host]]) -> dict[str, mesos.Host]:
    """The ZooKeeper leader and one follower (asked from the controller, an admin, on 2181)."""
    modes = {h.name: zk.srvr(h.address).mode for h in cluster["zookeeper"]}
    leaders = [h for h in cluster["zookeeper"] if modes[h.name] == "leader"]
    followers = [h for h in cluster["zookeeper"] if modes[h.name] == "follower"]
    assert len(leaders) == 1 and followers, f"ensemble not serving as expected: {modes}"
    return {"leader": leaders[0], "follower": followers[0]}


# ------------------------------------------------------------------------------------- ruleset
def test_table_has_drop_policy_loopback_and_established(all_hosts: list[mesos.Host]) -> None:
    for host in all_hosts:
        objects = ruleset(host.container)
        chains = {c["name"]: c for c in table_objects(objects, "chain")}
        assert "input" in chains, f"{host.name}: no input chain in table inet {TABLE}: {sorted(chains)}"
        assert chains["input"].get("hook") == "input" and chains["input"].get("policy") == "drop", \
            f"{host.name}: input chain is {chains['input']}"
        assert chains.get("output", {}).get("policy", "accept") == "accept"
        rules = [json.dumps(r["expr"]) for r in table_objects(objects, "rule") if r["chain"] == "input"]
        lo = [r for r in rules if '"iif"' in r and '"lo"' in r and '"accept"' in r]
        assert lo, f"{host.name}: no 'iif lo accept' rule"
        established = [r for r in rules if '"state"' in r and "established" in r and "related" in r
                       and '"accept"' in r]
        assert established, f"{host.name}: no 'ct state established,related accept' rule"
        spoofed = [r for r in rules if "127.0.0.0" in r and '"drop"' in r]
        assert spoofed, f"{host.name}: no rule dropping 127.0.0.0/8 sources off lo"
        assert rules.index(lo[0]) < rules.index(spoofed[0]), "the lo accept must come before the spoof drop"


def test_quorum_ports_are_open_only_to_the_ensemble(cluster: dict[str, list[mesos.Host]]) -> None:
    zk_addresses = {ipaddress.ip_address(h.address) for h in cluster["zookeeper"]}
    for host in cluster["zookeeper"]:
        sets = {s["name"]: s for s in table_objects(ruleset(host.container), "set")}
        assert "zk_peer_v4" in sets, f"{host.name}: no zk_peer_v4 set"
        members = set().union(*(_element_addresses(e) for e in sets["zk_peer_v4"].get("elem", [])))
        assert members == zk_addresses, f"{host.name}: zk_peer_v4 holds {sorted(map(str, members))}"
    for host in cluster["mesos_agents"]:
        names = {s["name"] for s in table_objects(ruleset(host.container), "set")}
        assert "zk_peer_v4" not in names and "master_v4" not in names, f"{host.name}: serves no ZK/master: {names}"


def _element_addresses(element: Any) -> set[ipaddress.IPv4Address]:
    """The addresses an nft JSON set element covers (an address, a prefix or a merged range)."""
    if isinstance(element, str):
        return {ipaddress.ip_address(element)}
    if "prefix" in element:
        network = ipaddress.ip_network(f"{element['prefix']['addr']}/{element['prefix']['len']}")
        return set(network) if network.num_addresses <= 256 else {network.network_address}
    if "range" in element:
        low, high = (int(ipaddress.ip_address(a)) for a in element["range"])
        return {ipaddress.ip_address(n) for n in range(low, min(high, low + 255) + 1)}
    raise AssertionError(f"unexpected set element {element}")


def _set_members(container: str, name: str) -> set[ipaddress.IPv4Address]:
    sets = {s["name"]: s for s in table_objects(ruleset(container), "set")}
    assert name in sets, f"{container}: no set {name} (sets: {sorted(sets)})"
    return set().union(*(_element_addresses(e) for e in sets[name].get("elem", [])))


def _admin_addresses() -> set[ipaddress.IPv4Address]:
    """firewall_admin_cidrs of the sandbox: the scenario network's gateway (the controller)."""
    gateway = subprocess.run(["docker", "network", "inspect", f"mesos-ha-{mesos.scenario_name()}", "--format",
                              "{{(index .IPAM.Config 0).Gateway}}"], capture_output=True, text=True, check=True,
                             timeout=30).stdout.strip()
    return {ipaddress.ip_address(gateway)}


def test_allow_lists_hold_exactly_the_roles_that_need_them(cluster: dict[str, list[mesos.Host]]) -> None:
    """hardening.md 7.34: 2181 from masters, agents and admins; 5050 from agents, masters (the
    replicated log, redirects) and admins; 5051 from masters and admins. Nothing else in them."""
    masters = {ipaddress.ip_address(h.address) for h in cluster["mesos_masters"]}
    agents = {ipaddress.ip_address(h.address) for h in cluster["mesos_agents"]}
    admin = _admin_addresses()
    expected = {"zk_client_v4": (cluster["zookeeper"], masters | agents | admin),
                "master_v4": (cluster["mesos_masters"], masters | agents | admin),
                "agent_v4": (cluster["mesos_agents"], masters | admin)}
    for name, (hosts, allowed) in expected.items():
        for host in hosts:
            found = _set_members(host.container, name)
            assert found == allowed, (f"{host.name}: {name} holds {sorted(map(str, found))}, "
                                      f"expected {sorted(map(str, allowed))}")


def test_forward_chain_only_off_agents(cluster: dict[str, list[mesos.Host]]) -> None:
    for host in cluster["mesos_agents"]:
        chains = {c["name"] for c in table_objects(ruleset(host.container), "chain")}
        assert "forward" not in chains, f"{host.name}: an agent must not get a forward chain (Docker/CNI)"
    for host in cluster["zookeeper"]:
        chains = {c["name"]: c for c in table_objects(ruleset(host.container), "chain")}
        assert chains.get("forward", {}).get("policy") == "drop", f"{host.name}: forward chain {chains.get('forward')}"


def test_persistence_never_flushes_other_tables(all_hosts: list[mesos.Host]) -> None:
    for host in all_hosts:
        conf = th.run_in(host.container, "cat", "/etc/nftables.conf").stdout
        statements = [line for line in conf.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        assert not any("flush" in line for line in statements), statements
        assert 'include "/etc/nftables.d/*.nft"' in conf, conf
        assert th.run_in(host.container, "nft", "-c", "-f", "/etc/nftables.conf", check=False).returncode == 0
        stop = th.run_in(host.container, "systemctl", "show", "-p", "ExecStop", "nftables.service").stdout
        assert f"delete table inet {TABLE}" in stop and "flush" not in stop, stop
        enabled = th.run_in(host.container, "systemctl", "is-enabled", "nftables.service", check=False).stdout.strip()
        assert enabled == "enabled", f"{host.name}: nftables.service is {enabled}"
        ufw = th.run_in(host.container, "dpkg-query", "-W", "-f=${Status}", "ufw", check=False)
        assert "install ok installed" not in ufw.stdout, f"{host.name}: ufw is installed"
        mode = th.run_in(host.container, "stat", "-c", "%U %a", "/etc/nftables.conf").stdout.split()
        assert mode[0] == "root" and mode[1] in ("600", "640", "644"), mode


# ------------------------------------------------------------------------------- connection matrix
def test_zookeeper_peers_reach_quorum_and_election_ports(zk_roles: dict[str, mesos.Host],
                                                         cluster: dict[str, list[mesos.Host]]) -> None:
    leader, follower = zk_roles["leader"], zk_roles["follower"]
    assert connect_from(follower.container, leader.address, ZK_PEER) == "connected"
    for source in cluster["zookeeper"]:
        for target in cluster["zookeeper"]:
            if source.name != target.name:
                got = connect_from(source.container, target.address, ZK_ELECTION)
                assert got == "connected", f"{source.name} -> {target.name}:{ZK_ELECTION}: {got}"


def test_agent_is_dropped_on_quorum_ports(zk_roles: dict[str, mesos.Host],
                                          cluster: dict[str, list[mesos.Host]]) -> None:
    agent = cluster["mesos_agents"][0]
    leader = zk_roles["leader"]
    for target, port in [(leader, ZK_PEER), (leader, ZK_ELECTION), (zk_roles["follower"], ZK_ELECTION)]:
        got = connect_from(agent.container, target.address, port)
        assert got == "timeout", f"{agent.name} -> {target.name}:{port} (listening) must be dropped, got {got}"


def test_agent_is_dropped_on_another_agents_port(cluster: dict[str, list[mesos.Host]]) -> None:
    one, other = cluster["mesos_agents"][:2]
    got = connect_from(one.container, other.address, AGENT)
    assert got == "timeout", f"{one.name} -> {other.name}:{AGENT} must be dropped, got {got}"
    got = connect_from(one.container, other.address, SSH)
    assert got == "timeout", f"{one.name} -> {other.name}:{SSH} (not admin) must be dropped, got {got}"


def test_masters_reach_agents_and_each_other(cluster: dict[str, list[mesos.Host]]) -> None:
    masters = cluster["mesos_masters"]
    for agent in cluster["mesos_agents"]:
        got = connect_from(masters[0].container, agent.address, AGENT)
        assert got == "connected", f"{masters[0].name} -> {agent.name}:{AGENT}: {got}"
    # The replicated log and leader redirects: masters talk to each other on 5050.
    got = connect_from(masters[0].container, masters[1].address, MASTER)
    assert got == "connected", f"{masters[0].name} -> {masters[1].name}:{MASTER}: {got}"


def test_agents_reach_masters_and_zookeeper(cluster: dict[str, list[mesos.Host]]) -> None:
    for agent in cluster["mesos_agents"]:
        for master in cluster["mesos_masters"]:
            got = connect_from(agent.container, master.address, MASTER)
            assert got == "connected", f"{agent.name} -> {master.name}:{MASTER}: {got}"
        for member in cluster["zookeeper"]:
            got = connect_from(agent.container, member.address, ZK_CLIENT)
            assert got == "connected", f"{agent.name} -> {member.name}:{ZK_CLIENT}: {got}"


def test_controller_is_admin_but_not_a_peer(zk_roles: dict[str, mesos.Host],
                                            cluster: dict[str, list[mesos.Host]]) -> None:
    master, agent = cluster["mesos_masters"][0], cluster["mesos_agents"][0]
    for host, port in [(master, MASTER), (master, ZK_CLIENT), (agent, AGENT), (master, SSH)]:
        got = connect_from_controller(host.address, port)
        assert got == "connected", f"controller -> {host.name}:{port}: {got}"
    for host, port in [(zk_roles["leader"], ZK_PEER), (zk_roles["leader"], ZK_ELECTION),
                       (zk_roles["follower"], ZK_ELECTION)]:
        got = connect_from_controller(host.address, port)
        assert got == "timeout", f"controller -> {host.name}:{port} must be dropped, got {got}"


# The same probe for several targets: python3 -c OUTSIDER_PROBE TIMEOUT ADDRESS PORT [ADDRESS PORT ...]
OUTSIDER_PROBE = (
    "import socket, sys\n"
    "args = sys.argv[2:]\n"
    "for address, port in zip(args[0::2], args[1::2]):\n"
    "    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
    "    s.settimeout(float(sys.argv[1]))\n"
    "    try:\n"
    "        s.connect((address, int(port)))\n"
    "        print('connected')\n"
    "    except socket.timeout:\n"
    "        print('timeout')\n"
    "    except ConnectionRefusedError:\n"
    "        print('refused')\n"
    "    except OSError:\n"
    "        print('error')\n"
)


def connect_from_outsider(targets: list[tuple[str, int]], timeout: float = TIMEOUT) -> list[str]:
    """The probe from a host that is in no allow-list: a throwaway container (the scenario's
    image) on the scenario's network, so it gets an address of the cluster's own subnet."""
    image = subprocess.run(["docker", "inspect", "--format", "{{.Config.Image}}", group_hosts("mesos_masters")[0].container],
                           capture_output=True, text=True, check=True, timeout=30).stdout.strip()
    argv = ["docker", "run", "--rm", "--network", f"mesos-ha-{mesos.scenario_name()}", "--entrypoint", "python3",
            image, "-c", OUTSIDER_PROBE, str(timeout)]
    for address, port in targets:
        argv += [address, str(port)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60 + timeout * len(targets)).stdout
    return out.split()


def test_unlisted_host_is_dropped_everywhere(zk_roles: dict[str, mesos.Host],
                                             cluster: dict[str, list[mesos.Host]]) -> None:
    """hardening.md 7.35: a host of the cluster's own subnet that is in no group and no admin
    network gets nothing: ZooKeeper's client and quorum ports, the masters, the agents, SSH."""
    master, agent, member = cluster["mesos_masters"][0], cluster["mesos_agents"][0], zk_roles["follower"]
    targets = [(member.address, ZK_CLIENT), (member.address, ZK_PEER), (zk_roles["leader"].address, ZK_ELECTION),
               (master.address, MASTER), (agent.address, AGENT), (agent.address, SSH)]
    got = connect_from_outsider(targets)
    assert got == ["timeout"] * len(targets), dict(zip(map(str, targets), got))
    # The same ports answer the cluster itself: the drops above are the firewall's.
    assert connect_from(agent.container, member.address, ZK_CLIENT) == "connected"
    assert connect_from(agent.container, master.address, MASTER) == "connected"


# ------------------------------------------------------------------------------ idempotence, reload
def test_second_converge_changes_nothing_and_keeps_handles(all_hosts: list[mesos.Host]) -> None:
    before = {h.name: rule_handles(h.container) for h in all_hosts}
    run = mesos.run_playbook(BASELINE, args=["--tags", "firewall"])
    assert run.rc == 0, run.summary()
    changed = run.changed()
    assert changed and all(n == 0 for n in changed.values()), f"changed: {changed}\n{run.summary()}"
    after = {h.name: rule_handles(h.container) for h in all_hosts}
    assert after == before, "rule handles changed on a converge without changes (the table was reloaded)"


def test_foreign_table_survives_reload_and_restart(cluster: dict[str, list[mesos.Host]]) -> None:
    agent = cluster["mesos_agents"][0]
    c = agent.container
    th.run_in(c, "nft", "add", "table", "ip", "foreign_test")
    th.run_in(c, "nft", "add", "chain", "ip", "foreign_test", "probe",
              "{ type filter hook input priority 10 ; policy accept ; }")
    th.run_in(c, "nft", "add", "rule", "ip", "foreign_test", "probe", "tcp", "dport", "9", "counter")
    try:
        others = tables(c) - {("inet", TABLE)}
        # The role's own reload path: a changed ruleset file -> template -> handler (nft -f).
        th.run_in(c, "sh", "-c", "echo '# tampered by test_50' >> /etc/nftables.d/mesos-ha.nft")
        run = mesos.run_playbook(BASELINE, args=["--tags", "firewall", "--limit", agent.name])
        assert run.rc == 0, run.summary()
        assert run.changed().get(agent.name, 0) >= 2, f"expected template + reload: {run.summary()}"
        assert others <= tables(c), f"tables lost by the handler's reload: {others - tables(c)}"
        assert ("inet", TABLE) in tables(c)
        # The service's reload and restart (restart runs the drop-in's ExecStop).
        for action in ("reload", "restart"):
            th.run_in(c, "systemctl", action, "nftables.service")
            assert others <= tables(c), f"systemctl {action} lost {others - tables(c)}"
            assert ("inet", TABLE) in tables(c), f"systemctl {action} left no {TABLE} table"
        got = connect_from(cluster["mesos_masters"][0].container, agent.address, AGENT)
        assert got == "connected", f"after the restart the master cannot reach {agent.name}:{AGENT}: {got}"
    finally:
        th.run_in(c, "nft", "delete", "table", "ip", "foreign_test", check=False)


def test_missing_table_is_restored(cluster: dict[str, list[mesos.Host]]) -> None:
    agent = cluster["mesos_agents"][-1]
    th.run_in(agent.container, "nft", "delete", "table", "inet", TABLE)
    try:
        run = mesos.run_playbook(BASELINE, args=["--tags", "firewall", "--limit", agent.name])
        assert run.rc == 0, run.summary()
        assert ("inet", TABLE) in tables(agent.container), "the converge did not restore the table"
        assert run.changed().get(agent.name) == 1, run.summary()
    finally:
        if ("inet", TABLE) not in tables(agent.container):
            th.run_in(agent.container, "nft", "-f", "/etc/nftables.d/mesos-ha.nft", check=False)


def test_bad_admin_cidr_stops_in_preflight() -> None:
    run = mesos.run_playbook("playbooks/preflight.yml", extra_vars={"firewall_admin_cidrs": ["10.1.2.3/8"]})
    assert run.rc != 0, run.summary()
    assert any("firewall_admin_cidrs: '10.1.2.3/8'" in m and "10.0.0.0/8" in m for m in run.failure_messages()), \
        run.summary()
    run = mesos.run_playbook("playbooks/preflight.yml", extra_vars={"firewall_admin_cidrs": []})
    assert run.rc != 0, run.summary()
    assert any("firewall_admin_cidrs is empty" in m and "locked out" in m for m in run.failure_messages()), \
        run.summary()

