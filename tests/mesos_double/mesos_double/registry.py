"""Replicated-log / registry simulation.

Each master owns one replica persisted in <work_dir>/replicated_log/replica.json
({status: EMPTY|STARTING|VOTING, version, registry}).  Replicas talk over HTTP
on the masters' own ports under /__double/log/ (double-only paths) and find
each other through the <zk path>/log_replicas group.

The registry mirrors Mesos' Registry message in JSON: master.info, slaves.slaves[]
({info, drain_info?, deactivated?}), unreachable.slaves[] ({id, timestamp, drain_info?,
deactivated?}), gone.slaves[] ({id, timestamp}) and minimum_capabilities[].
"""

import copy
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from . import durations, glog, net

EMPTY, STARTING, VOTING = "EMPTY", "STARTING", "VOTING"


class Replica:
    def __init__(self, directory, pid):
        self.directory = directory
        self.pid = pid
        self.path = os.path.join(directory, "replica.json")
        self._lock = threading.Lock()
        os.makedirs(directory, exist_ok=True)
        self.state = {"status": EMPTY, "version": 0, "registry": None}
        if os.path.exists(self.path):
            with open(self.path, encoding="utf-8") as fh:
                self.state = json.load(fh)
        glog.info("replica.cpp", 780, "Replica recovered with log positions 0 -> %d with 0 holes "
                  "and 0 unlearned" % self.state["version"])
        glog.info("replica.cpp", 689, "Replica is in %s status" % self.state["status"])

    def _persist(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(self.state, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    @property
    def status(self):
        return self.state["status"]

    def set_status(self, status):
        with self._lock:
            if self.state["status"] != status:
                glog.info("replica.cpp", 323, "Updating replica status to %s" % status)
                self.state["status"] = status
                self._persist()

    def describe(self, with_registry=False):
        with self._lock:
            d = {"pid": self.pid, "status": self.state["status"], "version": self.state["version"]}
            if with_registry:
                d["registry"] = copy.deepcopy(self.state["registry"])
            return d

    def write(self, version, registry, catch_up=False):
        with self._lock:
            if self.state["status"] != VOTING and not catch_up:
                return False
            if version < self.state["version"]:
                return False
            self.state["version"] = version
            self.state["registry"] = registry
            if catch_up:
                self.state["status"] = VOTING
            self._persist()
            return True


class LogNetwork:
    """The set of replicas (pids 'log-replica(1)@ip:port') and how to reach them."""

    def __init__(self, replica, quorum):
        self.replica = replica
        self.quorum = quorum
        self._pids = [replica.pid]
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="log-net")

    def set_pids(self, pids):
        with self._lock:
            s = set(pids)
            s.add(self.replica.pid)
            self._pids = sorted(s)

    def pids(self):
        with self._lock:
            return list(self._pids)

    def ensemble_size(self):
        return len(self.pids())

    def _call(self, pid, method, path, body=None, timeout=2.0):
        host, port = net.split_pid(pid)
        try:
            return net.request(host, port, method, path, body, timeout=timeout)
        except (OSError, ValueError) as exc:
            return None, str(exc)

    def query(self, with_registry=False, timeout=2.0):
        """Ask every replica for its status; returns list of descriptions (self included)."""
        out = [self.replica.describe(with_registry)]
        others = [p for p in self.pids() if p != self.replica.pid]
        path = "/__double/log/status" + ("?registry=1" if with_registry else "")
        futs = [self._pool.submit(self._call, p, "GET", path, None, timeout) for p in others]
        for f in futs:
            status, body = f.result()
            if status == 200 and isinstance(body, dict) and "status" in body:
                out.append(body)
        return out

    def write_all(self, version, registry, deadline):
        """Write to replicas until a quorum acked or the deadline; returns ack count."""
        acked = set()
        while True:
            if self.replica.pid not in acked and self.replica.write(version, registry):
                acked.add(self.replica.pid)
            pending = [p for p in self.pids() if p not in acked and p != self.replica.pid]
            remaining = deadline - time.monotonic()
            if len(acked) >= self.quorum or remaining <= 0:
                return len(acked)
            futs = {p: self._pool.submit(self._call, p, "POST", "/__double/log/write",
                                         {"version": version, "registry": registry},
                                         max(0.1, min(2.0, remaining))) for p in pending}
            for p, f in futs.items():
                status, body = f.result()
                if status == 200 and isinstance(body, dict) and body.get("ok"):
                    acked.add(p)
            if len(acked) >= self.quorum:
                return len(acked)
            time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))


