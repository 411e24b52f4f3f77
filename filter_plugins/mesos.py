"""Filters for the Mesos roles: flag validation, quorum arithmetic and the ZooKeeper URL.

Kept as pure functions so the rules that protect a cluster are unit-tested
(tests/unit/mesos/test_mesos_filters.py) and give the same message in every role.
"""
from __future__ import annotations

import difflib
import json
import re
from typing import Any, Iterable, Mapping

DOCUMENTATION = """
name: mesos
short_description: Validation and derived values for the mesos_* roles
description:
  - mesos_flag_errors - messages for flag names unknown to the target Mesos version.
  - mesos_quorum - the replicated-log quorum for a number of masters.
  - mesos_master_count_error - why a number of masters is unsafe, or an empty string.
  - mesos_zk_url - the zk:// URL of a ZooKeeper ensemble and chroot path.
  - mesos_env - flags as MESOS_* environment variables with Mesos's value syntax.
  - mesos_json_flag_files - the JSON-valued flags as files to write (mesos_env names them with file://).
  - mesos_help_flags - the flag names (with aliases) a binary's --help output lists.
  - mesos_cgroups_layout - the host's cgroup layout (v1, hybrid, v2 or none) from its mount table.
  - mesos_agent_cgroups - the agent's cgroup flags for a layout, and why a setting cannot run there.
  - mesos_credential - a framework entry's credential (principal and secret only).
  - mesos_framework_acl - a framework entry's register_frameworks (roles) or run_tasks (users) ACL.
  - mesos_duration_ms - a Mesos duration (C(10secs), C(500ms)) in milliseconds.
  - mesos_zk_session_errors - Mesos hosts whose ZooKeeper session a ZooKeeper leader change would outlast.
"""


def mesos_flag_errors(flags: Mapping[str, Any], known: Iterable[str], variable: str,
                      version: str = "1.11") -> list[str]:
    """One message per flag name the target version does not know, with the nearest match."""
    known = sorted(set(known))
    errors = []
    for name in sorted(flags):
        if name in known:
            continue
        near = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"did you mean '{near[0]}'?" if near else "check the Mesos documentation for the flag's name"
        errors.append(
            f"{variable}: '{name}' is not a Mesos {version} flag ({hint}). Mesos silently ignores unknown "
            f"MESOS_* variables, so this setting would have no effect. Fix the name, or add it to "
            f"mesos_common_extra_known_flags if your build really has it.")
    return errors


def mesos_quorum(masters: int) -> int:
    """Replicated-log quorum: a strict majority, floor(n/2)+1."""
    return int(masters) // 2 + 1


def mesos_master_count_error(masters: int, allow_non_ha: bool = False) -> str:
    """Explain why a master count is unsafe for an HA registry ('' when it is fine)."""
    masters = int(masters)
    if masters == 0:
        return "the mesos_masters group is empty; list 3 (or 5) masters in the inventory."
    if masters % 2 == 0:
        return (f"the mesos_masters group has {masters} members; the replicated log needs an odd number "
                f"(3 or 5): {masters} masters tolerate no more failures than {masters - 1} and split votes. "
                f"Add or remove one master.")
    if masters == 1 and not allow_non_ha:
        return ("the mesos_masters group has 1 member, which is not highly available. Use 3 masters, or set "
                "mesos_master_allow_non_ha: true for a test cluster.")
    return ""


def mesos_zk_url(hosts: Iterable[str], port: int, path: str, user: str = "", password: str = "") -> str:
    """zk://[user:pass@]h1:port,h2:port/path; the path must be a chroot below '/'."""
    hosts = list(hosts)
    if not hosts:
        raise ValueError("no ZooKeeper hosts: the zookeeper group is empty and mesos_common_zk_hosts is not set")
    if not path.startswith("/") or path.rstrip("/") == "":
        raise ValueError(f"mesos_common_zk_path '{path}' must be a chroot path below '/', e.g. /mesos")
    auth = f"{user}:{password}@" if user else ""
    return "zk://" + auth + ",".join(f"{h}:{port}" for h in hosts) + path.rstrip("/")


# Flags whose value Mesos parses as JSON (a JSON string or a file holding it), never as the
# 'k:v;k:v' text the other map-valued flags (resources, attributes) use.
JSON_FLAGS = frozenset({
    "acls", "agent_features", "allowed_devices", "bounding_capabilities", "credentials",
    "default_container_dns", "default_container_info", "disk_profile_adaptor", "docker_config",
    "domain", "effective_capabilities", "executor_environment_variables", "firewall_rules",
    "image_gc_config", "modules", "rate_limits", "weights",
})


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return ";".join(f"{k}:{v}" for k, v in value.items())
    return str(value)


