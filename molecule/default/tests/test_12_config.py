"""The rendered flags match the variables, the daemons are the package's, and the ZooKeeper URL
is never exposed.

Read-only: these tests change nothing on the hosts.
"""
from __future__ import annotations

import importlib.util
import json

import yaml
from mesos_ha_testlib import hosts as th
from mesos_ha_testlib import mesos

ZK_FILE = "/etc/mesos/zk"
# The flags name the file with file://; /flags shows a file-loaded value as its path.
ZK_FLAG = ZK_FILE
PACKAGE = "aventer-mesos"
MASTER_ENV = "/etc/mesos-ha/mesos-master.env"
AGENT_ENV = "/etc/mesos-ha/mesos-agent.env"
MASTER_CREDENTIALS = "/etc/mesos-ha/mesos-master-credentials.json"
AGENT_CREDENTIAL = "/etc/mesos-ha/mesos-agent-credential.json"
AGENT_HTTP_CREDENTIALS = "/etc/mesos-ha/mesos-agent-http-credentials.json"


# ----------------------------------------------------------------------------------------- flags
def test_master_flags_match_the_variables(masters, settings):
    """Each master runs with quorum 2, zk file://, its work_dir, its container IP and hostname."""
    for master in masters:
        shown = mesos.flags(master.address, mesos.MASTER_PORT)
        expected = {
            "quorum": "2",
            "zk": ZK_FLAG,
            "work_dir": settings["mesos_master_work_dir"],
            "ip": master.address,
            "advertise_ip": master.address,
            "hostname": master.name,
            "cluster": settings["mesos_master_cluster"],
            "port": str(settings["mesos_master_port"]),
            "registry": "replicated_log",
            "zk_session_timeout": settings["mesos_common_zk_session_timeout"],
            "cleanup_log_files": str(settings["mesos_common_log_retention_days"]),
        }
        if settings.get("mesos_common_auth_enabled", True):
            expected.update({"authenticate_frameworks": "true", "authenticate_agents": "true",
                             "authenticate_http_frameworks": "true", "http_framework_authenticators": "basic",
                             "authenticate_http_readonly": "true", "authenticate_http_readwrite": "true",
                             # Path flags: Mesos shows the file, never its content.
                             "credentials": MASTER_CREDENTIALS})
        assert {k: shown.get(k) for k in expected} == expected, f"{master.name}: /flags differ"


def test_agent_flags_match_the_variables(agents, settings):
    """Each agent finds the masters through file:///etc/mesos/zk and binds its container IP; on
    this machine's hybrid cgroup layout it runs the Linux launcher with cgroup v1 isolators, no
    systemd support, a cgroup root of its own, and serves its executors on systemd's socket."""
    roots = set()
    for agent in agents:
        shown = mesos.flags(agent.address, mesos.AGENT_PORT)
        expected = {
            "master": ZK_FLAG,
            "work_dir": settings["mesos_agent_work_dir"],
            "ip": agent.address,
            "advertise_ip": agent.address,
            "hostname": agent.name,
            "port": str(settings["mesos_agent_port"]),
            "switch_user": "true",
            "launcher": "linux",
            "isolation": "filesystem/posix,cgroups/cpu,cgroups/mem",
            "systemd_enable_support": "false",
            "cgroups_root": f"mesos-{agent.name}",
            "http_command_executor": "true",
            "http_executor_domain_sockets": "true",
            "domain_socket_location": "/run/mesos/agent.sock",
            "cleanup_log_files": str(settings["mesos_common_log_retention_days"]),
        }
        if settings.get("mesos_common_auth_enabled", True):
            expected.update({"credential": AGENT_CREDENTIAL, "http_credentials": AGENT_HTTP_CREDENTIALS,
                             "authenticate_http_readonly": "true", "authenticate_http_readwrite": "true",
                             "authenticate_http_executors": "true"})
        assert {k: shown.get(k) for k in expected} == expected, f"{agent.name}: /flags differ"
        # JSON-valued flags loaded from files show their content (ACLs as protobuf text).
        assert json.loads(shown["executor_environment_variables"]) == (
            settings["mesos_agent_flags"]["executor_environment_variables"]), agent.name
        if settings.get("mesos_common_auth_enabled", True):
            assert shown["acls"].startswith("permissive: false"), f"{agent.name}: --acls is {shown['acls'][:80]!r}"
        roots.add(shown["cgroups_root"])
    assert len(roots) == len(agents), f"agents share a cgroup root: {roots}"


