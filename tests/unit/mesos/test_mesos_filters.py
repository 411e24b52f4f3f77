"""filter_plugins/mesos.py: the rules that keep a Mesos deployment safe, and their messages."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
SPEC = importlib.util.spec_from_file_location("mesos_filters", REPO / "filter_plugins/mesos.py")
mesos = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(mesos)
KNOWN = yaml.safe_load((REPO / "roles/mesos_common/vars/flags-1.11.yml").read_text())["__mesos_common_known_flags"]
MASTER = KNOWN["common"] + KNOWN["master"]
AGENT = KNOWN["common"] + KNOWN["agent"]


def test_misspelled_flag_is_named_with_the_nearest_valid_one() -> None:
    errors = mesos.mesos_flag_errors({"registy_fetch_timeout": "60secs", "quorum": 2}, MASTER, "mesos_master_flags")
    assert len(errors) == 1
    assert "'registy_fetch_timeout' is not a Mesos 1.11 flag" in errors[0]
    assert "did you mean 'registry_fetch_timeout'?" in errors[0]
    assert errors[0].startswith("mesos_master_flags:")


def test_agent_flag_is_unknown_to_the_master() -> None:
    assert mesos.mesos_flag_errors({"resources": "cpus:1"}, MASTER, "mesos_master_flags")
    assert not mesos.mesos_flag_errors({"resources": "cpus:1"}, AGENT, "mesos_agent_flags")


def test_role_base_flags_are_all_known() -> None:
    master_vars = yaml.safe_load((REPO / "roles/mesos_master/vars/main.yml").read_text())
    agent_vars = yaml.safe_load((REPO / "roles/mesos_agent/vars/main.yml").read_text())
    assert not mesos.mesos_flag_errors(master_vars["__mesos_master_base_flags"], MASTER, "x")
    assert not mesos.mesos_flag_errors(agent_vars["__mesos_agent_base_flags"], AGENT, "x")


@pytest.mark.parametrize(("masters", "quorum"), [(1, 1), (3, 2), (5, 3), (7, 4)])
def test_quorum_is_a_strict_majority(masters: int, quorum: int) -> None:
    assert mesos.mesos_quorum(masters) == quorum


@pytest.mark.parametrize("masters", [2, 4, 6])
def test_even_master_counts_are_refused(masters: int) -> None:
    error = mesos.mesos_master_count_error(masters, allow_non_ha=True)
    assert f"has {masters} members" in error and "odd number" in error


def test_single_master_needs_the_opt_in() -> None:
    assert "mesos_master_allow_non_ha" in mesos.mesos_master_count_error(1)
    assert mesos.mesos_master_count_error(1, allow_non_ha=True) == ""
    assert mesos.mesos_master_count_error(3) == ""
    assert "empty" in mesos.mesos_master_count_error(0)


def test_zk_url() -> None:
    assert mesos.mesos_zk_url(["a", "b"], 2181, "/mesos") == "zk://a:2181,b:2181/mesos"
    assert mesos.mesos_zk_url(["a"], 2181, "/mesos/", "mesos", "pw") == "zk://mesos:pw@a:2181/mesos"
    with pytest.raises(ValueError, match="no ZooKeeper hosts"):
        mesos.mesos_zk_url([], 2181, "/mesos")
    with pytest.raises(ValueError, match="chroot"):
        mesos.mesos_zk_url(["a"], 2181, "/")


def test_env_rendering() -> None:
    env = mesos.mesos_env({"work_dir": "/w", "hostname_lookup": False, "attributes": {"rack": "r1", "zone": "a"},
                           "resources": None})
    assert env == {"MESOS_WORK_DIR": "/w", "MESOS_HOSTNAME_LOOKUP": "false", "MESOS_ATTRIBUTES": "rack:r1;zone:a"}


def test_json_valued_flags_become_files() -> None:
    flags = {"executor_environment_variables": {"PATH": "/usr/bin"}, "acls": "file:///etc/acls.json",
             "attributes": {"rack": "r1"}, "allowed_devices": [{"device": {"path": "/dev/fuse"}}]}
    env = mesos.mesos_env(flags, "/etc/mesos-ha/mesos-agent.d")
    assert env["MESOS_EXECUTOR_ENVIRONMENT_VARIABLES"] == "file:///etc/mesos-ha/mesos-agent.d/executor_environment_variables.json"
    assert env["MESOS_ALLOWED_DEVICES"] == "file:///etc/mesos-ha/mesos-agent.d/allowed_devices.json"
    assert env["MESOS_ACLS"] == "file:///etc/acls.json"  # a path stays a path
    assert env["MESOS_ATTRIBUTES"] == "rack:r1"          # not a JSON flag: Mesos's k:v syntax
    files = {f["flag"]: f for f in mesos.mesos_json_flag_files(flags, "/d")}
    assert set(files) == {"executor_environment_variables", "allowed_devices"}
    assert files["executor_environment_variables"]["path"] == "/d/executor_environment_variables.json"
    assert json.loads(files["executor_environment_variables"]["content"]) == {"PATH": "/usr/bin"}
    with pytest.raises(ValueError, match="json_dir"):
        mesos.mesos_env({"domain": {"fault_domain": {}}})


MASTER_HELP = """Usage: mesos-master [options]

  --acls=VALUE                                                     The value could be a JSON-formatted string of ACLs
                                                                   or a file path containing the JSON-formatted ACLs used
  --agent_ping_timeout=VALUE, --slave_ping_timeout=VALUE           The timeout within which an agent is expected to respond
  --[no-]authenticate_agents, --[no-]authenticate_slaves           If `true` only authenticated agents are allowed to
                                                                   --not_a_flag=this is wrapped description text
  --cleanup_log_files=VALUE                                        Keep log files from the last 'n days.