def _json_valued(name: str, value: Any) -> bool:
    return name in JSON_FLAGS and isinstance(value, (Mapping, list))


def mesos_json_flag_files(flags: Mapping[str, Any], directory: str) -> list[dict[str, str]]:
    """[{flag, path, content}] for every JSON-valued flag given as a structure: each is written to
    DIRECTORY/<flag>.json and mesos_env() passes file://<path>, so no JSON lands in an env file
    (where quotes and newlines would need escaping) and /flags shows a path, not the content."""
    return [{"flag": name, "path": f"{directory}/{name}.json", "content": json.dumps(value, indent=2, sort_keys=True) + "\n"}
            for name, value in sorted(flags.items()) if _json_valued(name, value)]


def mesos_env(flags: Mapping[str, Any], json_dir: str | None = None) -> dict[str, str]:
    """{'work_dir': '/x', 'hostname_lookup': False} -> {'MESOS_WORK_DIR': '/x', 'MESOS_HOSTNAME_LOOKUP': 'false'}.

    None drops a flag (so inventories can unset a role default); dicts become Mesos's
    'k:v;k:v' syntax (attributes, resources); a JSON-valued flag given as a structure becomes
    file://<json_dir>/<flag>.json (see mesos_json_flag_files).
    """
    env = {}
    for name, value in sorted(flags.items()):
        if value is None:
            continue
        if _json_valued(name, value):
            if json_dir is None:
                raise ValueError(f"flag '{name}' holds JSON: mesos_env needs json_dir to name its file")
            env[f"MESOS_{name.upper()}"] = f"file://{json_dir}/{name}.json"
        else:
            env[f"MESOS_{name.upper()}"] = _value(value)
    return env


_HELP_LINE = re.compile(r"^ {2}--(?:\[no-\])?([a-z0-9_]+)")


def mesos_help_flags(help_text: str) -> list[str]:
    """Flag names, aliases included, from `mesos-master --help` / `mesos-agent --help`.

    Each flag starts a line with two spaces: `  --name=VALUE`, `  --[no-]name`, or several
    aliases separated by ', '. Only those lines count; the wrapped description never starts so.
    """
    names: set[str] = set()
    for line in help_text.splitlines():
        if not _HELP_LINE.match(line):
            continue
        head = line.strip().split("  ")[0]
        for alias in head.split(", "):
            match = re.match(r"--(?:\[no-\])?([a-z0-9_]+)", alias.strip())
            if match:
                names.add(match.group(1))
    return sorted(names)


# --------------------------------------------------------------------------------------- cgroups
CGROUP_ROOT = "/sys/fs/cgroup"
MOUNT_FLAGS = frozenset({"rw", "ro", "relatime", "noatime", "nosuid", "nodev", "noexec", "xattr", "clone_children",
                         "cpuset_v2_mode", "noprefix"})


def mesos_cgroups_layout(mounts: str, pid1_cgroup: str = "") -> dict[str, Any]:
    """The host's cgroup layout from /proc/self/mounts (and /proc/1/cgroup).

    layout: 'v2' (cgroup2 at /sys/fs/cgroup: the fork's cgroups v2 support), 'hybrid' (v1
    controllers plus cgroup2 elsewhere, e.g. /sys/fs/cgroup/unified: the fork exits at start,
    it accepts cgroup2 only at /sys/fs/cgroup), 'v1' (legacy: v1 hierarchies only) or 'none'.
    v1_controllers: the controllers mounted as v1 hierarchies. cgroup2_mounts: where cgroup2 is.
    systemd_owns_root: PID 1's name=systemd cgroup is the root, i.e. systemd manages the whole
    hierarchy (false in a container sharing the host's cgroup namespace), which the agent's
    --systemd_enable_support assumes.
    """
    v1: set[str] = set()
    cgroup2: list[str] = []
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        target, fstype, options = fields[1], fields[2], fields[3].split(",")
        if fstype == "cgroup2":
            if target not in cgroup2:
                cgroup2.append(target)
        elif fstype == "cgroup":
            # The controllers are among the mount options; named hierarchies (name=systemd) are none.
            v1.update(o for o in options if "=" not in o and o not in MOUNT_FLAGS)
    if CGROUP_ROOT in cgroup2:
        layout = "v2"
    elif v1 and cgroup2:
        layout = "hybrid"
    elif v1:
        layout = "v1"
    else:
        layout = "none"
    systemd_root = False
    for line in pid1_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3 and parts[1] == "name=systemd":
            systemd_root = parts[2].strip() in ("/", "/init.scope")
    return {"layout": layout, "v1_controllers": sorted(v1),
            "cgroup2_mounts": cgroup2, "systemd_owns_root": systemd_root}


