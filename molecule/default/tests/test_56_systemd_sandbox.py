"""systemd sandboxing of the ZooKeeper, Mesos master and Mesos agent units (hardening.md §7
items 27-29): the drop-in's properties as systemd applies them, the offline exposure score
against its threshold, and the sandbox's runtime effect on the live daemons.

Runtime effects are observed from the host side of each container: the supervised daemon's
/proc/<pid>/status (capability bounding set, no_new_privs, seccomp mode), its mount table
/proc/<pid>/mountinfo (read-only /, writable data directories, inaccessible /home and /root,
private /tmp and /dev, /proc with hidepid=invisible,subset=pid) and, for the agent, that it
stays in the host's mount namespace. All of these are applied inside these containers
(SYS_ADMIN, cgroupns host); nothing is skipped.

Read-only: nothing on the hosts is changed. The exposures are printed (-s) and written to
reports/sandbox/exposure.json.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from mesos_ha_testlib import hosts as th
from mesos_ha_testlib import mesos

EXPOSURE: dict[str, dict[str, float]] = {}
OVERALL = re.compile(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)")

# Capability bit numbers (linux/capability.h).
CAP = {"CAP_CHOWN": 0, "CAP_SETUID": 7, "CAP_NET_ADMIN": 12, "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17,
       "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_TIME": 25, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35}


@dataclass(frozen=True)
class Sandboxed:
    """A unit, the group it runs on, its threshold (0-100) and what `systemctl show` must say."""

    unit: str
    group: str
    threshold: int
    properties: dict[str, str]
    writable: tuple[str, ...] = ()


UNITS = [
    Sandboxed("zookeeper.service", "zookeeper", 30, {
        "User": "zookeeper", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
        "PrivateTmp": "yes", "PrivateDevices": "yes", "CapabilityBoundingSet": "", "AmbientCapabilities": "",
        "MemoryDenyWriteExecute": "no", "ProtectProc": "invisible", "ProcSubset": "pid",
        "RestrictNamespaces": "yes", "RestrictSUIDSGID": "yes", "LockPersonality": "yes",
        "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes",
        "ProtectControlGroups": "yes", "ProtectClock": "yes", "ProtectHostname": "yes", "UMask": "0027",
        "SystemCallArchitectures": "native", "RemoveIPC": "yes",
    }, ("/var/lib/zookeeper", "/var/log/zookeeper")),
    Sandboxed("mesos-master.service", "mesos_masters", 30, {
        "User": "mesos", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
        "PrivateTmp": "yes", "PrivateDevices": "yes", "CapabilityBoundingSet": "", "AmbientCapabilities": "",
        "MemoryDenyWriteExecute": "yes", "ProtectProc": "invisible", "ProcSubset": "pid",
        "RestrictNamespaces": "yes", "RestrictSUIDSGID": "yes", "LockPersonality": "yes",
        "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes",
        "ProtectControlGroups": "yes", "ProtectClock": "yes", "ProtectHostname": "yes", "UMask": "0027",
        "SystemCallArchitectures": "native", "RemoveIPC": "yes",
    }, ("/var/lib/mesos/master", "/var/log/mesos/master")),
    # The agent keeps root, setuid, Delegate=yes and the host's mount namespace (README
    # "Sandboxing" of roles/mesos_agent says why).
    Sandboxed("mesos-agent.service", "mesos_agents", 85, {
        "User": "", "NoNewPrivileges": "no", "Delegate": "yes", "ProtectSystem": "no", "ProtectHome": "no",
        "PrivateTmp": "no", "PrivateDevices": "no", "ProtectControlGroups": "no", "RestrictNamespaces": "no",
        "MemoryDenyWriteExecute": "no", "LockPersonality": "yes", "RestrictRealtime": "yes",
        "SystemCallArchitectures": "native", "AmbientCapabilities": "",
    }),
]
IDS = [u.unit for u in UNITS]


def group_hosts(group: str) -> list[mesos.Host]:
    """The hosts of a group, also when the inventory defines it through child groups declared
    elsewhere (the dev clusters' `zookeeper: {children: {control:}}`); never empty."""
    data = yaml.safe_load(mesos.inventory_file().read_text(encoding="utf-8")) or {}
    nodes: dict[str, dict] = {}

    def index(name: str, node: dict | None) -> None:
        node = node or {}
        if node.get("hosts") or node.get("children"):
            nodes[name] = node
        for child, child_node in (node.get("children") or {}).items():
            index(child, child_node)

    def members(name: str) -> set[str]:
        node = nodes.get(name, {})
        found = set(node.get("hosts") or {})
        for child in node.get("children") or {}:
            found |= members(child)
        return found

    for name, node in data.items():
        index(name, node)
    names = sorted(members(group))
    assert names, f"no hosts in group {group}"
    network = f"mesos-ha-{mesos.scenario_name()}"
    return [mesos.Host(n, th.container_for(n), th.container_address(th.container_for(n), network)) for n in names]


def show(container: str, unit: str, *names: str) -> dict[str, str]:
    out = th.run_in(container, "systemctl", "show", unit, *(f"--property={n}" for n in names)).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def daemon_pid(container: str, unit: str) -> int:
    """The sandboxed daemon: ha-supervisor's child when the watchdog is on, else the main process."""
    main = mesos.service_main_pid(container, unit)
    assert main > 0, f"{container}: {unit} has no main process"
    child = th.run_in(container, "pgrep", "-P", str(main), check=False).stdout.split()
    return int(child[0]) if child else main


def proc_status(container: str, pid: int) -> dict[str, str]:
    text = th.run_in(container, "cat", f"/proc/{pid}/status").stdout
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in text.splitlines())}


