"""ZooKeeper URL parsing, group membership and leader detection (Mesos rules).

Works with kazoo 2.9 (Debian bookworm python3-kazoo) and newer.
"""

import json
import logging
import threading
import time

MASTER_INFO_JSON_LABEL = "json.info"
MASTER_INFO_LABEL = "info"


class URLError(ValueError):
    pass


class URL:
    def __init__(self, servers, path, auth=None):
        self.servers = servers  # "h1:p1,h2:p2"
        self.path = path
        self.auth = auth  # "user:pass" (digest) or None

    def __str__(self):
        a = (self.auth + "@") if self.auth else ""
        return "zk://%s%s%s" % (a, self.servers, self.path)


def parse_url(text):
    """zookeeper::URL::parse: zk://[user:pass@]servers/path."""
    s = text.strip()
    scheme = "zk://"
    if not s.startswith(scheme):
        raise URLError("Expecting 'zk://' at the beginning of the URL")
    s = s[len(scheme):]
    auth = None
    at = s.rfind("@")
    if at != -1:
        auth = s[:at]
        s = s[at + 1:]
    index = s.find("/")
    if index == -1:
        raise URLError("Expecting a (chroot) path for ZooKeeper")
    servers = s[:index]
    path = s[index:]
    if path == "/":
        raise URLError("Expecting a (chroot) path for ZooKeeper ('/' is not supported)")
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/")
    return URL(servers, path, auth)


def parse_member(name):
    """Parse a group child name: returns (label or None, sequence) or None to skip."""
    tokens = [t for t in name.split("_") if t != ""]
    if not tokens:
        return None
    last = tokens[-1]
    if not (last.isascii() and last.isdigit()):
        return None
    label = "_".join(tokens[:-1]) if len(tokens) > 1 else None
    return label, int(last)


def select_leader(children):
    """Mesos leader rule: smallest sequence among parseable children.

    Returns (child name, label, sequence) or None."""
    best = None
    for child in children:
        parsed = parse_member(child)
        if parsed is None:
            continue
        label, seq = parsed
        if best is None or seq < best[2]:
            best = (child, label, seq)
    return best


class LeaderDataError(Exception):
    pass


def decode_leader(label, data):
    """Decode the leader's znode data per label; returns dict with 'pid' etc."""
    if label is None:
        pid = data.decode("utf-8", "replace").strip()
        return {"pid": pid}
    if label == MASTER_INFO_JSON_LABEL:
        try:
            return json.loads(data.decode("utf-8"))
        except ValueError as exc:
            raise LeaderDataError("Failed to parse JSON: %s" % exc)
    if label == MASTER_INFO_LABEL:
        raise LeaderDataError("Binary MasterInfo ('info' label) is not supported by the double")
    raise LeaderDataError("Failed to parse data of unknown label '%s'" % label)


def acls_for(url):
    from kazoo.security import OPEN_ACL_UNSAFE, make_acl
    if url.auth:
        # EVERYONE_READ_CREATOR_ALL
        return [make_acl("world", "anyone", read=True), make_acl("auth", "", all=True)]
    return list(OPEN_ACL_UNSAFE)


def make_client(url, session_timeout):
    from kazoo.client import KazooClient
    from kazoo.retry import KazooRetry
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)
    auth = [("digest", url.auth)] if url.auth else None
    return KazooClient(
        hosts=url.servers,
        timeout=float(session_timeout),
        auth_data=auth,
        default_acl=acls_for(url),
        connection_retry=KazooRetry(max_tries=-1, delay=0.2, backoff=1.5, max_delay=2.0),
        command_retry=KazooRetry(max_tries=3, delay=0.1, max_delay=1.0),
    )


class Session:
    """Wraps a kazoo client and adds Mesos' local session-expiry timer.

    Mesos' Group starts a timer of the session timeout when disconnected; if
    still disconnected when it fires the session is treated as expired.  The
    on_expired callback is called for both local and server-confirmed expiry.
    """

    def __init__(self, url, session_timeout, log, on_expired, wake):
        self.url = url
        self.timeout = float(session_timeout)
        self.log = log
        self.on_expired = on_expired
        self.wake = wake
        self.client = make_client(url, session_timeout)
        self._disconnected_since = None
        self._generation = 0  # bumps every time the session is considered expired
        self._expired_pending = False
        self._lock = threading.Lock()
        self.session_id = 0
        self.client.add_listener(self._listener)

    def start(self):
        self.client.start_async()
        t = threading.Thread(target=self._timer_loop, name="zk-expiry", daemon=True)
        t.start()

    @property
    def generation(self):
        return self._generation

    def connected(self):
        from kazoo.protocol.states import KazooState
        return self.client.state == KazooState.CONNECTED and not self._expired_pending

    def _listener(self, state):
        from kazoo.protocol.states import KazooState
        with self._lock:
            if state == KazooState.SUSPENDED:
                if self._disconnected_since is None:
                    self._disconnected_since = time.monotonic()
            elif state == KazooState.LOST:
                self._disconnected_since = None
                if not self._expired_pending:
                    self._expired_pending = True
                    self._generation += 1
                    threading.Thread(target=self.on_expired, args=(False,), daemon=True).start()
            elif state == KazooState.CONNECTED:
                self._disconnected_since = None
                try:
                    self.session_id = self.client.client_id[0]
                except (TypeError, IndexError):
                    pass
        self.wake()

    def _timer_loop(self):
        from kazoo.protocol.states import KazooState
        while True:
            time.sleep(0.1)
            fire = False
            with self._lock:
                since = self._disconnected_since
                if since is not None and time.monotonic() - since >= self.timeout:
                    self._disconnected_since = None
                    if not self._expired_pending:
                        self._expired_pending = True
                        self._generation += 1
                        fire = True
                if self._expired_pending and self.client.state == KazooState.CONNECTED:
                    # reconnected (with a new or the old session): resync
                    self._expired_pending = False
                    self.wake()
            if fire:
                sid = self.session_id
                self.log("W", "group.cpp", 492,
                         "Timed out waiting to connect to ZooKeeper. Forcing ZooKeeper "
                         "session (sessionId=%x) expiration" % sid)
                self.on_expired(True)
                self.wake()


def ensure_path(client, path):
    """Create path and parents as persistent nodes with empty data."""
    from kazoo.exceptions import NodeExistsError
    parts = [p for p in path.split("/") if p]
    cur = ""
    for p in parts:
        cur += "/" + p
        if client.exists(cur) is None:
            try:
                client.create(cur, b"")
            except NodeExistsError:
                pass