# Isolators whose mounts must survive the agent: on a hybrid host the agent runs in a mount
# namespace of its own, so what it mounts is gone for the next agent after a restart.
MOUNT_ISOLATORS = ("filesystem/linux", "filesystem/shared", "volume/", "docker/runtime", "appc/runtime",
                   "namespaces/pid", "network/cni", "gpu/")
DEFAULT_ISOLATION = "filesystem/posix,cgroups/cpu,cgroups/mem"


def mesos_agent_cgroups(layout: Mapping[str, Any], isolation: str = "", systemd_support: Any = "auto",
                        subsystems: str = "", v2_controllers: str = "") -> dict[str, Any]:
    """The agent's cgroup-related flags for the host's layout, and the problems that stop it.

    Returns {flags: {...}, wrapper: bool, problems: [...]}. `wrapper` means the agent must start
    in a mount namespace without the cgroup2 mount (hybrid hosts). Each problem names the
    variable, the value and the fix.
    """
    kind = layout.get("layout", "none")
    isolation = isolation or DEFAULT_ISOLATION
    problems: list[str] = []
    flags: dict[str, Any] = {"launcher": "linux", "isolation": isolation}
    if str(systemd_support).lower() == "auto":
        systemd = kind == "v1" and bool(layout.get("systemd_owns_root"))
    elif str(systemd_support).lower() in ("true", "yes", "1", "on"):
        systemd = True
    elif str(systemd_support).lower() in ("false", "no", "0", "off"):
        systemd = False
    else:
        problems.append(f"mesos_agent_systemd_enable_support is '{systemd_support}'; use auto, true or false.")
        systemd = False
    flags["systemd_enable_support"] = systemd
    if kind == "none":
        problems.append("no cgroup hierarchy is mounted on this host; the Mesos agent's Linux launcher needs cgroups "
                        "(v1, or v2 at /sys/fs/cgroup). Mount them (systemd does at boot) and run again.")
    if systemd and kind != "v1":
        problems.append(f"mesos_agent_systemd_enable_support is true on a {kind} cgroup host: the agent checks the v1 "
                        "hierarchy /sys/fs/cgroup/systemd and exits where it is missing or not systemd's; set it to auto.")
    if systemd and kind == "v1" and not layout.get("systemd_owns_root"):
        problems.append("mesos_agent_systemd_enable_support is true but systemd does not manage the root of the cgroup "
                        "hierarchy (a container sharing the host's cgroups?): the agent would exit looking for "
                        "/sys/fs/cgroup/systemd/mesos_executors.slice; set it to auto.")
    if kind == "v2":
        wanted = [s for s in (subsystems or "cpu,memory").split(",") if s]
        available = v2_controllers.split()
        missing = [s for s in wanted if available and s not in available]
        if missing:
            problems.append(f"mesos_agent_cgroups_v2_subsystems asks for {','.join(missing)}, which this host's cgroup2 "
                            f"root does not offer (cgroup.controllers: {' '.join(available) or 'none'}). Enable the "
                            "controllers or list only available ones.")
        flags["agent_subsystems"] = ",".join(wanted)
    elif subsystems:
        problems.append(f"mesos_agent_cgroups_v2_subsystems is '{subsystems}' on a {kind} cgroup host; it only applies "
                        "to cgroup v2 hosts. Leave it empty.")
    if kind == "hybrid":
        refused = [i for i in isolation.split(",") if i and any(i == m or (m.endswith("/") and i.startswith(m))
                                                                 for m in MOUNT_ISOLATORS)]
        if refused:
            problems.append(f"mesos_agent_isolation has {','.join(refused)}, which need the agent's mounts to outlive it; "
                            "on this hybrid cgroup host (v1 controllers plus cgroup2 at "
                            f"{', '.join(layout.get('cgroup2_mounts', []))}) the agent runs in a mount namespace of "
                            "its own, because the fork refuses cgroup2 anywhere but /sys/fs/cgroup. Use "
                            f"'{DEFAULT_ISOLATION}', or boot the host with one cgroup version "
                            "(systemd.unified_cgroup_hierarchy=1 for v2).")
    return {"flags": flags, "wrapper": kind == "hybrid", "problems": problems, "layout": kind}


