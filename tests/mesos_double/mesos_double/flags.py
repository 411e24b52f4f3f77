"""stout-compatible flag loading for mesos-master / mesos-agent (1.11 names).

Semantics reproduced (stout/flags/flags.hpp):
  * ``--name=value``, bare ``--name`` (booleans -> true), ``--no-name``
    (booleans -> false); ``--name value`` is not supported (the value word is
    skipped and ``--name`` fails with "Missing value").
  * names are lower-cased; parsing stops at ``--``.
  * ``MESOS_<NAME>`` environment variables for known flags only (unknown ones
    are silently ignored); the command line overrides the environment.
  * ``file://`` values are replaced by the file's contents, except for Path
    flags (the path is kept) and SecurePathOrValue flags (contents are used,
    the ``file://`` value is displayed).
"""

import os

from . import durations

# kinds
BOOL, STR, INT, FLOAT, DUR, PATH, SECURE, BYTES = (
    "bool", "string", "int", "double", "duration", "path", "secure", "bytes")


class FlagError(Exception):
    def __init__(self, message, flags=None):
        super().__init__(message)
        self.flags = flags  # partially loaded flags (stout keeps what it loaded)


class Spec:
    __slots__ = ("name", "kind", "default", "aliases", "required")

    def __init__(self, name, kind, default=None, aliases=(), required=False):
        self.name = name
        self.kind = kind
        self.default = default
        self.aliases = tuple(aliases)
        self.required = required


def _s(name, kind=STR, default=None, aliases=(), required=False):
    return Spec(name, kind, default, aliases, required)


# Flags shared by master and agent (logging/flags.cpp, common flags).
_COMMON = [
    _s("help", BOOL, "false"),
    _s("version", BOOL, "false"),
    _s("ip"), _s("ip6"), _s("ip_discovery_command"), _s("ip6_discovery_command"),
    _s("advertise_ip"), _s("advertise_port"),
    _s("hostname"), _s("hostname_lookup", BOOL, "true"),
    _s("log_dir"), _s("external_log_file"),
    _s("logbufsecs", INT, "0"), _s("logging_level", STR, "INFO"),
    _s("quiet", BOOL, "false"), _s("initialize_driver_logging", BOOL, "true"),
    _s("zk_session_timeout", DUR, "10secs"),
    _s("authenticate_http_readonly", BOOL, "false"),
    _s("authenticate_http_readwrite", BOOL, "false"),
    _s("http_authenticators", STR, "basic"),
    _s("modules"), _s("modules_dir"), _s("hooks"),
    _s("firewall_rules"), _s("domain"),
    _s("memory_profiling", BOOL, "false"),
]

MASTER = _COMMON + [
    _s("port", INT, "5050"),
    _s("zk", SECURE),
    _s("quorum", INT),
    _s("work_dir"),
    _s("cluster"),
    _s("registry", STR, "replicated_log"),
    _s("registry_fetch_timeout", DUR, "1mins"),
    _s("registry_store_timeout", DUR, "20secs"),
    _s("registry_gc_interval", DUR, "15mins"),
    _s("registry_max_agent_age", DUR, "2weeks"),
    _s("registry_max_agent_count", INT, "102400"),
    _s("registry_strict", BOOL, "false"),
    _s("log_auto_initialize", BOOL, "true"),
    _s("authenticate_frameworks", BOOL, "false", ("authenticate",)),
    _s("authenticate_agents", BOOL, "false", ("authenticate_slaves",)),
    _s("authenticate_http_frameworks", BOOL, "false"),
    _s("http_framework_authenticators"),
    _s("credentials", PATH),
    _s("authenticators", STR, "crammd5"),
    _s("authentication_v0_timeout", DUR, "15secs"),
    _s("acls"),
    _s("authorizers", STR, "local"),
    _s("agent_ping_timeout", DUR, "15secs", ("slave_ping_timeout",)),
    _s("max_agent_ping_timeouts", INT, "5", ("max_slave_ping_timeouts",)),
    _s("agent_reregister_timeout", DUR, "10mins", ("slave_reregister_timeout",)),
    _s("agent_removal_rate_limit", STR, None, ("slave_removal_rate_limit",)),
    _s("recovery_agent_removal_limit", STR, "100%", ("recovery_slave_removal_limit",)),
    _s("offer_timeout", DUR),
    _s("max_completed_frameworks", INT, "50"),
    _s("max_completed_tasks_per_framework", INT, "1000"),
    _s("max_unreachable_tasks_per_framework", INT, "1000"),
    _s("max_operator_event_stream_subscribers", INT, "1000"),
    _s("publish_per_framework_metrics", BOOL, "true"),
    _s("roles"), _s("weights"), _s("whitelist"),
    _s("rate_limits"),
    _s("allocator", STR, "hierarchical"),
    _s("allocation_interval", DUR, "1secs"),
    _s("framework_sorter", STR, "drf"),
    _s("role_sorter", STR, "drf"),
    _s("fair_sharing_excluded_resource_names"),
    _s("filter_gpu_resources", BOOL, "true"),
    _s("min_allocatable_resources", STR, "cpus:0.01|mem:32"),
    _s("root_submissions", BOOL, "true"),
    _s("require_agent_domain", BOOL, "false"),
    _s("master_contender"), _s("master_detector"),
    _s("webui_dir", STR, "/usr/share/mesos/webui"),
    _s("offer_constraints_re2_max_mem", BYTES, "4KB"),
    _s("offer_constraints_re2_max_program_size", INT, "100"),
]

