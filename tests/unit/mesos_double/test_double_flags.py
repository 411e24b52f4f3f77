"""Flag parsing (stout semantics), durations, file://, env precedence, exit messages."""

import os
import subprocess
import sys

import pytest

from mesos_double import durations, flags as F
from mesos_double_testlib import DOUBLE_DIR


def load_master(argv, env=None):
    return F.load(F.MASTER, argv, env or {})


def load_agent(argv, env=None):
    return F.load(F.AGENT, argv, env or {})


def run(role, args, env=None, timeout=20):
    full = {k: v for k, v in os.environ.items() if not k.startswith(("MESOS_", "LIBPROCESS_"))}
    full["PYTHONPATH"] = DOUBLE_DIR
    full["PYTHONDONTWRITEBYTECODE"] = "1"
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "mesos_double", role] + args, env=full,
                          capture_output=True, text=True, timeout=timeout)


# ----------------------------------------------------------------------- durations
@pytest.mark.parametrize("text,secs,shown", [
    ("10secs", 10, "10secs"), ("1mins", 60, "1mins"), ("100ms", 0.1, "100ms"),
    ("2hrs", 7200, "2hrs"), ("1days", 86400, "1days"), ("90secs", 90, "1.5mins"),
    ("2weeks", 14 * 86400, "2weeks"), ("0ns", 0, "0ns"), ("1.5secs", 1.5, "1.5secs"),
    ("60secs", 60, "1mins"), ("20secs", 20, "20secs"), ("15mins", 900, "15mins"),
])
def test_duration_parse_and_format(text, secs, shown):
    assert durations.parse(text) == pytest.approx(secs)
    assert durations.format(durations.parse(text)) == shown


@pytest.mark.parametrize("bad,msg", [("10", "Invalid duration '10'"),
                                     ("10s", "Unknown duration unit 's'"),
                                     ("10 secs", "Unknown duration unit ' secs'")])
def test_duration_errors(bad, msg):
    with pytest.raises(durations.DurationError, match=msg):
        durations.parse(bad)


# ----------------------------------------------------------------------- forms
def test_forms_equals_bare_and_negated():
    fl, _ = load_master(["--port=6000", "--quiet", "--no-hostname_lookup", "--cluster=prod"])
    assert fl.port == 6000 and fl.quiet is True and fl.hostname_lookup is False
    assert fl.cluster == "prod"
    d = fl.display()
    assert d["port"] == "6000" and d["quiet"] == "true" and d["hostname_lookup"] == "false"


def test_space_separated_value_is_not_supported():
    with pytest.raises(F.FlagError) as e:
        load_master(["--quorum", "2"])
    assert str(e.value) == "Failed to load non-boolean flag 'quorum': Missing value"


def test_unknown_flag_and_negation_errors():
    with pytest.raises(F.FlagError, match=r"^Failed to load unknown flag 'bogus'$"):
        load_master(["--bogus=1"])
    with pytest.raises(F.FlagError, match=r"Failed to load non-boolean flag 'port' via 'no-port'"):
        load_master(["--no-port"])
    with pytest.raises(F.FlagError,
                       match=r"Failed to load boolean flag 'quiet' via 'no-quiet' with value 'x'"):
        load_master(["--no-quiet=x"])


def test_names_lowercased_and_parsing_stops_at_double_dash():
    fl, _ = load_master(["--PORT=7000", "--", "--bogus=1"])
    assert fl.port == 7000


def test_duplicate_and_alias_conflicts():
    with pytest.raises(F.FlagError, match="Duplicate flag 'port' on command line"):
        load_master(["--port=1", "--port=2"])
    with pytest.raises(F.FlagError,
                       match="Flag 'authenticate_agents' is already loaded via name"):
        load_master(["--authenticate_slaves", "--authenticate_agents"])


def test_deprecated_alias_warns_and_sets_new_name():
    fl, warnings = load_master(["--authenticate_slaves", "--slave_ping_timeout=5secs",
                                "--authenticate"])
    assert fl.authenticate_agents is True and fl.authenticate_frameworks is True
    assert fl.agent_ping_timeout == 5
    assert "Loaded deprecated flag 'authenticate_slaves'" in warnings
    assert "Loaded deprecated flag 'slave_ping_timeout'" in warnings
    assert fl.display()["agent_ping_timeout"] == "5secs"


