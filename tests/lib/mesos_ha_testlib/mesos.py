"""Mesos helpers for the scenarios' behavioural tests (pytest, on the controller).

* hosts of a group and their container addresses (``hosts.find_hosts``: inventory + docker inspect);
* HTTP(S) GETs (CA-verified, Basic auth as configured) that never follow redirects, ``/metrics/snapshot``, ``/flags``, the leader;
* znodes (data and stat) read with kazoo from the scenario's own ZooKeeper members;
* ``ansible-playbook`` runs against the scenario's hosts (or a temporary inventory of the same
  containers) with the structured ``ansible.posix.json`` report, to tell which task failed and
  whether anything changed;
* file checksums, modes and process owners read inside the containers with ``docker exec``.

Only the scenario's own containers are contacted, always with timeouts; every wait is bounded.
"""
from __future__ import annotations

import base64
import http.client
import json
import os
import re
import ssl
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import yaml

from . import hosts as th
from . import zk as tzk

MASTER_PORT = 5050
AGENT_PORT = 5051
PROJECT_DIR = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY") or Path(__file__).resolve().parents[3])

Host = th.Host


# ------------------------------------------------------------------------------------------ hosts
def scenario_name() -> str:
    """The Molecule scenario under test ($MOLECULE_SCENARIO_NAME, default 'default')."""
    return os.environ.get("MOLECULE_SCENARIO_NAME", "default")


def inventory_file() -> Path:
    """The scenario's Molecule inventory ($MOLECULE_INVENTORY_FILE); raises when it is unset."""
    path = os.environ.get("MOLECULE_INVENTORY_FILE")
    if not path:
        raise RuntimeError("MOLECULE_INVENTORY_FILE is not set: run the tests through `molecule verify`")
    return Path(path)


def group_hosts(group: str, scenario: str | None = None) -> list[Host]:
    """The hosts of an inventory group with their containers and addresses, sorted by name."""
    return th.find_hosts(group, scenario or scenario_name(), str(inventory_file()))


def by_hostname(hosts: Sequence[Host], hostname: str) -> Host:
    """The host whose inventory name (= container hostname) is `hostname`; KeyError otherwise."""
    for host in hosts:
        if host.name == hostname:
            return host
    raise KeyError(f"no host named {hostname!r} among {[h.name for h in hosts]}")


