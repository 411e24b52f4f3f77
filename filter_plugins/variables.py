"""Find inventory variables that look like a role's own but are not: a typo such as
`zookeper_client_port` (missing "e") or `mesos_mastr_flags`, or a name with a role's exact
prefix that the role does not declare. Ansible silently ignores both, so the operator believes
a setting took effect that did not.

Unit-tested in tests/unit/test_variables_filter.py; used by playbooks/preflight.yml.
"""
from __future__ import annotations

import difflib
from typing import Any, Iterable, Mapping

DOCUMENTATION = """
name: variables
short_description: Misspelled or unknown role variables in an inventory
description:
  - mesos_ha_known_variables - the option names the roles' argument specs declare, by role prefix.
  - mesos_ha_variable_problems - one message per variable that looks like a role's but is not declared.
"""


def mesos_ha_known_variables(specs: Mapping[str, Any]) -> dict[str, list[str]]:
    """{role name: [option names]} from {role name: argument_specs.yml content}."""
    known: dict[str, list[str]] = {}
    for role, spec in specs.items():
        options = ((spec or {}).get("argument_specs") or {}).get("main", {}).get("options") or {}
        known[role] = sorted(options)
    return known


def _distance(a: str, b: str) -> int:
    """Levenshtein distance (small strings: role prefixes)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _near_prefix(name: str, prefix: str) -> bool:
    """The name begins with something one edit (two for long prefixes) away from `prefix`.
    Short prefixes (pki_) are matched exactly only: one edit away lies too much else."""
    if name.startswith(prefix) or len(prefix) < 6:
        return False
    allowed = 2 if len(prefix) >= 12 else 1
    return any(_distance(name[:length], prefix) <= allowed
               for length in (len(prefix) - 1, len(prefix), len(prefix) + 1) if length <= len(name))


def mesos_ha_variable_problems(names_by_host: Mapping[str, Iterable[str]], known: Mapping[str, list[str]]) -> list[str]:
    """Messages for names that look like a role's variables but that no role declares.

    A name with a role's exact prefix (`zookeeper_`, `mesos_master_`, ...) that the role does not
    declare, or a name whose beginning is a near miss of a role prefix, is reported once with the
    hosts that have it and the nearest declared name.
    """
    prefixes = {f"{role}_": role for role in known}
    every = sorted({option for options in known.values() for option in options})
    hosts_of: dict[str, list[str]] = {}
    for host, names in sorted(names_by_host.items()):
        for name in names:
            if not isinstance(name, str) or name.startswith("_") or name in every:
                continue
            exact = [role for prefix, role in prefixes.items() if name.startswith(prefix)]
            # mesos_common_x also starts with mesos_: the longest prefix is the role.
            near = [role for prefix, role in prefixes.items() if _near_prefix(name, prefix)]
            if exact or near:
                hosts_of.setdefault(name, []).append(host)
    problems = []
    for name, hosts in sorted(hosts_of.items()):
        exact = sorted((role for prefix, role in prefixes.items() if name.startswith(prefix)), key=len)
        pool = known[exact[-1]] if exact else every
        nearest = difflib.get_close_matches(name, pool, n=1, cutoff=0.5)
        where = ", ".join(hosts) if len(hosts) <= 3 else f"{', '.join(hosts[:3])} and {len(hosts) - 3} more"
        what = (f"role {exact[-1]} declares no variable '{name}'" if exact
                else f"'{name}' looks like a role variable with a misspelled prefix, but no role declares it")
        hint = f"did you mean '{nearest[0]}'?" if nearest else "see the roles' READMEs for the variables they take"
        problems.append(f"{what} ({hint}); set on {where}. Ansible ignores it, so it changes nothing.")
    return problems


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {"mesos_ha_known_variables": mesos_ha_known_variables,
                "mesos_ha_variable_problems": mesos_ha_variable_problems}
