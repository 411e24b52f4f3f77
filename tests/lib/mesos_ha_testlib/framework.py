"""A small Mesos framework for the tests: the v1 scheduler HTTP API, over TLS with HTTP Basic auth.

It subscribes to the elected master (following /redirect-style 307s from the others), takes
offers, launches command tasks as a non-root user, acknowledges status updates and records
them, and tears the framework down at the end. Everything the hardened cluster requires of a
real framework: a principal of mesos_common_frameworks, TLS verified against the cluster CA,
tasks as a user the run_tasks ACLs allow.

    with Framework(masters, principal, secret, user="mesos-task") as fw:
        task = fw.launch("echo hello", agent="agent1")
        fw.wait_for(task, "TASK_FINISHED", timeout=60)

Only the scenario's own containers are contacted; every wait is bounded.
"""
from __future__ import annotations

import base64
import http.client
import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Sequence

from . import mesos

TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR", "TASK_DROPPED",
            "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNREACHABLE"}


@dataclass
class TaskStatus:
    """One status update as the framework received it."""

    task_id: str
    state: str
    agent_id: str
    reason: str
    message: str
    received: float


@dataclass
class Framework:
    """A v1 scheduler subscribed to the elected master (see the module docstring)."""

    masters: Sequence[mesos.Host]
    principal: str
    secret: str
    user: str
    name: str = "mesos-ha-test"
    failover_timeout: float = 300.0
    statuses: list[TaskStatus] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.settings = mesos.http_settings()
        self.framework_id = ""
        self.stream_id = ""
        self.leader: mesos.Host | None = None
        self.offers: queue.Queue[dict[str, Any]] = queue.Queue()
        self.events: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._conn: http.client.HTTPConnection | None = None
        self._reader: threading.Thread | None = None
        self.error = ""

    # ------------------------------------------------------------------------------ plumbing
    def _connection(self, host: mesos.Host, timeout: float) -> http.client.HTTPConnection:
        if self.settings.scheme == "https":
            return http.client.HTTPSConnection(host.address, mesos.MASTER_PORT, timeout=timeout,
                                               context=mesos.ssl_context(self.settings.ca_file))
        return http.client.HTTPConnection(host.address, mesos.MASTER_PORT, timeout=timeout)

    def _headers(self) -> dict[str, str]:
        token = base64.b64encode(f"{self.principal}:{self.secret}".encode()).decode()
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "Authorization": f"Basic {token}"}
        if self.stream_id:
            headers["Mesos-Stream-Id"] = self.stream_id
        return headers

    def call(self, body: dict[str, Any], timeout: float = 10.0) -> int:
        """POST one scheduler call to the master the framework is subscribed to; returns the status."""
        assert self.leader is not None, "not subscribed"
        body = {"framework_id": {"value": self.framework_id}, **body}
        conn = self._connection(self.leader, timeout)
        try:
            conn.request("POST", "/api/v1/scheduler", json.dumps(body), self._headers())
            resp = conn.getresponse()
            text = resp.read()
            if resp.status not in (200, 202):
                raise AssertionError(f"{body['type']} answered {resp.status}: {text[:300]!r}")
            return resp.status
        finally:
            conn.close()

    # ---------------------------------------------------------------------------- subscribing
    def subscribe(self, timeout: float = 60.0) -> None:
        """SUBSCRIBE on the elected master (re-subscribing with the framework id after a failover)."""
        deadline = time.monotonic() + timeout
        info: dict[str, Any] = {"user": self.user, "name": self.name, "principal": self.principal,
                                "checkpoint": True, "failover_timeout": self.failover_timeout,
                                "roles": ["*"], "capabilities": [{"type": "MULTI_ROLE"}]}
        if self.framework_id:
            info["id"] = {"value": self.framework_id}
        body = json.dumps({"type": "SUBSCRIBE", "subscribe": {"framework_info": info}})
        problems = []
        while time.monotonic() < deadline:
            for host in self.masters:
                conn = self._connection(host, 10.0)
                try:
                    self.stream_id = ""
                    conn.request("POST", "/api/v1/scheduler", body, self._headers())
                    resp = conn.getresponse()
                except (OSError, http.client.HTTPException) as exc:
                    problems.append(f"{host.name}: {exc}")
                    conn.close()
                    continue
                if resp.status != 200:
                    problems.append(f"{host.name}: HTTP {resp.status} {resp.read()[:200]!r}")
                    conn.close()
                    continue
                self.leader, self._conn = host, conn
                self.stream_id = resp.headers.get("Mesos-Stream-Id", "")
                conn.sock.settimeout(None)  # the stream carries a heartbeat; the reader owns it
                subscribed = self._read_event(resp)
                if subscribed.get("type") != "SUBSCRIBED":
                    raise AssertionError(f"expected SUBSCRIBED from {host.name}, got {subscribed}")
                self.framework_id = subscribed["subscribed"]["framework_id"]["value"]
                self._reader = threading.Thread(target=self._read_events, args=(resp,), daemon=True)
                self._reader.start()
                return
            time.sleep(1.0)
        raise AssertionError(f"no master accepted the subscription within {timeout}s: {problems[-6:]}")

    @staticmethod
    def _read_event(resp: http.client.HTTPResponse) -> dict[str, Any]:
        """One RecordIO record: '<length>\\n<json>'."""
        line = resp.readline()
        if not line:
            raise EOFError("the master closed the event stream")
        length = int(line.strip())
        data = b""
        while len(data) < length:
            chunk = resp.read(length - len(data))
            if not chunk:
                raise EOFError("the master closed the event stream")
            data += chunk
        return json.loads(data)

    def _read_events(self, resp: http.client.HTTPResponse) -> None:
        try:
            while True:
                event = self._read_event(resp)
                self._handle(event)
        except (OSError, EOFError, ValueError, http.client.HTTPException) as exc:
            with self._changed:
                self.error = f"event stream ended: {exc}"
                self._changed.notify_all()

    def _handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "OFFERS":
            for offer in event["offers"]["offers"]:
                self.offers.put(offer)
        elif kind == "UPDATE":
            status = event["update"]["status"]
            if "uuid" in status:
                threading.Thread(target=self._acknowledge, args=(status,), daemon=True).start()
            with self._changed:
                self.statuses.append(TaskStatus(status["task_id"]["value"], status["state"],
                                                status.get("agent_id", {}).get("value", ""),
                                                status.get("reason", ""), status.get("message", ""),
                                                time.monotonic()))
                self._changed.notify_all()
        elif kind == "ERROR":
            with self._changed:
                self.error = f"master sent ERROR: {event.get('error', {}).get('message')}"
                self._changed.notify_all()
        with self._changed:
            self.events.append(event)

    def _acknowledge(self, status: dict[str, Any]) -> None:
        try:
            self.call({"type": "ACKNOWLEDGE", "acknowledge": {
                "agent_id": status["agent_id"], "task_id": status["task_id"], "uuid": status["uuid"]}})
        except (OSError, AssertionError, http.client.HTTPException):
            pass  # an unacknowledged update is resent by the agent; the test looks at states only

    # ------------------------------------------------------------------------------- tasks
    def launch(self, command: str, agent: str | None = None, cpus: float = 0.1, mem: float = 32,
               timeout: float = 60.0, task_id: str | None = None) -> str:
        """Launch a shell command task on an offer (from agent `agent`, a hostname, if given);
        decline the others. Returns the task id."""
        task_id = task_id or f"t-{uuid.uuid4().hex[:12]}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                offer = self.offers.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if agent and offer.get("hostname") != agent:
                self.call({"type": "DECLINE", "decline": {"offer_ids": [offer["id"]], "filters": {"refuse_seconds": 1}}})
                continue
            resources = []
            for resource in offer["resources"]:
                want = {"cpus": cpus, "mem": mem}.get(resource["name"])
                if want is not None and resource.get("type") == "SCALAR" and resource["scalar"]["value"] >= want:
                    resources.append({**resource, "scalar": {"value": want}})
            task = {"name": task_id, "task_id": {"value": task_id}, "agent_id": offer["agent_id"],
                    "resources": resources, "command": {"value": command, "shell": True}}
            self.call({"type": "ACCEPT", "accept": {
                "offer_ids": [offer["id"]], "filters": {"refuse_seconds": 1},
                "operations": [{"type": "LAUNCH", "launch": {"task_infos": [task]}}]}})
            return task_id
        raise AssertionError(f"no offer{' from ' + agent if agent else ''} within {timeout}s ({self.error or 'no error'})")

    def states(self, task_id: str) -> list[str]:
        """Every state reported for the task, in order."""
        with self._changed:
            return [s.state for s in self.statuses if s.task_id == task_id]

    def last(self, task_id: str) -> TaskStatus | None:
        with self._changed:
            found = [s for s in self.statuses if s.task_id == task_id]
        return found[-1] if found else None

    def wait_for(self, task_id: str, state: str, timeout: float = 60.0) -> TaskStatus:
        """Wait until the task reports `state`; fails at once on an unexpected terminal state."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for status in self.statuses:
                    if status.task_id != task_id:
                        continue
                    if status.state == state:
                        return status
                    if status.state in TERMINAL:
                        raise AssertionError(f"task {task_id} ended {status.state} ({status.reason}: "
                                             f"{status.message}), expected {state}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"task {task_id} did not reach {state} within {timeout}s; states "
                                         f"{[s.state for s in self.statuses if s.task_id == task_id]}; {self.error}")
                self._changed.wait(min(remaining, 1.0))

    # ------------------------------------------------------------------------------- ending
    def teardown(self) -> None:
        """TEARDOWN: the master kills the framework's tasks and forgets it."""
        if self.leader is not None and self.framework_id:
            try:
                self.call({"type": "TEARDOWN"})
            except (OSError, AssertionError, http.client.HTTPException):
                pass
        if self._conn is not None:
            self._conn.close()

    def __enter__(self) -> "Framework":
        self.subscribe()
        return self

    def __exit__(self, *_: object) -> None:
        self.teardown()