def exposure(container: str, unit_or_path: str, threshold: int = 100) -> tuple[int, float, str]:
    """Run `systemd-analyze security --offline=true --threshold=N`; exit code, exposure, output."""
    result = th.run_in(container, "systemd-analyze", "security", "--offline=true", f"--threshold={threshold}",
                       "--no-pager", unit_or_path, check=False)
    found = OVERALL.search(result.stdout)
    assert found, f"{container}: no overall exposure for {unit_or_path}: {result.stdout[-500:]} {result.stderr}"
    return result.returncode, float(found.group(1)), result.stdout


@pytest.fixture(scope="module", autouse=True)
def report_exposure():
    """Keep the measured exposures: printed with -s, and in reports/sandbox/exposure.json."""
    yield
    report = Path(__file__).resolve().parents[3] / "reports" / "sandbox"
    report.mkdir(parents=True, exist_ok=True)
    (report / "exposure.json").write_text(json.dumps(EXPOSURE, indent=2, sort_keys=True) + "\n")
    print("\nsystemd-analyze security exposure (0-10), without -> with the sandbox:",
          json.dumps(EXPOSURE, sort_keys=True))


@pytest.mark.parametrize("spec", UNITS, ids=IDS)
def test_units_run_with_the_sandbox_drop_in(spec: Sandboxed) -> None:
    for host in group_hosts(spec.group):
        props = show(host.container, spec.unit, "ActiveState", "SubState", "DropInPaths", "Type", "WatchdogUSec")
        dropin = f"/etc/systemd/system/{spec.unit}.d/10-sandbox.conf"
        assert dropin in props["DropInPaths"].split(), f"{host.name}: {spec.unit} drop-ins {props['DropInPaths']!r}"
        assert (props["ActiveState"], props["SubState"]) == ("active", "running"), f"{host.name}: {props}"
        assert props["Type"] == "notify" and props["WatchdogUSec"] not in ("0", "infinity"), (
            f"{host.name}: the sandbox must keep the watchdog: {props}")


