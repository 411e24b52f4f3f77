"""Filters for the zookeeper role: ensemble membership, myid assignment, timing and restart order.

Pure functions, so the rules that keep an ensemble consistent are unit-tested
(tests/unit/zookeeper/test_zookeeper_filters.py) and give the same message everywhere.
Validation functions return a list of error messages (empty when all is well); the role
asserts on that list before any host is changed.
"""
from __future__ import annotations

import base64
import hashlib
import re
from typing import Any, Iterable, Mapping

DOCUMENTATION = """
name: zookeeper
short_description: Validation and derived values for the zookeeper role
description:
  - zookeeper_members - the group's members as dicts (host, address, id) read from hostvars.
  - zookeeper_inventory_errors - messages for an ensemble size or explicit ids that cannot work.
  - zookeeper_assign_ids - host -> myid, keeping ids already persisted on the hosts.
  - zookeeper_id_errors - messages for persisted or explicit ids that conflict.
  - zookeeper_timing_errors - messages when a leader change could outlast the clients' session.
  - zookeeper_failover_bound_ms - worst-case time until a new leader serves (ms).
  - zookeeper_parse_myid - the integer in a myid file's content, or None.
  - zookeeper_restart_order - members to restart, followers first and the leader last.
  - zookeeper_digest - the digest-scheme id C(user:base64(sha1(user:password))) for ACLs and superDigest.
  - zookeeper_protected_path_errors - messages for a malformed zookeeper_protected_paths list.
  - zookeeper_acl_paths - the protected paths as [{path, digest}] for the ACL tool.
  - zookeeper_parse_security - the quorum security settings found in a (running) member's zoo.cfg.
  - zookeeper_security_phase - the quorum SASL/TLS settings to render now, stepping a running
    ensemble through the migration phases that keep its quorum.
"""

MIN_ID = 1
MAX_ID = 255
SERVING_MODES = ("leader", "follower", "standalone")