def test_bad_values():
    with pytest.raises(F.FlagError, match=r"^Failed to load flag 'registry_fetch_timeout': "):
        load_master(["--registry_fetch_timeout=10"])
    with pytest.raises(F.FlagError, match=r"^Failed to load flag 'quorum': "):
        load_master(["--quorum=two"])


def test_defaults_match_reference():
    d = load_master([])[0].display()
    expect = {"port": "5050", "zk_session_timeout": "10secs", "registry": "replicated_log",
              "registry_fetch_timeout": "1mins", "registry_store_timeout": "20secs",
              "log_auto_initialize": "true", "registry_strict": "false",
              "registry_gc_interval": "15mins", "registry_max_agent_age": "2weeks",
              "registry_max_agent_count": "102400", "agent_ping_timeout": "15secs",
              "max_agent_ping_timeouts": "5", "agent_reregister_timeout": "10mins",
              "recovery_agent_removal_limit": "100%", "authenticate_agents": "false",
              "authenticate_frameworks": "false", "authenticate_http_readonly": "false",
              "authenticate_http_readwrite": "false", "authenticate_http_frameworks": "false",
              "authenticators": "crammd5", "http_authenticators": "basic",
              "authorizers": "local", "max_completed_frameworks": "50",
              "hostname_lookup": "true", "logging_level": "INFO", "quiet": "false"}
    for k, v in expect.items():
        assert d[k] == v, k
    for unset in ("zk", "quorum", "work_dir", "cluster", "ip", "credentials", "offer_timeout"):
        assert unset not in d
    a = load_agent(["--work_dir=/w"])[0].display()
    expect_a = {"port": "5051", "executor_registration_timeout": "1mins",
                "executor_shutdown_grace_period": "5secs", "recovery_timeout": "15mins",
                "recover": "reconnect", "strict": "true", "registration_backoff_factor": "1secs",
                "systemd_enable_support": "true",
                "systemd_runtime_directory": "/run/systemd/system",
                "containerizers": "mesos", "isolation": "posix/cpu,posix/mem",
                "switch_user": "true", "docker": "docker", "zk_session_timeout": "10secs"}
    for k, v in expect_a.items():
        assert a[k] == v, k


# ----------------------------------------------------------------------- env
def test_env_known_only_case_insensitive_and_cli_overrides():
    env = {"MESOS_PORT": "6001", "MESOS_cluster": "envc", "MESOS_BOGUS_THING": "x",
           "MESOS_QUORUM": "2", "OTHER_PORT": "1"}
    fl, _ = load_master(["--port=6002"], env)
    assert fl.port == 6002          # CLI wins
    assert fl.cluster == "envc"     # lower-cased after the prefix
    assert fl.quorum == 2
    fl2, _ = load_master([], env)
    assert fl2.port == 6001


# ----------------------------------------------------------------------- file://
def test_file_values(tmp_path):
    q = tmp_path / "quorum"
    q.write_text("2\n")
    zkf = tmp_path / "zk"
    zkf.write_text("zk://u:secret@127.0.0.1:2181/mesos\n")
    cred = tmp_path / "creds.json"
    cred.write_text("{}")
    fl, _ = load_master(["--quorum=file://%s" % q, "--zk=file://%s" % zkf,
                         "--credentials=file://%s" % cred])
    assert fl.quorum == 2
    assert fl.zk.strip() == "zk://u:secret@127.0.0.1:2181/mesos"    # contents are used
    d = fl.display()
    assert d["zk"] == "file://%s" % zkf                               # ...but the path is shown
    assert "secret" not in d["zk"]
    assert fl.credentials == str(cred) and d["credentials"] == str(cred)  # Path keeps the path
    fa, _ = load_agent(["--work_dir=/w", "--master=file://%s" % zkf])
    assert fa.display()["master"] == "file://%s" % zkf
    with pytest.raises(F.FlagError, match=r"Failed to load flag 'quorum': Error reading file"):
        load_master(["--quorum=file:///nonexistent/q"])


def test_agent_requires_work_dir():
    with pytest.raises(F.FlagError, match=r"^Flag 'work_dir' is required, but it was not provided$"):
        load_agent(["--master=127.0.0.1:5050"])