# ------------------------------------------------------------------------------------------- HTTP
@dataclass(frozen=True)
class HttpResponse:
    """A response as received: status, headers (lower-case names) and body; never redirected."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body.decode("utf-8"))


@dataclass(frozen=True)
class HttpSettings:
    """How the tests talk to Mesos: scheme, the CA that verifies the servers, Basic credentials."""

    scheme: str = "http"
    ca_file: str | None = None
    credentials: tuple[str, str] | None = None


_SETTINGS = HttpSettings()
_CONFIGURED = object()  # sentinel: "use the configured credentials"


def configure_http(settings: HttpSettings) -> None:
    """Set the scheme, CA and credentials every later request uses (conftest does it once)."""
    global _SETTINGS  # noqa: PLW0603 - one cluster per test session
    _SETTINGS = settings


def http_settings() -> HttpSettings:
    """The settings configure_http() set (plain http without credentials by default)."""
    return _SETTINGS


def scenario_values(roles: Sequence[str] = ("mesos_common", "mesos_master", "mesos_agent")) -> dict[str, Any]:
    """The roles' defaults overlaid with the scenario's group_vars (all, then the Mesos groups'):
    the plain YAML values the scenario's hosts are configured with."""
    merged: dict[str, Any] = {}
    for role in roles:
        defaults = PROJECT_DIR / "roles" / role / "defaults" / "main.yml"
        merged.update(yaml.safe_load(defaults.read_text(encoding="utf-8")) or {})
    directory = inventory_file().parent / "group_vars"
    for name in ("all", "mesos_masters", "mesos_agents"):
        # group_vars/<group>.yml, or every file of group_vars/<group>/ in name order (as Ansible reads them).
        candidates = [directory / f"{name}.yml"] + sorted((directory / name).glob("*.yml"))
        for candidate in candidates:
            if candidate.is_file():
                merged.update(yaml.safe_load(candidate.read_text(encoding="utf-8")) or {})
    return merged


def settings_from_scenario(values: Mapping[str, Any], cache: str | Path | None = None) -> HttpSettings:
    """HttpSettings for a scenario whose role defaults + group_vars are `values`.

    TLS and authentication follow mesos_common_tls_enabled / mesos_common_auth_enabled (on by
    default). The CA is $MESOS_HA_CA_FILE, or ca.crt of the sandbox pki_ca_dir ($MESOS_HA_CACHE/pki);
    the operator's secret is $MESOS_HA_CACHE/secrets/mesos_operator (tools/bootstrap.sh makes it).
    """
    cache_dir = Path(cache or os.environ.get("MESOS_HA_CACHE") or PROJECT_DIR / ".cache")
    tls = bool(values.get("mesos_common_tls_enabled", True))
    auth = bool(values.get("mesos_common_auth_enabled", True))
    ca_file = os.environ.get("MESOS_HA_CA_FILE") or str(cache_dir / "pki" / "ca.crt")
    credentials = None
    if auth:
        secret = (cache_dir / "secrets" / "mesos_operator").read_text(encoding="utf-8").strip()
        credentials = (str(values.get("mesos_common_operator_principal", "mesos-ops")), secret)
    return HttpSettings("https" if tls else "http", ca_file if tls else None, credentials)


def ssl_context(ca_file: str | None) -> ssl.SSLContext:
    """A client context that verifies the server against `ca_file` (hostname/IP included)."""
    return ssl.create_default_context(cafile=ca_file)


def http_get(address: str, port: int, path: str, timeout: float = 5.0, *, auth: Any = _CONFIGURED,
             scheme: str | None = None) -> HttpResponse:
    """GET scheme://address:port/path once; a 3xx is returned as is (no redirect is followed).

    Scheme, CA and credentials come from configure_http(); `auth` overrides the credentials
    (None sends none, a (principal, secret) pair sends those) and `scheme` the scheme.
    """
    settings = _SETTINGS
    scheme = scheme or settings.scheme
    if scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            address, port, timeout=timeout, context=ssl_context(settings.ca_file))
    else:
        conn = http.client.HTTPConnection(address, port, timeout=timeout)
    credentials = settings.credentials if auth is _CONFIGURED else auth
    headers = {"Accept": "application/json"}
    if credentials:
        token = base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        return HttpResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, body)
    finally:
        conn.close()


def http_post_json(address: str, port: int, path: str, body: Any, timeout: float = 10.0, *,
                   auth: Any = _CONFIGURED) -> HttpResponse:
    """POST a JSON body (a v1 operator API call) once, with the configured scheme, CA and
    credentials (`auth` as in http_get); the answer is returned as is."""
    settings = _SETTINGS
    if settings.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            address, port, timeout=timeout, context=ssl_context(settings.ca_file))
    else:
        conn = http.client.HTTPConnection(address, port, timeout=timeout)
    credentials = settings.credentials if auth is _CONFIGURED else auth
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if credentials:
        token = base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    try:
        conn.request("POST", path, json.dumps(body), headers=headers)
        resp = conn.getresponse()
        data = resp.read(1 << 20)
        return HttpResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def get_json(address: str, port: int, path: str, timeout: float = 5.0) -> Any:
    """GET a JSON endpoint; raises AssertionError naming the URL unless the answer is 200."""
    resp = http_get(address, port, path, timeout)
    if resp.status != 200:
        raise AssertionError(f"GET {_SETTINGS.scheme}://{address}:{port}{path} answered {resp.status}: {resp.body[:200]!r}")
    return resp.json()


def metrics_snapshot(address: str, port: int = MASTER_PORT, timeout: float = 5.0) -> dict[str, float]:
    """The process's /metrics/snapshot (master or agent)."""
    return get_json(address, port, "/metrics/snapshot", timeout)


def flags(address: str, port: int = MASTER_PORT, timeout: float = 5.0) -> dict[str, str]:
    """The process's effective flags from /flags (values are strings, as Mesos shows them)."""
    return get_json(address, port, "/flags", timeout)["flags"]


def redirect_location(address: str, port: int = MASTER_PORT, timeout: float = 5.0) -> HttpResponse:
    """The master's answer to /redirect (307 with Location //host:port, or 503 without a leader)."""
    return http_get(address, port, "/redirect", timeout)


@dataclass(frozen=True)
class Leader:
    """The leading master: its host, and /master/state as the leader itself answers it."""

    host: Host
    state: Mapping[str, Any]

    @property
    def pid(self) -> str:
        """The leader's libprocess pid, master@ip:port."""
        return str(self.state["pid"])

    @property
    def id(self) -> str:  # noqa: A003 - the MasterInfo field's name
        """The leader's MasterInfo id."""
        return str(self.state["id"])