def _as_id(value: Any) -> int | None:
    """An integer id from an int or a string of digits; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def zookeeper_members(hosts: Iterable[str], hostvars: Mapping[str, Any]) -> list[dict]:
    """The group's members in inventory order: host, address (zookeeper_address or the host
    name) and the explicit zookeeper_id (None when unset). Reads hostvars only (no host contact)."""
    members = []
    for host in hosts:
        hv = hostvars[host] if host in hostvars else {}
        address = hv.get("zookeeper_address") or host
        members.append({"host": host, "address": str(address), "id": hv.get("zookeeper_id")})
    return members


def zookeeper_inventory_errors(members: list[dict], allow_single_node: bool = False,
                               group: str = "zookeeper") -> list[str]:
    """Why this membership cannot form a safe ensemble (size, explicit ids); [] when it can."""
    errors: list[str] = []
    names = ", ".join(m["host"] for m in members)
    count = len(members)
    if count == 0:
        errors.append(f"{group} group is empty; list 3 (or 5) hosts in it, or set zookeeper_group "
                      f"to the group that holds the ensemble.")
    elif count == 1 and not allow_single_node:
        errors.append(f"{group} group has 1 member ({names}), which is not highly available; list 3 "
                      f"(or 5) hosts, or set zookeeper_allow_single_node: true for a test setup.")
    elif count > 1 and count % 2 == 0:
        errors.append(f"{group} group has {count} members ({names}); an ensemble needs an odd number "
                      f"(3, 5, 7): {count} members tolerate no more failures than {count - 1}. "
                      f"Add or remove one host.")
    if count > MAX_ID:
        errors.append(f"{group} group has {count} members; myid is limited to {MIN_ID}-{MAX_ID}.")
    seen: dict[int, str] = {}
    for m in members:
        raw = m.get("id")
        if raw is None or raw == "":
            continue
        value = _as_id(raw)
        if value is None or not MIN_ID <= value <= MAX_ID:
            errors.append(f"{m['host']}: zookeeper_id={raw!r} is not an integer in {MIN_ID}-{MAX_ID}; "
                          f"set zookeeper_id to a unique integer from {MIN_ID} to {MAX_ID} "
                          f"(or unset it to derive one).")
            continue
        if value in seen:
            errors.append(f"{m['host']}: zookeeper_id={value} is already used by {seen[value]}; every "
                          f"member needs a unique zookeeper_id. Change it on one of the two hosts.")
        else:
            seen[value] = m["host"]
    return errors


def zookeeper_parse_myid(content: Any) -> int | None:
    """The id in a myid file ('3\\n' -> 3); None for a missing file, Debian's placeholder text or
    anything outside 1-255."""
    if content is None:
        return None
    value = _as_id(str(content).strip())
    if value is None or not MIN_ID <= value <= MAX_ID:
        return None
    return value


def zookeeper_id_errors(members: list[dict], existing: Mapping[str, Any],
                        myid_path: str = "/var/lib/zookeeper/myid") -> list[str]:
    """Conflicts between explicit ids and ids already persisted on the hosts (existing: host ->
    id or None). A persisted id always wins: renumbering a member corrupts the ensemble."""
    errors: list[str] = []
    owner: dict[int, str] = {}
    for m in members:
        host = m["host"]
        persisted = zookeeper_parse_myid(existing.get(host))
        explicit = _as_id(m.get("id")) if m.get("id") not in (None, "") else None
        if persisted is not None and explicit is not None and persisted != explicit:
            errors.append(f"{host}: zookeeper_id={explicit} but {myid_path} on the host already holds "
                          f"{persisted}; a member is never renumbered. Set zookeeper_id: {persisted} for "
                          f"{host}, or wipe its data directory and myid to rejoin it as {explicit}.")
        value = persisted if persisted is not None else explicit
        if value is None:
            continue
        if value in owner:
            errors.append(f"{host}: myid {value} is already held by {owner[value]} (persisted or explicit "
                          f"ids must be unique); set a different zookeeper_id on one of them.")
        else:
            owner[value] = host
    return errors


def zookeeper_assign_ids(members: list[dict], existing: Mapping[str, Any] | None = None) -> dict[str, int]:
    """host -> myid. Order of precedence: the id persisted on the host, the explicit zookeeper_id,
    then the smallest free id, handed out in sorted host-name order. So adding a host or
    reordering the inventory never renumbers an existing member. Call after the *_errors checks."""
    existing = existing or {}
    ids: dict[str, int] = {}
    for m in members:
        persisted = zookeeper_parse_myid(existing.get(m["host"]))
        explicit = _as_id(m.get("id")) if m.get("id") not in (None, "") else None
        chosen = persisted if persisted is not None else explicit
        if chosen is not None:
            ids[m["host"]] = chosen
    used = set(ids.values())
    free = (i for i in range(MIN_ID, MAX_ID + 1) if i not in used)
    for host in sorted(m["host"] for m in members if m["host"] not in ids):
        ids[host] = next(free)
    return ids


def zookeeper_failover_bound_ms(tick_ms: int, init_limit: int, sync_limit: int, margin_ms: int) -> int:
    """Worst case from a leader's loss until a new leader serves: followers notice a silent leader
    after syncLimit ticks, the new leader waits at most initLimit ticks for a quorum to sync, plus
    a margin for the election itself (FastLeaderElection's 200 ms finalize wait, TCP, JVM)."""
    return (int(sync_limit) + int(init_limit)) * int(tick_ms) + int(margin_ms)


def zookeeper_timing_errors(tick_ms: int, init_limit: int, sync_limit: int, margin_ms: int,
                            session_timeout_ms: int) -> list[str]:
    """Why these timings could let a ZooKeeper leader change outlast the clients' (Mesos masters')
    session, which would expire every master's session at once (a failover cascade)."""
    errors: list[str] = []
    bound = zookeeper_failover_bound_ms(tick_ms, init_limit, sync_limit, margin_ms)
    if bound >= int(session_timeout_ms):
        errors.append(
            f"(zookeeper_sync_limit {sync_limit} + zookeeper_init_limit {init_limit}) x "
            f"zookeeper_tick_time_ms {tick_ms} + zookeeper_election_margin_ms {margin_ms} = {bound} ms, "
            f"not below the clients' session timeout zookeeper_client_session_timeout_ms "
            f"{session_timeout_ms} ms: a leader change could expire every Mesos master's session. Lower "
            f"the limits or tickTime, or raise the masters' --zk_session_timeout and this variable.")
    low, high = 2 * int(tick_ms), 20 * int(tick_ms)
    if not low <= int(session_timeout_ms) <= high:
        errors.append(
            f"zookeeper_client_session_timeout_ms {session_timeout_ms} ms is outside the range ZooKeeper "
            f"grants with tickTime {tick_ms} ms ({low}-{high} ms, i.e. 2-20 ticks); the server would clamp "
            f"the masters' session. Adjust zookeeper_tick_time_ms.")
    return errors


def zookeeper_restart_order(hosts: Iterable[str], modes: Mapping[str, str]) -> list[str]:
    """Hosts to restart, one at a time: followers (and members in any other state) first, in
    host-name order, the leader last, so the ensemble holds at most one election."""
    hosts = sorted(set(hosts))
    leaders = [h for h in hosts if modes.get(h) == "leader"]
    return [h for h in hosts if h not in leaders] + leaders


def zookeeper_digest(username: str, password: str) -> str:
    """The digest-scheme id ZooKeeper stores for user:password: ``user:base64(sha1(user:password))``.

    Used for ACL entries (``digest:<id>:cdrwa``) and for
    ``zookeeper.DigestAuthenticationProvider.superDigest`` (user ``super``).
    """
    if not isinstance(username, str) or not username or ":" in username:
        raise ValueError("zookeeper_digest: the user name must be a non-empty string without ':'")
    if not isinstance(password, str) or not password:
        raise ValueError(f"zookeeper_digest: the password of {username} is empty")
    digest = hashlib.sha1(f"{username}:{password}".encode("utf-8")).digest()  # noqa: S324 (ZooKeeper's scheme)
    return f"{username}:{base64.b64encode(digest).decode('ascii')}"


_ZNODE_PATH = re.compile(r"^(/[^/\x00]+)+$")


def zookeeper_protected_path_errors(paths: Any) -> list[str]:
    """Messages for a zookeeper_protected_paths value that cannot work (never echoing passwords).
    Password quality is checked separately (mesos_ha_secret_problems)."""
    if not isinstance(paths, list):
        return [f"zookeeper_protected_paths must be a list of {{path, username, password}}, got {type(paths).__name__}"]
    errors: list[str] = []
    seen: set[str] = set()
    passwords: dict[str, Any] = {}
    for index, item in enumerate(paths):
        where = f"zookeeper_protected_paths[{index}]"
        if not isinstance(item, Mapping):
            errors.append(f"{where} must be a dict with path, username and password")
            continue
        missing = [key for key in ("path", "username", "password") if key not in item]
        if missing:
            errors.append(f"{where} lacks {', '.join(missing)}")
            continue
        path = item["path"]
        if not isinstance(path, str) or not _ZNODE_PATH.match(path) or path.startswith("/zookeeper"):
            errors.append(f"{where}.path {path!r} must be an absolute znode path without a trailing '/', "
                          f"outside /zookeeper (e.g. /mesos)")
        elif path in seen:
            errors.append(f"{where}.path {path} is listed twice")
        seen.add(str(path))
        username = item["username"]
        if not isinstance(username, str) or not re.match(r"^[A-Za-z0-9_.-]+$", username) or username == "super":
            errors.append(f"{where}.username {username!r} must be letters, digits, '_', '.' or '-' "
                          f"(no ':'), and not 'super'")
        elif passwords.setdefault(username, item["password"]) != item["password"]:
            errors.append(f"{where}: user {username} is listed with two different passwords")
    return errors


def zookeeper_acl_paths(paths: Iterable[Mapping[str, str]]) -> list[dict[str, str]]:
    """zookeeper_protected_paths as the ACL tool's request: [{path, digest}] (no plaintext password)."""
    return [{"path": item["path"], "digest": zookeeper_digest(item["username"], item["password"])}
            for item in paths]


_SECURITY_KEYS = {
    "quorum.auth.enableSasl": "sasl",
    "quorum.auth.learnerRequireSasl": "sasl_learner_required",
    "quorum.auth.serverRequireSasl": "sasl_server_required",
    "sslQuorum": "ssl",
    "portUnification": "unification",
}


def zookeeper_parse_security(text: str) -> dict[str, bool]:
    """The quorum security settings in a zoo.cfg's text (absent keys are ZooKeeper's default, false)."""
    found = {name: False for name in _SECURITY_KEYS.values()}
    for raw in (text or "").splitlines():
        key, sep, value = raw.strip().partition("=")
        if sep and key.strip() in _SECURITY_KEYS:
            found[_SECURITY_KEYS[key.strip()]] = value.strip().lower() == "true"
    return found


def zookeeper_security_phase(running: Iterable[Mapping[str, bool]], auth_enabled: bool,
                             auth_required: bool, tls_enabled: bool) -> dict[str, bool]:
    """The quorum security settings to render in this run.

    ``running`` holds zookeeper_parse_security() of every member that is running now (empty for
    a fresh ensemble, which starts with the target settings at once). A running ensemble is
    stepped through settings under which restarted and not-yet-restarted members still form a
    quorum, one step per run (each step is one rolling restart):

    * SASL on: enableSasl with the Require flags off while any running member has no SASL, then
      the Require flags. SASL off: the Require flags off first, then enableSasl off.
    * TLS (sslQuorum) on or off: portUnification on (members accept TLS and plain), then
      sslQuorum switched with portUnification still on, then portUnification off.

    ``final`` is false while a further run is needed to reach the target.
    """
    running = list(running)
    if not running:
        return {"sasl": auth_enabled, "sasl_required": auth_enabled and auth_required,
                "ssl": tls_enabled, "unification": False, "final": True}
    if auth_enabled:
        sasl = True
        sasl_required = auth_required and all(m.get("sasl") for m in running)
    else:
        still_required = any(m.get("sasl_learner_required") or m.get("sasl_server_required") for m in running)
        sasl = still_required
        sasl_required = False
    ssl_now = {bool(m.get("ssl")) for m in running}
    if ssl_now == {tls_enabled}:
        ssl, unification = tls_enabled, False
    elif all(m.get("unification") for m in running):
        ssl, unification = tls_enabled, True
    else:
        ssl, unification = (not tls_enabled) if len(ssl_now) == 1 else tls_enabled, True
    target = {"sasl": auth_enabled, "sasl_required": auth_enabled and auth_required,
              "ssl": tls_enabled, "unification": False}
    phase = {"sasl": sasl, "sasl_required": sasl_required, "ssl": ssl, "unification": unification}
    phase["final"] = phase == target
    return phase


class FilterModule:
    """Ansible entry point."""

    def filters(self):
        return {
            "zookeeper_members": zookeeper_members,
            "zookeeper_inventory_errors": zookeeper_inventory_errors,
            "zookeeper_assign_ids": zookeeper_assign_ids,
            "zookeeper_id_errors": zookeeper_id_errors,
            "zookeeper_timing_errors": zookeeper_timing_errors,
            "zookeeper_failover_bound_ms": zookeeper_failover_bound_ms,
            "zookeeper_parse_myid": zookeeper_parse_myid,
            "zookeeper_restart_order": zookeeper_restart_order,
            "zookeeper_digest": zookeeper_digest,
            "zookeeper_protected_path_errors": zookeeper_protected_path_errors,
            "zookeeper_acl_paths": zookeeper_acl_paths,
            "zookeeper_parse_security": zookeeper_parse_security,
            "zookeeper_security_phase": zookeeper_security_phase,
        }