@pytest.mark.parametrize("spec", UNITS, ids=IDS)
def test_systemctl_shows_the_sandbox_properties(spec: Sandboxed) -> None:
    names = sorted(spec.properties) + ["RestrictAddressFamilies", "SystemCallFilter", "ReadWritePaths",
                                       "CapabilityBoundingSet"]
    for host in group_hosts(spec.group):
        props = show(host.container, spec.unit, *names)
        wrong = {k: (props.get(k), v) for k, v in spec.properties.items() if props.get(k) != v}
        assert not wrong, f"{host.name}: {spec.unit} (actual, expected): {wrong}"
        families = set(props["RestrictAddressFamilies"].split())
        assert {"AF_INET", "AF_INET6", "AF_UNIX"} <= families, f"{host.name}: {props['RestrictAddressFamilies']}"
        assert "AF_BLUETOOTH" not in families and not props["RestrictAddressFamilies"].startswith("~"), (
            f"{host.name}: an allow-list is expected, got {props['RestrictAddressFamilies']!r}")
        calls = props["SystemCallFilter"].split()
        host_level = {"init_module", "finit_module", "kexec_load", "reboot", "swapon"}
        if spec.unit == "mesos-agent.service":
            # A deny-list (tasks run arbitrary programs): the host-level calls are in it.
            assert calls and calls[0].startswith("~"), f"{host.name}: {spec.unit} SystemCallFilter {calls[:3]}"
            assert host_level <= {c.lstrip("~") for c in calls}, f"{host.name}: {spec.unit} allows {host_level}"
        else:
            # An allow-list (@system-service minus @privileged and @resources).
            allowed = set(calls)
            assert {"read", "write"} <= allowed, f"{host.name}: {spec.unit} SystemCallFilter {calls[:3]}"
            assert not allowed & (host_level | {"mount", "ptrace", "chroot", "setuid"}), (
                f"{host.name}: {spec.unit} allows {sorted(allowed & (host_level | {'mount', 'ptrace', 'chroot', 'setuid'}))}")
        assert set(spec.writable) <= set(props["ReadWritePaths"].split()), (
            f"{host.name}: ReadWritePaths={props['ReadWritePaths']!r}")
        if spec.unit == "mesos-agent.service":
            caps = set(props["CapabilityBoundingSet"].split())
            assert {"cap_sys_admin", "cap_setuid", "cap_net_admin", "cap_chown"} <= caps, caps
            assert not caps & {"cap_sys_module", "cap_sys_time", "cap_sys_boot", "cap_syslog"}, caps
            assert "AF_NETLINK" in families, families


@pytest.mark.parametrize("spec", UNITS, ids=IDS)
def test_offline_exposure_is_within_the_threshold(spec: Sandboxed) -> None:
    for host in group_hosts(spec.group):
        code, value, output = exposure(host.container, spec.unit, spec.threshold)
        # The same unit file without the drop-in (a copy under another name, so that no
        # <unit>.d/ applies): what the sandbox is worth.
        bare = f"/tmp/nosandbox-{spec.unit}"
        th.run_in(host.container, "cp", f"/etc/systemd/system/{spec.unit}", bare)
        try:
            _, before, _ = exposure(host.container, bare)
        finally:
            th.run_in(host.container, "rm", "-f", bare)
        EXPOSURE[f"{host.name}/{spec.unit}"] = {"without": before, "with": value}
        assert code == 0, f"{host.name}: {spec.unit} exposure {value} above {spec.threshold / 10}:\n{output}"
        assert value * 10 <= spec.threshold, f"{host.name}: {spec.unit} exposure {value}"
        assert value < before, f"{host.name}: the drop-in did not lower {spec.unit}'s exposure ({before} -> {value})"


def mounts(container: str, pid: int) -> dict[str, tuple[str, str, str, str]]:
    """The process's mount table (/proc/<pid>/mountinfo): mount point -> (root, options, fstype,
    super options) of the topmost mount there."""
    table: dict[str, tuple[str, str, str, str]] = {}
    for line in th.run_in(container, "cat", f"/proc/{pid}/mountinfo").stdout.splitlines():
        fields, _, tail = line.partition(" - ")
        parts, extra = fields.split(), tail.split()
        table[parts[4]] = (parts[3], parts[5], extra[0], extra[2] if len(extra) > 2 else "")
    return table