# ------------------------------------------------------------------------------------- package
def test_units_run_the_packages_binaries(masters, agents):
    """The roles' own units (not the package's) run the package's ELF binaries from /usr/bin,
    which load libmesos.so.0; the unit a host does not run is masked; /version reports 1.11.0."""
    for hosts, unit, other, port in ((masters, "mesos-master", "mesos-agent", mesos.MASTER_PORT),
                                     (agents, "mesos-agent", "mesos-master", mesos.AGENT_PORT)):
        for host in hosts:
            fragment = th.run_in(host.container, "systemctl", "show", "-p", "FragmentPath", "--value", unit).stdout.strip()
            assert fragment == f"/etc/systemd/system/{unit}.service", f"{host.name}: {unit} comes from {fragment}"
            pid = mesos.service_main_pid(host.container, f"{unit}.service")
            daemon = th.run_in(host.container, "pgrep", "-P", str(pid), "-x", unit).stdout.split()
            assert len(daemon) == 1, f"{host.name}: {unit} is not the supervisor's child"
            # argv[0]: /proc/<pid>/exe of another user's process needs CAP_SYS_PTRACE.
            exe = mesos.process_cmdline(host.container, int(daemon[0]))[0]
            assert exe == f"/usr/bin/{unit}", f"{host.name}: the daemon runs {exe}"
            owner = th.run_in(host.container, "dpkg", "-S", exe).stdout
            assert owner.startswith(f"{PACKAGE}:"), f"{host.name}: {exe} belongs to {owner!r}"
            magic = th.run_in(host.container, "od", "-An", "-c", "-N4", exe).stdout.split()
            assert magic == ["177", "E", "L", "F"], f"{host.name}: {exe} is not an ELF executable ({magic})"
            ldd = th.run_in(host.container, "ldd", exe).stdout
            assert "libmesos.so.0 => /" in ldd and "not found" not in ldd, f"{host.name}: {ldd}"
            masked = th.run_in(host.container, "systemctl", "is-enabled", other, check=False).stdout.strip()
            assert masked == "masked", f"{host.name}: the package's {other}.service is {masked!r}, not masked"
            assert mesos.get_json(host.address, port, "/version")["version"] == "1.11.0", host.name