_LOCATION = re.compile(r"^//(?P<host>[^:/]+):(?P<port>\d+)(?P<path>/.*)?$")


def parse_location(location: str) -> tuple[str, int, str]:
    """'//node1:5050/master/state' -> ('node1', 5050, '/master/state'); ValueError otherwise."""
    match = _LOCATION.match(location or "")
    if not match:
        raise ValueError(f"not a Mesos redirect location: {location!r}")
    return match["host"], int(match["port"]), match["path"] or ""


def find_leader(masters: Sequence[Host], timeout: float = 5.0) -> Leader:
    """The master every master's /redirect points at, with its own /master/state.

    Raises LookupError (with each master's answer) unless all masters name the same leader,
    that leader is one of `masters`, and its /master/state says it leads (its pid is `leader`).
    """
    answers: dict[str, str] = {}
    for master in masters:
        try:
            resp = redirect_location(master.address, MASTER_PORT, timeout)
            answers[master.name] = (resp.headers.get("location", "") if resp.status == 307
                                    else f"HTTP {resp.status}")
        except OSError as exc:
            answers[master.name] = f"no answer ({exc})"
    targets = set(answers.values())
    if len(targets) != 1:
        raise LookupError(f"masters disagree about the leader: {answers}")
    try:
        hostname, _port, _path = parse_location(targets.pop())
        host = by_hostname(masters, hostname)
    except (ValueError, KeyError) as exc:
        raise LookupError(f"no leader among the masters: {answers} ({exc})") from exc
    state = get_json(host.address, MASTER_PORT, "/master/state", timeout)
    if state.get("leader") != state.get("pid"):
        raise LookupError(f"{hostname} is named leader by /redirect but its state says leader="
                          f"{state.get('leader')!r}, pid={state.get('pid')!r}")
    return Leader(host, state)


def registered_agents(masters: Sequence[Host], timeout: float = 5.0) -> dict[str, str]:
    """{agent hostname: agent id} of the agents the elected master lists as active: the only
    evidence of registration (an agent's own slave/registered is 1 once it detected a leader)."""
    leader = find_leader(masters, timeout)
    return {s["hostname"]: s["id"] for s in leader.state.get("slaves", []) if s.get("active")}


def wait_registered(masters: Sequence[Host], agent: str, timeout: float = 90.0) -> str:
    """Wait until the elected master lists `agent` (a hostname) as active; return its id."""
    deadline = time.monotonic() + timeout
    seen: Any = None
    while time.monotonic() < deadline:
        try:
            seen = registered_agents(masters)
            if agent in seen:
                return seen[agent]
        except (LookupError, OSError, AssertionError, http.client.HTTPException) as exc:
            seen = exc
        time.sleep(1.0)
    raise AssertionError(f"{agent} is not registered with the elected master after {timeout:.0f}s (last: {seen})")


def wait_for_leader(masters: Sequence[Host], timeout: float = 60.0, interval: float = 1.0) -> Leader:
    """find_leader() retried until it succeeds or `timeout` seconds pass (then LookupError)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return find_leader(masters)
        except (LookupError, OSError, AssertionError):
            if time.monotonic() >= deadline:
                raise
        time.sleep(interval)


# -------------------------------------------------------------------------------------- ZooKeeper
@dataclass(frozen=True)
class ZNode:
    """A znode's path, data and the stat fields the tests look at."""

    path: str
    data: bytes
    ephemeral_owner: int
    num_children: int

    @property
    def name(self) -> str:
        """The last path component."""
        return self.path.rsplit("/", 1)[-1]


@contextmanager
def zk_session(addresses: Sequence[str], timeout: float = 10.0) -> Iterator[Any]:
    """A started kazoo client to the given ZooKeeper members (port 2181), stopped on exit."""
    client = tzk.kazoo_client(addresses, timeout=timeout)
    try:
        yield client
    finally:
        client.stop()
        client.close()


def read_znode(client: Any, path: str) -> ZNode:
    """One znode with its data and stat."""
    data, stat = client.get(path)
    return ZNode(path, data or b"", int(stat.ephemeralOwner), int(stat.numChildren))


def read_children(client: Any, path: str) -> dict[str, ZNode]:
    """name -> ZNode for every child of `path`."""
    base = path.rstrip("/")
    return {name: read_znode(client, f"{base}/{name}") for name in sorted(client.get_children(path))}


