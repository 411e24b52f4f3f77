"""The rendered flags match the variables, and the ZooKeeper URL is never exposed.

Read-only: these tests change nothing on the hosts.
"""
from __future__ import annotations

from mesos_ha_testlib import hosts as th
from mesos_ha_testlib import mesos

ZK_FILE = "/etc/mesos/zk"
ZK_FLAG = f"file://{ZK_FILE}"
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
        }
        if settings.get("mesos_common_auth_enabled", True):
            expected.update({"authenticate_frameworks": "true", "authenticate_agents": "true",
                             "authenticate_http_readonly": "true", "authenticate_http_readwrite": "true",
                             # Path flags: Mesos shows the file, never its content.
                             "credentials": MASTER_CREDENTIALS})
        assert {k: shown.get(k) for k in expected} == expected, f"{master.name}: /flags differ"


def test_agent_flags_match_the_variables(agents, settings):
    """Each agent finds the masters through file:///etc/mesos/zk and binds its container IP."""
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
        }
        if settings.get("mesos_common_auth_enabled", True):
            expected.update({"credential": AGENT_CREDENTIAL, "http_credentials": AGENT_HTTP_CREDENTIALS,
                             "authenticate_http_readonly": "true", "authenticate_http_readwrite": "true"})
        assert {k: shown.get(k) for k in expected} == expected, f"{agent.name}: /flags differ"


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