AGENT = _COMMON + [
    _s("port", INT, "5051"),
    _s("master", SECURE),
    _s("master_detector"),
    _s("work_dir", required=True),
    _s("runtime_dir", STR, "/var/run/mesos"),
    _s("resources"),
    _s("attributes"),
    _s("containerizers", STR, "mesos"),
    _s("isolation", STR, "posix/cpu,posix/mem"),
    _s("launcher", STR, "linux"),
    _s("launcher_dir", STR, "/usr/libexec/mesos"),
    _s("credential", PATH),
    _s("http_credentials", PATH),
    _s("authenticatee", STR, "crammd5"),
    _s("authentication_backoff_factor", DUR, "1secs"),
    _s("authentication_timeout_min", DUR, "5secs"),
    _s("authentication_timeout_max", DUR, "1mins"),
    _s("authenticate_http_executors", BOOL, "false"),
    _s("acls"), _s("authorizer", STR, "local"),
    _s("systemd_enable_support", BOOL, "true"),
    _s("systemd_runtime_directory", STR, "/run/systemd/system"),
    _s("executor_registration_timeout", DUR, "1mins"),
    _s("executor_reregistration_timeout", DUR, "2secs"),
    _s("executor_reregistration_retry_interval", DUR),
    _s("executor_shutdown_grace_period", DUR, "5secs"),
    _s("executor_environment_variables"),
    _s("recover", STR, "reconnect"),
    _s("recovery_timeout", DUR, "15mins"),
    _s("strict", BOOL, "true"),
    _s("registration_backoff_factor", DUR, "1secs"),
    _s("switch_user", BOOL, "true"),
    _s("docker", STR, "docker"),
    _s("docker_config"),
    _s("docker_kill_orphans", BOOL, "true"),
    _s("docker_mesos_image"),
    _s("docker_registry", STR, "https://registry-1.docker.io"),
    _s("docker_remove_delay", DUR, "6hrs"),
    _s("docker_socket", STR, "/var/run/docker.sock"),
    _s("docker_stop_timeout", DUR, "0ns"),
    _s("docker_store_dir", STR, "/tmp/mesos/store/docker"),
    _s("docker_volume_checkpoint_dir", STR, "/var/run/mesos/isolators/docker/volume"),
    _s("docker_ignore_runtime", BOOL, "false"),
    _s("sandbox_directory", STR, "/mnt/mesos/sandbox"),
    _s("default_role", STR, "*"),
    _s("frameworks_home"),
    _s("hadoop_home"),
    _s("gc_delay", DUR, "1weeks"),
    _s("gc_disk_headroom", FLOAT, "0.1"),
    _s("gc_non_executor_container_sandboxes", BOOL, "false"),
    _s("disk_watch_interval", DUR, "1mins"),
    _s("container_disk_watch_interval", DUR, "15secs"),
    _s("enforce_container_disk_quota", BOOL, "false"),
    _s("cgroups_hierarchy", STR, "/sys/fs/cgroup"),
    _s("cgroups_root", STR, "mesos"),
    _s("cgroups_enable_cfs", BOOL, "false"),
    _s("cgroups_limit_swap", BOOL, "false"),
    _s("cgroups_cpu_enable_pids_and_tids_count", BOOL, "false"),
    _s("image_providers"), _s("image_provisioner_backend"),
    _s("appc_store_dir", STR, "/tmp/mesos/store/appc"),
    _s("fetcher_cache_dir", STR, "/tmp/mesos/fetch"),
    _s("fetcher_cache_size", BYTES, "2GB"),
    _s("fetcher_stall_timeout", DUR, "1mins"),
    _s("max_completed_executors_per_framework", INT, "150"),
    _s("oversubscribed_resources_interval", DUR, "15secs"),
    _s("qos_correction_interval_min", DUR, "0ns"),
    _s("resource_estimator"), _s("qos_controller"),
    _s("revocable_cpu_low_priority", BOOL, "true"),
    _s("network_cni_config_dir"), _s("network_cni_plugins_dir"),
    _s("http_heartbeat_interval", DUR, "30secs"),
    _s("http_command_executor", BOOL, "false"),
    _s("reconfiguration_policy", STR, "equal"),
    _s("container_logger"),
    _s("default_container_info"), _s("default_container_dns"),
    _s("xfs_project_range", STR, "[5000-10000]"),
    _s("agent_features"), _s("volume_gid_range"),
    _s("jwt_secret_key"),
    _s("nvidia_gpu_devices"),
]