# ----------------------------------------------------------------------- process exits
def test_cli_help_version_and_unknown_flag():
    r = run("master", ["--version"])
    assert r.returncode == 0 and r.stdout.strip() == "mesos 1.11.0"
    r = run("agent", ["--version"])
    assert r.returncode == 0 and r.stdout.strip() == "mesos 1.11.0"
    r = run("master", ["--help"])
    assert r.returncode == 0 and "--zk=VALUE" in r.stdout
    r = run("master", ["--xyz=1"])
    assert r.returncode == 1
    assert "Failed to load unknown flag 'xyz'" in r.stderr
    assert "See `mesos-master --help` for a list of supported flags." in r.stderr
    r = run("agent", ["--xyz"])
    assert r.returncode == 1 and "Failed to load unknown flag 'xyz'" in r.stderr


def test_unknown_env_is_ignored_by_process(tmp_path):
    r = run("master", ["--version"], env={"MESOS_TOTALLY_UNKNOWN": "1"})
    assert r.returncode == 0


@pytest.mark.parametrize("args,env,message", [
    (["--zk=zk://127.0.0.1:1/mesos", "--work_dir=/tmp/x"], {},
     "Need to specify --quorum for replicated log based registry when using ZooKeeper"),
    (["--zk=zk://127.0.0.1:1/mesos", "--quorum=2"], {},
     "--work_dir needed for replicated log based registry"),
    (["--zk=zk://127.0.0.1:1/", "--quorum=1", "--work_dir=/tmp/x"], {},
     "Failed to create a master contender/detector: Expecting a (chroot) path for ZooKeeper "
     "('/' is not supported)"),
    (["--registry=bogus"], {}, "'bogus' is not a supported option for registry persistence"),
    (["--registry=in_memory", "--agent_reregister_timeout=5mins"], {},
     "Invalid value '5mins' for --agent_reregister_timeout: Must be at least 10mins"),
    (["--registry=in_memory", "--authenticate_http_readonly"], {},
     "No credentials provided for the default 'basic' HTTP authenticator for realm "
     "'mesos-master-readonly'"),
    (["--registry=in_memory"], {"LIBPROCESS_SSL_ENABLED": "true"},
     "SSL requires key! NOTE: Set path with LIBPROCESS_SSL_KEY_FILE"),
    (["--registry=in_memory"], {"LIBPROCESS_SSL_ENABLED": "1", "LIBPROCESS_SSL_KEY_FILE": "/k"},
     "SSL requires certificate! NOTE: Set path with LIBPROCESS_SSL_CERT_FILE"),
])
def test_master_startup_errors(args, env, message):
    r = run("master", ["--ip=127.0.0.1", "--port=1"] + args, env=env)
    assert r.returncode == 1, r.stderr
    assert message in r.stderr


def test_master_quorum_via_env_satisfies_requirement(tmp_path):
    # MESOS_QUORUM is picked up, so the failure moves on to the next check (bad zk path)
    r = run("master", ["--ip=127.0.0.1", "--port=1", "--zk=zk://127.0.0.1:1/",
                       "--work_dir=%s" % tmp_path], env={"MESOS_QUORUM": "1"})
    assert r.returncode == 1
    assert "Need to specify --quorum" not in r.stderr
    assert "('/' is not supported)" in r.stderr


@pytest.mark.parametrize("args,message", [
    (["--work_dir=/tmp/x"], "Missing required option `--master` or `--master_detector`"),
    (["--master=127.0.0.1:5050"], "Flag 'work_dir' is required, but it was not provided"),
    (["--master=zk://127.0.0.1:1/", "--work_dir=/tmp/x"],
     "Expecting a (chroot) path for ZooKeeper ('/' is not supported)"),
    (["--master=127.0.0.1:5050", "--work_dir=/tmp/x", "--recover=bogus"],
     "Unknown option for 'recover' flag bogus"),
])
def test_agent_startup_errors(args, message):
    r = run("agent", ["--ip=127.0.0.1", "--port=1"] + args)
    assert r.returncode == 1, r.stderr
    assert message in r.stderr


def test_deprecated_flag_logged_by_process():
    r = run("master", ["--registry=in_memory", "--slave_reregister_timeout=1mins",
                       "--ip=127.0.0.1", "--port=1"])
    assert r.returncode == 1
    assert "Loaded deprecated flag 'slave_reregister_timeout'" in r.stderr
    assert "Must be at least 10mins" in r.stderr
    # glog-like line format
    import re
    assert re.search(r"^W\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ main\.cpp:\d+\] Loaded deprecated",
                     r.stderr, re.M)


def test_crash_at_start_hook():
    r = run("master", ["--registry=in_memory"], env={"MESOS_DOUBLE_CRASH_AT_START": "1"})
    assert r.returncode == 1 and "MESOS_DOUBLE_CRASH_AT_START" in r.stderr