class Recoverer(threading.Thread):
    """The log recover protocol incl. auto-initialisation (recover.cpp:230-290)."""

    def __init__(self, network, auto_initialize):
        super().__init__(name="log-recover", daemon=True)
        self.network = network
        self.auto_initialize = auto_initialize

    def run(self):
        replica = self.network.replica
        q = self.network.quorum
        n = 2 * q - 1
        started = time.monotonic()
        while replica.status != VOTING:
            responses = self.network.query(with_registry=True, timeout=1.0)
            statuses = [r["status"] for r in responses]
            voting = [r for r in responses if r["status"] == VOTING]
            if len(voting) >= q:
                best = max(voting, key=lambda r: r["version"])
                replica.write(best["version"], best.get("registry"), catch_up=True)
                glog.info("recover.cpp", 395, "Replica has caught up; status is now VOTING")
                break
            if self.auto_initialize and len(responses) >= n:
                if replica.status == EMPTY and all(s in (EMPTY, STARTING) for s in statuses):
                    replica.set_status(STARTING)
                    continue
                if replica.status == STARTING and all(s in (STARTING, VOTING) for s in statuses):
                    replica.set_status(VOTING)
                    glog.info("recover.cpp", 287, "Successfully joined the Paxos group")
                    break
            if time.monotonic() - started >= 10.0:
                glog.info("recover.cpp", 110,
                          "Unable to finish the recover protocol in 10secs, retrying")
                started = time.monotonic()
            time.sleep(0.3)
        glog.info("log.cpp", 108, "Recovery has finished; replica is VOTING")


class Registrar:
    def __init__(self, network, fetch_timeout, store_timeout):
        self.network = network
        self.fetch_timeout = fetch_timeout
        self.store_timeout = store_timeout
        self.registry = None
        self.version = 0
        self._lock = threading.Lock()
        self.recovered = False
        self.fetch_ms = None
        self.store_ms = None

    def recover(self, master_info):
        """Blocks until recovered; aborts like Mesos when fetch exceeds the timeout."""
        glog.info("registrar.cpp", 339, "Recovering registrar")
        start = time.monotonic()
        deadline = start + self.fetch_timeout
        last_log = start
        q = self.network.quorum
        found = None
        while time.monotonic() < deadline:
            if self.network.replica.status == VOTING:
                responses = self.network.query(with_registry=True, timeout=1.0)
                voting = [r for r in responses if r["status"] == VOTING]
                if len(voting) >= q:
                    found = max(voting, key=lambda r: r["version"])
                    break
            if time.monotonic() - last_log >= 10.0:
                glog.info("recover.cpp", 110,
                          "Unable to finish the recover protocol in 10secs, retrying")
                last_log = time.monotonic()
            time.sleep(0.25)
        if found is None:
            glog.fatal("master.cpp", 1661,
                       "Recovery failed: Failed to recover registrar: Failed to perform fetch "
                       "within %s" % durations.format(self.fetch_timeout))
        self.fetch_ms = (time.monotonic() - start) * 1000.0
        registry = found.get("registry") or {}
        registry.setdefault("slaves", {"slaves": []})
        registry.setdefault("unreachable", {"slaves": []})
        registry.setdefault("gone", {"slaves": []})
        registry.setdefault("next_agent", 0)
        blob = json.dumps(registry)
        glog.info("registrar.cpp", 369, "Successfully fetched the registry (%dB) in %.6gms"
                  % (len(blob), self.fetch_ms))
        self.registry = registry
        self.version = found["version"]

        def set_master(reg):
            reg["master"] = {"info": master_info}
        self.apply(set_master, "Failed to update registry")
        self.recovered = True
        glog.info("registrar.cpp", 398, "Successfully recovered registrar")
        return self.registry

    def apply(self, mutation, what="Failed to update registry"):
        """Apply a mutation and store it with a write quorum (or abort)."""
        with self._lock:
            new = copy.deepcopy(self.registry)
            mutation(new)
            version = self.version + 1
            start = time.monotonic()
            glog.info("registrar.cpp", 490, "Applied 1 operations; attempting to update the registry")
            acks = self.network.write_all(version, new, start + self.store_timeout)
            if acks < self.network.quorum:
                glog.fatal("registrar.cpp", 569,
                           "Registrar aborting: %s: Failed to perform store within %s"
                           % (what, durations.format(self.store_timeout)))
            self.store_ms = (time.monotonic() - start) * 1000.0
            glog.info("registrar.cpp", 512, "Successfully updated the registry in %.6gms"
                      % self.store_ms)
            self.registry = new
            self.version = version
            return copy.deepcopy(new)

    def snapshot(self):
        with self._lock:
            return copy.deepcopy(self.registry)