def read_tree(addresses: Sequence[str], path: str) -> tuple[ZNode, dict[str, ZNode]]:
    """A znode and its children, read in one short session."""
    with zk_session(addresses) as client:
        return read_znode(client, path), read_children(client, path)


# ---------------------------------------------------------------------------- inside containers
def file_checksums(container: str, paths: Sequence[str]) -> dict[str, str]:
    """path -> sha256 of each file in the container ('missing' for a file that does not exist)."""
    script = 'for f in "$@"; do if [ -e "$f" ]; then sha256sum "$f"; else echo "missing $f"; fi; done'
    out = th.run_in(container, "sh", "-c", script, "sh", *paths).stdout
    sums: dict[str, str] = {}
    for line in out.splitlines():
        digest, _, path = line.partition(" ")
        sums[path.strip().lstrip("*")] = digest
    return sums


@dataclass(frozen=True)
class FileStat:
    """Mode bits and owner of a file."""

    mode: int
    owner: str
    group: str


def file_stat(container: str, path: str) -> FileStat:
    """The file's permission bits, owner and group names (stat inside the container)."""
    out = th.run_in(container, "stat", "-c", "%a %U %G", path).stdout.split()
    return FileStat(int(out[0], 8), out[1], out[2])


def read_file(container: str, path: str) -> str:
    """A file's content, read as root inside the container."""
    return th.run_in(container, "cat", path).stdout


def service_main_pid(container: str, unit: str) -> int:
    """The systemd unit's MainPID (0 when it does not run)."""
    return int(th.run_in(container, "systemctl", "show", "--property=MainPID", "--value", unit).stdout.strip() or 0)


def process_user(container: str, pid: int) -> str:
    """The effective user of a process, by name."""
    status = th.run_in(container, "cat", f"/proc/{pid}/status").stdout
    uid = next(line.split()[2] for line in status.splitlines() if line.startswith("Uid:"))
    return th.run_in(container, "id", "-nu", uid).stdout.strip()


def process_identity(container: str, pid: int) -> tuple[int, int]:
    """(pid, start time in clock ticks since boot): the same pair later means the same process,
    not one that reused the pid."""
    stat = th.run_in(container, "cat", f"/proc/{pid}/stat").stdout
    return pid, int(stat.rpartition(")")[2].split()[19])


def process_cmdline(container: str, pid: int) -> list[str]:
    """A process's argv."""
    raw = th.run_in(container, "cat", f"/proc/{pid}/cmdline").stdout
    return [arg for arg in raw.split("\0") if arg]


# --------------------------------------------------------------------------------- ansible-playbook
@dataclass(frozen=True)
class TaskRun:
    """One task of a playbook run: its play, name, source file, and the per-host results."""

    play: str
    play_path: str
    name: str
    path: str
    results: Mapping[str, Mapping[str, Any]]

    @property
    def failed_hosts(self) -> list[str]:
        """Hosts on which the task failed."""
        return sorted(h for h, r in self.results.items() if r.get("failed"))

    @property
    def source_file(self) -> str:
        """The task's file relative to the project ('playbooks/x.yml', 'roles/r/tasks/y.yml')."""
        file_part = self.path.rsplit(":", 1)[0] if re.search(r":\d+$", self.path) else self.path
        try:
            return str(Path(file_part).resolve().relative_to(PROJECT_DIR.resolve()))
        except ValueError:
            return file_part


@dataclass
class PlaybookRun:
    """What an ansible-playbook run returned: rc, raw output and the JSON report (if any)."""

    argv: list[str]
    rc: int
    stdout: str
    stderr: str
    report: dict[str, Any] | None = None
    tasks: list[TaskRun] = field(default_factory=list)

    @property
    def output(self) -> str:
        """stdout and stderr together (for messages and substring checks)."""
        return self.stdout + "\n" + self.stderr

    @property
    def failed_tasks(self) -> list[TaskRun]:
        """The tasks that failed on at least one host, in run order."""
        return [t for t in self.tasks if t.failed_hosts]

    def failure_messages(self) -> list[str]:
        """Every failed result's msg (and each failed loop item's), whitespace-normalised."""
        messages = []
        for task in self.failed_tasks:
            for result in task.results.values():
                if not result.get("failed"):
                    continue
                items = [i for i in result.get("results", []) if isinstance(i, dict) and i.get("failed")]
                messages += [" ".join(str(r.get("msg", "")).split()) for r in [result, *items]]
        return messages

    def changed(self) -> dict[str, int]:
        """host -> number of changed results, from the run's stats."""
        stats = (self.report or {}).get("stats", {})
        return {host: int(s.get("changed", 0)) for host, s in stats.items()}

    def summary(self) -> str:
        """A short description for assertion messages."""
        lines = [f"rc={self.rc} argv={' '.join(self.argv)}"]
        for task in self.tasks:
            flag = f" FAILED on {task.failed_hosts}" if task.failed_hosts else ""
            lines.append(f"  [{task.play}] {task.name} ({task.source_file}){flag}")
        lines += [f"  msg: {m}" for m in self.failure_messages()]
        if self.report is None:
            lines.append(f"  (no JSON report) stdout tail: {self.stdout[-1500:]}")
        lines.append(f"  stderr tail: {self.stderr[-1500:]}")
        return "\n".join(lines)


