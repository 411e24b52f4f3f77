"""ZooKeeper helpers: four-letter words, srvr parsing, kazoo clients and a quorum probe."""
from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable

SERVING = ("leader", "follower", "standalone")


@dataclass(frozen=True)
class Srvr:
    """What 'srvr' says: mode ('leader', 'follower', ..., 'not-serving' or 'down') and zxid."""

    mode: str
    zxid: int | None = None

    @property
    def serving(self) -> bool:
        return self.mode in SERVING


def four_letter_word(address: str, word: str, port: int = 2181, timeout: float = 2.0) -> str:
    """Send a four-letter word and return the whole answer (the server closes the connection)."""
    with socket.create_connection((address, port), timeout=timeout) as conn:
        conn.settimeout(timeout)
        conn.sendall(word.encode("ascii"))
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = conn.recv(4096)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def parse_srvr(text: str) -> Srvr:
    """Parse a 'srvr' answer; a server outside a quorum answers without a Mode line."""
    mode, zxid = "not-serving", None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Mode":
            mode = value.strip()
        elif key.strip() == "Zxid":
            zxid = int(value.strip(), 16)
    return Srvr(mode, zxid)


def srvr(address: str, port: int = 2181, timeout: float = 2.0) -> Srvr:
    """The member's srvr state; mode 'down' when it does not answer."""
    try:
        return parse_srvr(four_letter_word(address, "srvr", port, timeout))
    except OSError:
        return Srvr("down")


def has_quorum(states: Iterable[Srvr], members: int) -> bool:
    """The ensemble serves: exactly one leader and a majority of members leading or following."""
    states = list(states)
    leaders = sum(1 for s in states if s.mode == "leader")
    serving = sum(1 for s in states if s.mode in ("leader", "follower"))
    if members == 1:
        return any(s.mode == "standalone" for s in states)
    return leaders == 1 and serving >= members // 2 + 1


def kazoo_client(addresses: Iterable[str], port: int = 2181, timeout: float = 10.0, **kwargs):
    """A started kazoo client for the given members (caller stops it). Retries are bounded."""
    from kazoo.client import KazooClient  # imported here: only the integration tests need kazoo

    hosts = ",".join(f"{a}:{port}" for a in addresses)
    client = KazooClient(hosts=hosts, timeout=timeout,
                         connection_retry={"max_tries": 3, "delay": 0.2, "max_delay": 1},
                         command_retry={"max_tries": 3, "delay": 0.2, "max_delay": 1}, **kwargs)
    client.start(timeout=timeout)
    return client


class QuorumProbe(threading.Thread):
    """Polls every member's srvr every `interval` seconds (<= 0.2) in a background thread and
    records the intervals during which the ensemble had no quorum.

    Use as a context manager; `outages` then holds (start, end) monotonic times, and
    `longest_outage` the longest one in seconds. A member that does not answer counts as down.
    """

    def __init__(self, addresses: list[str], port: int = 2181, interval: float = 0.2,
                 timeout: float = 0.5, fetch: Callable[[str], Srvr] | None = None):
        super().__init__(name="quorum-probe", daemon=True)
        if interval > 0.2:
            raise ValueError("poll at least every 200 ms")
        self.addresses = list(addresses)
        self.interval = interval
        self.fetch = fetch or (lambda a: srvr(a, port, timeout))
        self.outages: list[tuple[float, float]] = []
        self.outage_modes: list[list[str]] = []  # every member's mode when each outage began
        self.polls = 0
        self._stop_event = threading.Event()
        self._down_since: float | None = None

    def poll(self) -> bool:
        """One round over all members; records a transition; returns whether there is quorum."""
        now = time.monotonic()
        states = [self.fetch(a) for a in self.addresses]
        ok = has_quorum(states, len(self.addresses))
        self.polls += 1
        if not ok and self._down_since is None:
            self._down_since = now
            self.outage_modes.append([s.mode for s in states])
        elif ok and self._down_since is not None:
            self.outages.append((self._down_since, now))
            self._down_since = None
        return ok

    def run(self):
        while not self._stop_event.is_set():
            started = time.monotonic()
            self.poll()
            self._stop_event.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def stop(self, timeout: float = 10.0):
        self._stop_event.set()
        self.join(timeout)
        if self._down_since is not None:  # still without quorum at the end: close the interval
            self.outages.append((self._down_since, time.monotonic()))
            self._down_since = None

    @property
    def longest_outage(self) -> float:
        return max((end - start for start, end in self.outages), default=0.0)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> float:
    """Poll until predicate() is true; return the seconds it took. Raises TimeoutError."""
    started = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"condition not met within {timeout} s")
        time.sleep(interval)