@pytest.mark.parametrize("spec", UNITS[:2], ids=IDS[:2])
def test_daemon_runs_confined(spec: Sandboxed) -> None:
    """ZooKeeper and the master: no capabilities, no_new_privs, a seccomp filter, and - in the
    kernel's view of its mount namespace - a read-only OS, writable data directories only, no
    /home or /root, a private /tmp and /dev, and /proc without other users' processes.

    (nsenter into the namespace is not possible here: docker exec lacks CAP_SYS_PTRACE, so
    /proc/<pid>/ns of another user's process cannot be opened; mountinfo is readable.)"""
    for host in group_hosts(spec.group):
        pid = daemon_pid(host.container, spec.unit)
        status = proc_status(host.container, pid)
        assert int(status["CapBnd"], 16) == 0 and int(status["CapEff"], 16) == 0, f"{host.name}: {status}"
        assert status["NoNewPrivs"] == "1" and status["Seccomp"] == "2", f"{host.name}: {status}"
        table = mounts(host.container, pid)
        assert table["/"][1].split(",")[0] == "ro", f"{host.name}: / is {table['/']} for {spec.unit}"
        for path in spec.writable:
            assert path in table and table[path][1].split(",")[0] == "rw", (
                f"{host.name}: {path} is not a writable mount for {spec.unit}: {table.get(path)}")
        for path in ("/home", "/root"):
            assert table.get(path, ("",))[0].endswith("/inaccessible/dir"), f"{host.name}: {path}: {table.get(path)}"
        assert "systemd-private-" in table["/tmp"][0], f"{host.name}: /tmp is not private: {table.get('/tmp')}"
        assert table["/dev"][2] == "tmpfs", f"{host.name}: /dev is not private: {table.get('/dev')}"
        assert {"hidepid=invisible", "subset=pid"} <= set(table["/proc"][3].split(",")), (
            f"{host.name}: /proc is {table['/proc']}")
        host_root = mounts(host.container, 1)["/"]
        assert host_root[1].split(",")[0] == "rw", f"{host.name}: the host's / is {host_root}"


def test_agent_sees_the_host_mounts_and_loses_host_capabilities() -> None:
    """The agent: root with setuid, with the host's mounts (no systemd mount sandboxing: what the
    host mounts reaches it), but without module loading, the clock, reboot or the kernel log; a
    deny-list seccomp filter. On this hybrid cgroup host it runs in a mount namespace of its own
    (cgroup-v1-view) that is a slave of the host's: without the cgroup2 mount, which the host
    keeps."""
    for host in group_hosts("mesos_agents"):
        pid = daemon_pid(host.container, "mesos-agent.service")
        status = proc_status(host.container, pid)
        bounding = int(status["CapBnd"], 16)
        for name in ("CAP_SYS_MODULE", "CAP_SYS_TIME", "CAP_SYS_BOOT", "CAP_SYSLOG", "CAP_WAKE_ALARM"):
            assert not bounding & (1 << CAP[name]), f"{host.name}: the agent keeps {name} ({status['CapBnd']})"
        for name in ("CAP_SYS_ADMIN", "CAP_SETUID", "CAP_NET_ADMIN", "CAP_CHOWN"):
            assert bounding & (1 << CAP[name]), f"{host.name}: the agent lost {name} ({status['CapBnd']})"
        assert status["NoNewPrivs"] == "0" and status["Seccomp"] == "2", f"{host.name}: {status}"
        host_mounts = th.run_in(host.container, "cat", "/proc/1/mounts").stdout
        agent_mounts = th.run_in(host.container, "cat", f"/proc/{pid}/mounts").stdout
        assert " cgroup2 " in host_mounts, f"{host.name}: the host lost its cgroup2 mount"
        assert " cgroup2 " not in agent_mounts, f"{host.name}: the agent still sees cgroup2"
        assert " cgroup " in agent_mounts, f"{host.name}: the agent sees no cgroup v1 hierarchy"
        # Every other mount of the host is in the agent's view (no ProtectSystem & co.). Mounts the
        # host makes later reach it where the host's mounts are shared (systemd's default on a
        # host; a container's are not), since the namespace is a slave of the host's.
        def targets(text: str) -> set[str]:
            return {f.split()[1] for f in text.splitlines() if f.split()[2] != "cgroup2"}
        missing = targets(host_mounts) - targets(agent_mounts)
        assert not missing, f"{host.name}: the agent does not see the host's mounts {sorted(missing)}"


def test_cluster_is_healthy_with_the_sandbox() -> None:
    """One elected leader and both agents registered with it, all units sandboxed."""
    masters, agents = group_hosts("mesos_masters"), group_hosts("mesos_agents")
    leader = mesos.wait_for_leader(masters, timeout=60)
    elected = {m.name: mesos.metrics_snapshot(m.address).get("master/elected") for m in masters}
    assert sum(elected.values()) == 1, f"master/elected per master: {elected}"
    # Registered: listed as active by the elected master (the agent's own slave/registered only
    # says it has detected a leader).
    active = {s["hostname"] for s in leader.state.get("slaves", []) if s.get("active")}
    assert active == {a.name for a in agents}, f"active agents on {leader.host.name}: {sorted(active)}"
