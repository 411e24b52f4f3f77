"""Address and port checks for the firewall role (roles/firewall).

ansible.utils' ipaddr filters need the netaddr library, which the controller does not have, so
the few operations the role needs are written here with Python's ipaddress module. Every check
returns messages that name the variable, the bad value and the fix; an empty list means valid.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Iterable

DOCUMENTATION = r"""
name: firewall_cidr_problems
short_description: List the entries of a CIDR list that do not parse
description:
  - Returns a list of messages naming the variable and each bad entry; empty when every entry is
    an IPv4 or IPv6 address or network (host bits must be zero, e.g. 10.0.0.0/8 not 10.0.0.1/8).
  - Companion filters in this file - firewall_split_cidrs (IPv4 and IPv6 lists, normalised),
    firewall_port_range_problems, firewall_addresses, firewall_hosts_without_address and
    firewall_cidrs_contain.
options:
  _input:
    description: The list of CIDRs.
    type: list
    required: true
  name:
    description: The variable's name, used in the messages.
    type: str
    required: true
"""

_RANGE = re.compile(r"^\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?$")


def _entries(values: Any, name: str) -> tuple[list[Any], list[str]]:
    """The list items, or a problem when the value is not a list."""
    if values is None:
        return [], []
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        return [], [f"{name} must be a list (e.g. ['192.0.2.0/24']), got {type(values).__name__} {values!r}"]
    return list(values), []


def cidr_problems(values: Any, name: str) -> list[str]:
    """Messages for each entry of ``values`` that is not an IP address or network."""
    items, problems = _entries(values, name)
    for item in items:
        text = str(item).strip()
        try:
            ipaddress.ip_network(text, strict=True)
        except ValueError as exc:
            hint = ""
            try:
                fixed = ipaddress.ip_network(text, strict=False)
                hint = f"; did you mean {fixed}?"
            except ValueError:
                hint = "; use an address or network such as 192.0.2.10/32 or 10.0.0.0/8"
            problems.append(f"{name}: '{text}' is not a valid IPv4/IPv6 address or network ({exc}){hint}")
    return problems


def split_cidrs(values: Iterable[Any] | None) -> dict[str, list[str]]:
    """Normalise and split CIDRs by family: {'ipv4': [...], 'ipv6': [...]}, sorted and unique.

    Single addresses become /32 or /128 networks. Entries that do not parse are left out (the
    role's validate.yml refuses them before this is used).
    """
    found: dict[int, set[Any]] = {4: set(), 6: set()}
    for item in values or []:
        try:
            network = ipaddress.ip_network(str(item).strip(), strict=False)
        except ValueError:
            continue
        found[network.version].add(network)
    return {"ipv4": [str(n) for n in sorted(found[4])], "ipv6": [str(n) for n in sorted(found[6])]}


def port_range_problems(values: Any, name: str) -> list[str]:
    """Messages for each entry of ``values`` that is not a port ('22') or range ('31000-32000')."""
    items, problems = _entries(values, name)
    for item in items:
        match = _RANGE.match(str(item))
        if not match:
            problems.append(f"{name}: '{item}' is not a port or a range; write e.g. '31000-32000' or '8080'")
            continue
        low = int(match.group(1))
        high = int(match.group(2) or low)
        if not 1 <= low <= high <= 65535:
            problems.append(f"{name}: '{item}' is out of order or outside 1-65535; write 'low-high' with "
                            f"1 <= low <= high <= 65535")
    return problems


def _address(hostvars: Any, host: str) -> str | None:
    """A host's default IPv4 address from its gathered facts, or None."""
    try:
        facts = hostvars[host].get("ansible_facts") or {}
    except (KeyError, AttributeError):
        return None
    address = (facts.get("default_ipv4") or {}).get("address")
    return str(address) if address else None


def addresses(hosts: Iterable[str] | None, hostvars: Any) -> list[str]:
    """The default IPv4 addresses of ``hosts`` (sorted, unique); hosts without facts are skipped."""
    found = {_address(hostvars, host) for host in hosts or []}
    return sorted((a for a in found if a), key=ipaddress.ip_address)


def hosts_without_address(hosts: Iterable[str] | None, hostvars: Any) -> list[str]:
    """The hosts among ``hosts`` whose facts have no default IPv4 address."""
    return sorted(host for host in set(hosts or []) if not _address(hostvars, host))


def cidrs_contain(values: Iterable[Any] | None, address: Any) -> bool:
    """True when ``address`` lies in one of the CIDRs ``values``."""
    try:
        ip = ipaddress.ip_address(str(address).strip())
    except ValueError:
        return False
    for item in values or []:
        try:
            if ip in ipaddress.ip_network(str(item).strip(), strict=False):
                return True
        except (ValueError, TypeError):
            continue
    return False


class FilterModule:
    """Firewall filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "firewall_cidr_problems": cidr_problems,
            "firewall_split_cidrs": split_cidrs,
            "firewall_port_range_problems": port_range_problems,
            "firewall_addresses": addresses,
            "firewall_hosts_without_address": hosts_without_address,
            "firewall_cidrs_contain": cidrs_contain,
        }