def test_flag_list_matches_the_installed_binaries(masters, agents):
    """roles/mesos_common/vars/flags-1.11.yml is exactly what the package's binaries print with
    --help (regenerate it with tools/mesos_flags.py when the package changes)."""
    spec = importlib.util.spec_from_file_location("mesos_flags", mesos.PROJECT_DIR / "tools" / "mesos_flags.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    master_help = th.run_in(masters[0].container, "/usr/bin/mesos-master", "--help").stdout
    agent_help = th.run_in(agents[0].container, "/usr/bin/mesos-agent", "--help").stdout
    committed = yaml.safe_load((mesos.PROJECT_DIR / "roles/mesos_common/vars/flags-1.11.yml").read_text())
    assert tool.known_flags(master_help, agent_help) == committed["__mesos_common_known_flags"], (
        "the committed flag list differs from the installed binaries: run tools/mesos_flags.py")


def test_json_valued_flags_are_files(agents, settings):
    """executor_environment_variables (JSON) is a file the flag names, holding the variables."""
    for agent in agents:
        path = "/etc/mesos-ha/mesos-agent.d/executor_environment_variables.json"
        content = json.loads(mesos.read_file(agent.container, path))
        assert content == settings["mesos_agent_flags"]["executor_environment_variables"], agent.name


# --------------------------------------------------------------------------------------- secrets
def test_flags_show_the_zk_file_not_the_url(masters, agents):
    """No /flags value, process argv or env file carries the zk:// URL (it may hold a password)."""
    for host, port, unit, env_file in ([(m, mesos.MASTER_PORT, "mesos-master.service", MASTER_ENV) for m in masters]
                                       + [(a, mesos.AGENT_PORT, "mesos-agent.service", AGENT_ENV) for a in agents]):
        leaked = {k: v for k, v in mesos.flags(host.address, port).items() if "zk://" in str(v)}
        assert not leaked, f"{host.name}: /flags shows the ZooKeeper URL: {leaked}"
        pid = mesos.service_main_pid(host.container, unit)
        assert pid > 0, f"{host.name}: {unit} does not run"
        argv = mesos.process_cmdline(host.container, pid)
        assert not [a for a in argv if "zk://" in a], f"{host.name}: the URL is on the command line: {argv}"
        assert "zk://" not in mesos.read_file(host.container, env_file), f"{host.name}: {env_file} holds the URL"


def test_zk_file_holds_the_url_and_is_not_world_readable(masters, agents, settings, mesos_secrets):
    """/etc/mesos/zk is 0640 root:mesos on every Mesos host and holds the ensemble's URL."""
    zk_members = [h.name for h in mesos.group_hosts("zookeeper")]
    auth = (f"{settings['mesos_common_zk_username']}:{mesos_secrets['mesos_zk']}@"
            if settings.get("mesos_common_auth_enabled", True) else "")
    url = ("zk://" + auth + ",".join(f"{name}:{settings['mesos_common_zk_port']}" for name in zk_members)
           + settings["mesos_common_zk_path"])
    for host in masters + agents:
        stat = mesos.file_stat(host.container, ZK_FILE)
        assert (oct(stat.mode), stat.owner, stat.group) == ("0o640", "root", settings["mesos_common_user"]), (
            f"{host.name}: {ZK_FILE} is {oct(stat.mode)} {stat.owner}:{stat.group}")
        assert mesos.read_file(host.container, ZK_FILE).strip() == url, f"{host.name}: {ZK_FILE}"


def test_env_files_are_not_world_readable(masters, agents):
    """The rendered flag files are readable by root (and the master's group) only."""
    for host, path in [(m, MASTER_ENV) for m in masters] + [(a, AGENT_ENV) for a in agents]:
        stat = mesos.file_stat(host.container, path)
        assert stat.mode & 0o007 == 0 and stat.mode & 0o022 == 0, f"{host.name}: {path} is {oct(stat.mode)}"
        assert stat.owner == "root", f"{host.name}: {path} is owned by {stat.owner}"


def test_master_runs_as_mesos_and_agent_as_root(masters, agents, settings):
    """The master drops root (it needs none); the agent keeps it to manage containers."""
    for hosts, unit, user in ((masters, "mesos-master.service", settings["mesos_common_user"]),
                              (agents, "mesos-agent.service", "root")):
        for host in hosts:
            pid = mesos.service_main_pid(host.container, unit)
            assert pid > 0, f"{host.name}: {unit} does not run"
            assert mesos.process_user(host.container, pid) == user, f"{host.name}: {unit} runs as the wrong user"


def test_secrets_never_show_in_flags_env_argv_or_journal(masters, agents, mesos_secrets):
    """No Mesos secret (ZooKeeper password, agent or operator secret) appears in clear in /flags,
    /master/state's flags, the env files, any process's command line or the units' journals."""
    secrets = {name: value for name, value in mesos_secrets.items() if value}
    assert secrets, "no secrets to look for"
    for host, port, unit, env_file in ([(m, mesos.MASTER_PORT, "mesos-master.service", MASTER_ENV) for m in masters]
                                       + [(a, mesos.AGENT_PORT, "mesos-agent.service", AGENT_ENV) for a in agents]):
        places = {
            "/flags": mesos.http_get(host.address, port, "/flags").body.decode("utf-8", "replace"),
            env_file: mesos.read_file(host.container, env_file),
            "ps": th.run_in(host.container, "ps", "-eo", "args", "ww").stdout,
            "journal": th.run_in(host.container, "journalctl", "--no-pager", "-o", "cat", "-u", unit,
                                 "-u", "zookeeper.service", check=False).stdout,
        }
        for place, text in places.items():
            leaked = sorted(name for name, value in secrets.items() if value in text)
            assert not leaked, f"{host.name}: {place} shows the secret(s) {leaked}"
