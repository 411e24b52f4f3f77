"""Filters for the Mesos roles: flag validation, quorum arithmetic and the ZooKeeper URL.

Kept as pure functions so the rules that protect a cluster are unit-tested
(tests/unit/mesos/test_mesos_filters.py) and give the same message in every role.
"""
from __future__ import annotations

import difflib
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


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return ";".join(f"{k}:{v}" for k, v in value.items())
    return str(value)


def mesos_env(flags: Mapping[str, Any]) -> dict[str, str]:
    """{'work_dir': '/x', 'hostname_lookup': False} -> {'MESOS_WORK_DIR': '/x', 'MESOS_HOSTNAME_LOOKUP': 'false'}.

    None drops a flag (so inventories can unset a role default); dicts become Mesos's
    'k:v;k:v' syntax (attributes, resources).
    """
    return {f"MESOS_{name.upper()}": _value(value) for name, value in sorted(flags.items()) if value is not None}


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {
            "mesos_flag_errors": mesos_flag_errors,
            "mesos_quorum": mesos_quorum,
            "mesos_master_count_error": mesos_master_count_error,
            "mesos_zk_url": mesos_zk_url,
            "mesos_env": mesos_env,
        }