"""


def test_flags_from_help_output_with_aliases() -> None:
    assert mesos.mesos_help_flags(MASTER_HELP) == [
        "acls", "agent_ping_timeout", "authenticate_agents", "authenticate_slaves", "cleanup_log_files",
        "slave_ping_timeout"]
    assert mesos.mesos_help_flags("garbage") == []


def test_committed_flag_list_has_the_forks_flags() -> None:
    """The generated list (tools/mesos_flags.py) knows the fork's own flags and not those left
    out of the package build; the default scenario checks it against the installed binaries."""
    for flag in ("http_cors_allowed_origins", "cleanup_log_files"):
        assert flag in KNOWN["common"]
    for flag in ("firewall_rules", "allocator_agent_recovery_factor", "allocator_recovery_timeout"):
        assert flag in MASTER
    for flag in ("agent_subsystems", "allowed_devices", "default_container_shm_size", "agent_features",
                 "docker_volume_chown", "ip6_discovery_command", "jwt_secret_key", "executor_secret_key"):
        assert flag in AGENT
    for flag in ("xfs_project_range", "xfs_kill_containers", "seccomp_config_dir", "seccomp_profile_name",
                 "enforce_container_ports", "container_ports_watch_interval"):
        assert flag not in AGENT


HYBRID = """cgroup /sys/fs/cgroup tmpfs ro,nosuid 0 0
cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0
cgroup /sys/fs/cgroup/cpuacct cgroup rw,relatime,cpuacct 0 0
cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0
cgroup /sys/fs/cgroup/freezer cgroup rw,relatime,freezer 0 0
cgroup /sys/fs/cgroup/systemd cgroup rw,relatime,xattr,name=systemd 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
"""
V1 = "\n".join(line for line in HYBRID.splitlines() if "cgroup2" not in line)
V2 = "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate 0 0\n"
PID1_HOST = "9:name=systemd:/init.scope\n0::/init.scope\n"
PID1_CONTAINER = "9:name=systemd:/docker/0123abcd/init.scope\n0::/docker/0123abcd/init.scope\n"


@pytest.mark.parametrize(("mounts", "layout"), [(HYBRID, "hybrid"), (V1, "v1"), (V2, "v2"), ("", "none")])
def test_cgroup_layout_is_read_from_the_mount_table(mounts: str, layout: str) -> None:
    info = mesos.mesos_cgroups_layout(mounts, PID1_HOST)
    assert info["layout"] == layout
    if layout in ("hybrid", "v1"):
        assert {"cpu", "cpuacct", "memory", "freezer"} <= set(info["v1_controllers"])
    if layout == "hybrid":
        assert info["cgroup2_mounts"] == ["/sys/fs/cgroup/unified"]


def test_systemd_owns_the_root_only_outside_a_container() -> None:
    assert mesos.mesos_cgroups_layout(V1, PID1_HOST)["systemd_owns_root"]
    assert not mesos.mesos_cgroups_layout(V1, PID1_CONTAINER)["systemd_owns_root"]


def test_agent_cgroups_on_a_hybrid_host_hide_cgroup2() -> None:
    result = mesos.mesos_agent_cgroups(mesos.mesos_cgroups_layout(HYBRID, PID1_CONTAINER))
    assert result["problems"] == [] and result["wrapper"]
    assert result["flags"] == {"launcher": "linux", "isolation": "filesystem/posix,cgroups/cpu,cgroups/mem",
                               "systemd_enable_support": False}


def test_agent_cgroups_on_v1_and_v2() -> None:
    v1 = mesos.mesos_agent_cgroups(mesos.mesos_cgroups_layout(V1, PID1_HOST))
    assert not v1["wrapper"] and v1["flags"]["systemd_enable_support"] is True and not v1["problems"]
    in_container = mesos.mesos_agent_cgroups(mesos.mesos_cgroups_layout(V1, PID1_CONTAINER))
    assert in_container["flags"]["systemd_enable_support"] is False
    v2 = mesos.mesos_agent_cgroups(mesos.mesos_cgroups_layout(V2, PID1_HOST), v2_controllers="cpuset cpu io memory pids")
    assert not v2["wrapper"] and not v2["problems"]
    assert v2["flags"]["agent_subsystems"] == "cpu,memory" and v2["flags"]["systemd_enable_support"] is False


@pytest.mark.parametrize(("mounts", "kwargs", "needle"), [
    (V2, {"systemd_support": True}, "mesos_agent_systemd_enable_support is true on a v2 cgroup host"),
    (HYBRID, {"systemd_support": "true"}, "mesos_agent_systemd_enable_support is true on a hybrid cgroup host"),
    (V1, {"systemd_support": "maybe"}, "mesos_agent_systemd_enable_support is 'maybe'; use auto, true or false"),
    (V2, {"v2_controllers": "cpu pids"}, "mesos_agent_cgroups_v2_subsystems asks for memory"),
    (HYBRID, {"subsystems": "cpu"}, "mesos_agent_cgroups_v2_subsystems is 'cpu' on a hybrid cgroup host"),
    (HYBRID, {"isolation": "filesystem/linux,cgroups/cpu,volume/host_path"},
     "mesos_agent_isolation has filesystem/linux,volume/host_path"),
    ("", {}, "no cgroup hierarchy is mounted"),
])
def test_agent_cgroup_settings_that_cannot_run_are_refused(mounts: str, kwargs: dict, needle: str) -> None:
    layout = mesos.mesos_cgroups_layout(mounts, PID1_CONTAINER if mounts is HYBRID else PID1_HOST)
    problems = mesos.mesos_agent_cgroups(layout, **kwargs)["problems"]
    assert any(needle in p for p in problems), problems


def test_framework_acls_and_credentials() -> None:
    entry = {"principal": "marathon", "secret": "s" * 20, "users": ["svc"], "roles": ["web"]}
    assert mesos.mesos_credential(entry) == {"principal": "marathon", "secret": "s" * 20}
    assert mesos.mesos_framework_acl(entry, "users") == {"principals": {"values": ["marathon"]}, "users": {"values": ["svc"]}}
    assert mesos.mesos_framework_acl({"principal": "p"}, "roles") == {"principals": {"values": ["p"]}, "roles": {"type": "ANY"}}
    with pytest.raises(ValueError):
        mesos.mesos_framework_acl(entry, "hosts")


@pytest.mark.parametrize(("text", "ms"), [("10secs", 10000.0), ("500ms", 500.0), ("1mins", 60000.0), ("2.5secs", 2500.0)])
def test_mesos_durations(text: str, ms: float) -> None:
    assert mesos.mesos_duration_ms(text) == ms


def test_a_bad_duration_names_the_syntax() -> None:
    with pytest.raises(ValueError, match="not a Mesos duration"):
        mesos.mesos_duration_ms("10s")


ZK_TIMING = {"tick_ms": "1000", "init_limit": "5", "sync_limit": "2", "margin_ms": "2000"}


def test_sessions_must_outlast_a_zookeeper_leader_change() -> None:
    """The masters' real --zk_session_timeout against the ensemble's election bound (9000 ms here)."""
    assert mesos.mesos_zk_session_errors({"node1": "10secs", "agent1": "20secs"}, ZK_TIMING) == []
    errors = mesos.mesos_zk_session_errors({"node1": "5secs", "node2": "10secs"}, ZK_TIMING)
    assert len(errors) == 1 and errors[0].startswith("node1: mesos_common_zk_session_timeout is '5secs' (5000 ms)")
    assert "= 9000 ms" in errors[0] and "Raise mesos_common_zk_session_timeout above 9000 ms" in errors[0]
    assert mesos.mesos_zk_session_errors({"node1": "9secs"}, ZK_TIMING)  # equal is not enough
    clamped = mesos.mesos_zk_session_errors({"node1": "30secs"}, ZK_TIMING)
    assert "outside the 2-20 ticks (2000-20000 ms)" in clamped[0]
    assert "is not a Mesos duration" in mesos.mesos_zk_session_errors({"node1": "ten"}, ZK_TIMING)[0]