def mesos_credential(entry: Mapping[str, Any]) -> dict[str, str]:
    """{'principal', 'secret', 'users', 'roles'} -> {'principal', 'secret'} (what --credentials reads)."""
    return {"principal": entry["principal"], "secret": entry["secret"]}


def mesos_framework_acl(entry: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The ACL of one framework entry: kind 'roles' for register_frameworks, 'users' for run_tasks.
    The entry's list becomes the ACL's values; no list means any (root is banned by a rule before)."""
    if kind not in ("roles", "users"):
        raise ValueError(f"mesos_framework_acl: kind must be 'roles' or 'users', got {kind!r}")
    values = entry.get(kind)
    return {"principals": {"values": [entry["principal"]]},
            kind: {"values": list(values)} if values else {"type": "ANY"}}


_DURATION_UNITS_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "secs": 1e3, "mins": 60e3, "hrs": 3600e3,
                      "days": 86400e3, "weeks": 604800e3}


def mesos_duration_ms(text: Any) -> float:
    """'10secs' -> 10000.0, as Mesos parses durations (a number and one of its units)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|secs|mins|hrs|days|weeks)\s*", str(text))
    if not match:
        raise ValueError(f"'{text}' is not a Mesos duration (a number and ns, us, ms, secs, mins, hrs, days or weeks)")
    return float(match.group(1)) * _DURATION_UNITS_MS[match.group(2)]


def mesos_zk_session_errors(sessions: Mapping[str, Any], zookeeper: Mapping[str, Any]) -> list[str]:
    """Why a ZooKeeper leader change could expire the Mesos hosts' sessions, per host.

    sessions: host -> its mesos_common_zk_session_timeout (a Mesos duration). zookeeper: the
    ensemble's timing (tick_ms, init_limit, sync_limit, margin_ms), as the zookeeper role read it.
    A leader change takes up to (syncLimit + initLimit) x tickTime + margin; a session timeout
    not above that expires every master's session at once (a failover cascade), and ZooKeeper
    clamps session timeouts to 2-20 ticks.
    """
    tick = int(zookeeper["tick_ms"])
    bound = (int(zookeeper["sync_limit"]) + int(zookeeper["init_limit"])) * tick + int(zookeeper["margin_ms"])
    formula = (f"(zookeeper_sync_limit {zookeeper['sync_limit']} + zookeeper_init_limit {zookeeper['init_limit']}) x "
               f"zookeeper_tick_time_ms {tick} + zookeeper_election_margin_ms {zookeeper['margin_ms']} = {bound} ms")
    errors = []
    for host, value in sorted(sessions.items()):
        try:
            session = mesos_duration_ms(value)
        except ValueError as exc:
            errors.append(f"{host}: mesos_common_zk_session_timeout: {exc}.")
            continue
        if session <= bound:
            errors.append(f"{host}: mesos_common_zk_session_timeout is '{value}' ({session:g} ms), not above the time a "
                          f"ZooKeeper leader change can take, {formula}: losing the ZooKeeper leader would expire "
                          f"every Mesos master's session at once and fail Mesos over too. Raise "
                          f"mesos_common_zk_session_timeout above {bound} ms, or lower the ZooKeeper limits or tickTime.")
        elif not 2 * tick <= session <= 20 * tick:
            errors.append(f"{host}: mesos_common_zk_session_timeout is '{value}' ({session:g} ms), outside the 2-20 ticks "
                          f"({2 * tick}-{20 * tick} ms) ZooKeeper grants with zookeeper_tick_time_ms {tick}: the server "
                          f"would clamp it. Keep it within that range.")
    return errors


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {
            "mesos_flag_errors": mesos_flag_errors,
            "mesos_quorum": mesos_quorum,
            "mesos_master_count_error": mesos_master_count_error,
            "mesos_zk_url": mesos_zk_url,
            "mesos_env": mesos_env,
            "mesos_json_flag_files": mesos_json_flag_files,
            "mesos_help_flags": mesos_help_flags,
            "mesos_cgroups_layout": mesos_cgroups_layout,
            "mesos_agent_cgroups": mesos_agent_cgroups,
            "mesos_credential": mesos_credential,
            "mesos_framework_acl": mesos_framework_acl,
            "mesos_duration_ms": mesos_duration_ms,
            "mesos_zk_session_errors": mesos_zk_session_errors,
        }