_BYTE_UNITS = [("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10), ("B", 1)]


def _parse_bytes(text):
    for unit, factor in _BYTE_UNITS:
        if text.endswith(unit):
            num = text[: -len(unit)]
            try:
                return int(float(num) * factor)
            except ValueError:
                break
    raise ValueError("Invalid bytes '%s'" % text)


def _format_bytes(value):
    for unit, factor in _BYTE_UNITS:
        if value >= factor and value % factor == 0:
            return "%d%s" % (value // factor, unit)
    return "%dB" % value


def _parse_bool(text):
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValueError("Expecting a boolean (e.g., true or false)")


def _read_file(path):
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError as exc:
        raise ValueError("Error reading file '%s': %s" % (path, exc.strerror or exc))


def convert(spec, raw):
    """Return (typed value, display string) for a raw string value."""
    kind = spec.kind
    if kind == PATH:
        path = raw[len("file://"):] if raw.startswith("file://") else raw
        return path, path
    display = raw
    text = raw
    if raw.startswith("file://"):
        text = _read_file(raw[len("file://"):])
        if kind != SECURE:
            display = None  # recomputed below from the contents
    try:
        if kind == BOOL:
            value = _parse_bool(text.strip() if raw.startswith("file://") else text)
            return value, "true" if value else "false"
        if kind == INT:
            t = text.strip()
            if not t or not (t.lstrip("-").isdigit()):
                raise ValueError("Failed to convert '%s' to number" % t)
            value = int(t)
            return value, str(value)
        if kind == FLOAT:
            value = float(text.strip())
            return value, "%.15g" % value
        if kind == DUR:
            value = durations.parse(text.strip() if raw.startswith("file://") else text)
            return value, durations.format(value)
        if kind == BYTES:
            value = _parse_bytes(text.strip())
            return value, _format_bytes(value)
    except ValueError as exc:
        raise ValueError("Failed to load value '%s': %s" % (text, exc))
    # STR / SECURE
    return text, (display if display is not None else text)


class Flags:
    """Loaded flags: attribute access to typed values (None when unset)."""

    def __init__(self, specs):
        self._specs = {s.name: s for s in specs}
        self._values = {}
        self._display = {}
        self._loaded = {}
        for s in specs:
            if s.default is not None:
                v, d = convert(s, s.default)
                self._values[s.name] = v
                self._display[s.name] = d

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._specs:
            raise AttributeError(name)
        return self._values.get(name)

    def is_set(self, name):
        return name in self._loaded

    def display(self):
        """{name: string} of every flag that has a value (the /flags body)."""
        return dict(sorted(self._display.items()))


def load(specs, argv, environ=None, prefix="MESOS_"):
    """Load flags; returns (Flags, warnings).  Raises FlagError(message)."""
    if environ is None:
        environ = os.environ
    flags = Flags(specs)
    by_name = flags._specs
    alias_of = {}
    for s in specs:
        for a in s.aliases:
            alias_of[a] = s.name

    def known(name):
        if name in by_name or name in alias_of:
            return True
        return name.startswith("no-") and (name[3:] in by_name or name[3:] in alias_of)

    # Environment first (known flags only).
    env_values = {}
    for key, value in environ.items():
        if key.startswith(prefix):
            name = key[len(prefix):].lower()
            if known(name):
                env_values[name] = value

    # Command line.
    cli_values = {}
    args = list(argv)
    for arg in args:
        arg = arg.strip()
        if arg == "--":
            break
        if not arg.startswith("--"):
            continue  # skipped (stout collects it as an extra argument)
        eq = arg.find("=")
        if eq == -1:
            name, value = arg[2:], None
        else:
            name, value = arg[2:eq], arg[eq + 1:]
        name = name.lower()
        if name in cli_values or (name.startswith("no-") and name[3:] in cli_values):
            raise FlagError("Duplicate flag '%s' on command line" % name)
        cli_values[name] = value

    warnings = []

    def apply(values, source_is_env):
        loaded_here = {}
        for name, value in sorted(values.items()):  # stout iterates a std::map
            negated = False
            flag_name = name
            if flag_name not in by_name and flag_name not in alias_of:
                if flag_name.startswith("no-") and (
                        flag_name[3:] in by_name or flag_name[3:] in alias_of):
                    flag_name = flag_name[3:]
                    negated = True
                else:
                    raise FlagError("Failed to load unknown flag '%s'" % flag_name)
            canonical = alias_of.get(flag_name, flag_name)
            spec = by_name[canonical]
            if spec.kind == BOOL:
                if value is None or value == "":
                    raw = "false" if negated else "true"
                elif negated:
                    raise FlagError(
                        "Failed to load boolean flag '%s' via '%s' with value '%s'"
                        % (canonical, name, value))
                else:
                    raw = value
            else:
                if negated:
                    raise FlagError("Failed to load non-boolean flag '%s' via '%s'"
                                    % (canonical, name))
                if value is None:
                    raise FlagError("Failed to load non-boolean flag '%s': Missing value"
                                    % canonical)
                raw = value
            if canonical in loaded_here and loaded_here[canonical] != flag_name:
                raise FlagError("Flag '%s' is already loaded via name '%s'"
                                % (canonical, loaded_here[canonical]))
            try:
                typed, shown = convert(spec, raw)
            except ValueError as exc:
                raise FlagError("Failed to load flag '%s': %s" % (canonical, exc))
            loaded_here[canonical] = flag_name
            flags._values[canonical] = typed
            flags._display[canonical] = shown
            flags._loaded[canonical] = flag_name
            if flag_name in alias_of:
                warnings.append("Loaded deprecated flag '%s'" % flag_name)

    try:
        apply(env_values, True)
        apply(cli_values, False)
        for s in specs:
            if s.required and s.name not in flags._loaded:
                raise FlagError("Flag '%s' is required, but it was not provided" % s.name)
    except FlagError as exc:
        exc.flags = flags
        raise
    return flags, warnings


def usage(program, specs):
    lines = ["Usage: %s [options]" % program, ""]
    for s in sorted(specs, key=lambda x: x.name):
        if s.kind == BOOL:
            left = "  --[no-]%s" % s.name
        else:
            left = "  --%s=VALUE" % s.name
        extra = " (default: %s)" % s.default if s.default is not None else ""
        lines.append(left + extra)
    lines.append("")
    lines.append("NOTE: this is the Mesos protocol double used for tests, not Apache Mesos.")
    return "\n".join(lines)