def _tasks_from_report(report: Mapping[str, Any]) -> list[TaskRun]:
    tasks = []
    for play in report.get("plays", []):
        for task in play.get("tasks", []):
            tasks.append(TaskRun(play["play"]["name"], play["play"].get("path", ""), task["task"]["name"],
                                 task["task"].get("path", ""), task.get("hosts", {})))
    return tasks


def run_playbook(playbook: str, inventory: str | Path | None = None,
                 extra_vars: Mapping[str, Any] | None = None, args: Sequence[str] = (),
                 env: Mapping[str, str] | None = None, timeout: float = 900) -> PlaybookRun:
    """Run ansible-playbook from the project root against the scenario's inventory (or `inventory`).

    The project's ansible.cfg, roles and filters are used; facts are cached in memory only
    (ANSIBLE_CACHE_PLUGIN=memory, so no stale facts leak between runs) and the report is the
    structured ansible.posix.json callback, parsed into `tasks`.
    """
    argv = ["ansible-playbook", "-i", str(inventory or inventory_file()), playbook]
    if extra_vars:
        argv += ["-e", json.dumps(dict(extra_vars))]
    argv += list(args)
    run_env = dict(os.environ)
    run_env.update({
        "ANSIBLE_CONFIG": str(PROJECT_DIR / "ansible.cfg"),
        "ANSIBLE_ROLES_PATH": str(PROJECT_DIR / "roles"),
        "ANSIBLE_FILTER_PLUGINS": str(PROJECT_DIR / "filter_plugins"),
        "ANSIBLE_CACHE_PLUGIN": "memory",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
    })
    run_env.update(env or {})
    proc = subprocess.run(argv, cwd=PROJECT_DIR, env=run_env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    run = PlaybookRun(argv, proc.returncode, proc.stdout, proc.stderr)
    # Callbacks enabled in ansible.cfg (profile_tasks) print around the JSON document, which
    # starts with a line holding only "{".
    match = re.search(r"^\{\s*$", proc.stdout, re.MULTILINE)
    if match:
        try:
            run.report, _ = json.JSONDecoder().raw_decode(proc.stdout[match.start():])
            run.tasks = _tasks_from_report(run.report)
        except json.JSONDecodeError:
            run.report = None
    return run


def write_inventory(directory: Path, groups: Mapping[str, Sequence[str]],
                    host_vars: Mapping[str, Mapping[str, Any]] | None = None,
                    scenario: str | None = None) -> Path:
    """A YAML inventory of the scenario's containers in `groups` (group -> host names).

    Hosts connect like Molecule's (community.docker.docker to '<scenario>-<host>'); the
    scenario's group_vars (the directory Molecule links next to its inventory) are linked in,
    so only the groups and the given host vars differ from the scenario. An empty list makes
    an empty group.
    """
    scenario = scenario or scenario_name()
    host_vars = host_vars or {}
    names = sorted({h for members in groups.values() for h in members} | set(host_vars))
    all_hosts = {name: {"ansible_connection": "community.docker.docker",
                        "ansible_host": th.container_for(name, scenario), **host_vars.get(name, {})}
                 for name in names}
    children = {group: {"hosts": {h: None for h in members}} for group, members in groups.items()}
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "hosts.yml"
    path.write_text(yaml.safe_dump({"all": {"hosts": all_hosts, "children": children}}, sort_keys=True),
                    encoding="utf-8")
    source = inventory_file().parent / "group_vars"
    if source.exists():
        (directory / "group_vars").symlink_to(source.resolve(), target_is_directory=True)
    return path
