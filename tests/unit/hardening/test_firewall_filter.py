"""filter_plugins/firewall.py: CIDR and port checks, address lists for the allow-lists."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SPEC = importlib.util.spec_from_file_location("firewall_filters", REPO / "filter_plugins/firewall.py")
fw = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(fw)


@pytest.mark.parametrize("value", [["10.0.0.0/8"], ["192.0.2.10"], ["192.0.2.10/32", "2001:db8::/32"], [], None])
def test_valid_cidrs_have_no_problems(value) -> None:
    assert fw.cidr_problems(value, "firewall_admin_cidrs") == []


def test_bad_cidr_names_variable_value_and_fix() -> None:
    problems = fw.cidr_problems(["10.0.0.0/8", "10.0.0.300/8", "example.org"], "firewall_admin_cidrs")
    assert len(problems) == 2
    assert all(p.startswith("firewall_admin_cidrs: ") for p in problems)
    assert "'10.0.0.300/8'" in problems[0] and "192.0.2.10/32" in problems[0]
    assert "'example.org'" in problems[1]


def test_host_bits_set_suggests_the_network() -> None:
    (problem,) = fw.cidr_problems(["10.1.2.3/8"], "firewall_framework_cidrs")
    assert "did you mean 10.0.0.0/8?" in problem


def test_a_string_instead_of_a_list_is_refused() -> None:
    (problem,) = fw.cidr_problems("10.0.0.0/8", "firewall_admin_cidrs")
    assert "must be a list" in problem


def test_split_normalises_sorts_and_dedups() -> None:
    got = fw.split_cidrs(["10.0.0.2", "10.0.0.1/32", "2001:db8::1", "10.0.0.2/32", "bogus", "10.1.2.3/16"])
    assert got == {"ipv4": ["10.0.0.1/32", "10.0.0.2/32", "10.1.0.0/16"], "ipv6": ["2001:db8::1/128"]}
    assert fw.split_cidrs(None) == {"ipv4": [], "ipv6": []}


@pytest.mark.parametrize("value", [["31000-32000"], ["22"], [" 8000 - 8080 "], []])
def test_valid_port_ranges(value) -> None:
    assert fw.port_range_problems(value, "firewall_task_port_ranges") == []


@pytest.mark.parametrize("value", [["32000-31000"], ["0-10"], ["1-70000"], ["31000:32000"], ["http"]])
def test_bad_port_ranges(value) -> None:
    (problem,) = fw.port_range_problems(value, "firewall_task_port_ranges")
    assert problem.startswith("firewall_task_port_ranges: ")


HOSTVARS = {
    "node1": {"ansible_facts": {"default_ipv4": {"address": "172.20.0.3"}}},
    "node2": {"ansible_facts": {"default_ipv4": {"address": "172.20.0.10"}}},
    "agent1": {"ansible_facts": {"default_ipv4": {"address": "172.20.0.2"}}},
    "nofacts": {},
    "noroute": {"ansible_facts": {"default_ipv4": {}}},
}


def test_addresses_are_sorted_numerically_and_skip_unknown_hosts() -> None:
    assert fw.addresses(["node2", "node1", "agent1", "nofacts", "missing"], HOSTVARS) == [
        "172.20.0.2", "172.20.0.3", "172.20.0.10"]


def test_hosts_without_address() -> None:
    assert fw.hosts_without_address(["node1", "nofacts", "noroute", "missing"], HOSTVARS) == [
        "missing", "nofacts", "noroute"]


@pytest.mark.parametrize(("address", "expected"), [
    ("172.20.0.1", True), ("10.9.8.7", True), ("172.20.0.2", False), ("2001:db8::5", True), ("nonsense", False)])
def test_cidrs_contain(address, expected) -> None:
    assert fw.cidrs_contain(["172.20.0.1/32", "10.0.0.0/8", "2001:db8::/64", "junk"], address) is expected


def test_filters_are_registered() -> None:
    names = set(fw.FilterModule().filters())
    assert {"firewall_cidr_problems", "firewall_split_cidrs", "firewall_port_range_problems",
            "firewall_addresses", "firewall_hosts_without_address", "firewall_cidrs_contain"} <= names
