"""mesos-master double: election, registry, HTTP endpoints, agent bookkeeping."""

import json
import os
import stat
import sys
import threading
import time
import uuid

from . import (MESOS_VERSION, PACKAGE_VERSION, durations, election, flags as flagsmod, glog,
               httpserver, masterinfo, net, process, registry, zk)
from .httpserver import json_response, text

PROGRAM = "mesos-master"
MIN_AGENT_REREGISTER_TIMEOUT = 600.0
BUILD_TIME = 1622937600.0  # fixed, reproducible
AGENT_HEARTBEAT_INTERVAL = 1.0

READONLY_LEADER = {"state", "state.json", "state-summary", "slaves", "frameworks", "tasks",
                   "tasks.json", "roles", "roles.json"}
READWRITE_LEADER = {"teardown", "reserve", "unreserve", "create-volumes", "destroy-volumes",
                    "machine/down", "machine/up", "api/v1"}
MIXED_LEADER = {"maintenance/schedule", "maintenance/status", "quota", "weights"}

GONE_MESSAGE = "Agent has been marked gone"
DRAINING, DRAINED = "DRAINING", "DRAINED"


def _slave_id(call, field):
    """call[field].agent_id.value (v1 AgentID), or None when absent/malformed."""
    body = call.get(field)
    if not isinstance(body, dict):
        return None
    aid = body.get("agent_id")
    if isinstance(aid, dict) and isinstance(aid.get("value"), str) and aid["value"]:
        return aid["value"]
    return None


def _agent_call(call, field):
    """(agent id, None) of a v1 call {field: {agent_id: {value}}}, or (None, the 400 answer real
    Mesos gives for a call without the field or without its agent id)."""
    if not isinstance(call.get(field), dict):
        return None, text(400, "Failed to validate master::Call: Expecting '%s' to be present" % field)
    aid = _slave_id(call, field)
    if aid is None:
        return None, text(400, "Failed to convert JSON into Call protobuf: Missing required "
                               "fields: %s.agent_id" % field)
    return aid, None


def _registry_entry(reg, aid):
    """The agent's entry in the registry's admitted or unreachable list (Registry.Slave /
    Registry.UnreachableSlave), or None."""
    for x in reg["slaves"]["slaves"]:
        if x["info"]["id"] == aid:
            return x
    for u in reg["unreachable"]["slaves"]:
        if u["id"] == aid:
            return u
    return None


def _unreachable_entry(entry, aid, ts):
    """MarkSlaveUnreachable: the draining and deactivation states move along."""
    u = {"id": aid, "timestamp": ts}
    if entry is not None and entry.get("drain_info"):
        u["drain_info"] = entry["drain_info"]
    u["deactivated"] = bool(entry is not None and entry.get("deactivated"))
    return u


def _add_min_capability(reg, capability):
    caps = reg.setdefault("minimum_capabilities", [])
    if not any(c.get("capability") == capability for c in caps):
        caps.append({"capability": capability})


class Master:
    def __init__(self, flags):
        self.flags = flags
        self.addr = net.Addresses(flags, 5050)
        self.id = str(uuid.uuid4())
        self.pid = "master@%s:%d" % (self.addr.ip, self.addr.advertise_port)
        domain = None
        if flags.domain:
            try:
                domain = json.loads(flags.domain)
            except ValueError:
                glog.exit_failure("master.cpp", 402, "Failed to parse --domain")
        self.info = masterinfo.build(self.id, self.addr.ip, self.addr.advertise_port,
                                     self.addr.hostname, domain)
        self.start_time = time.time()
        self.start_mono = time.monotonic()
        self.lock = threading.RLock()
        self.reg_lock = threading.Lock()
        self.elected = False
        self.elected_time = None
        self.recovered = False
        self.leader = None
        self.agents = {}
        self.recovered_agents = {}
        self.unreachable = {}
        # Agent draining / deactivation / gone bookkeeping (Master::Slaves in master.hpp).
        self.draining = {}        # agent id -> DrainInfo {"state", "config"}
        self.deactivated = set()  # agent ids
        self.gone = {}            # agent id -> time marked gone
        self.marking_gone = set()
        self.marking_drained = set()
        self.next_agent = 0
        self.counters = {"slave_registrations": 0, "slave_reregistrations": 0,
                         "slave_removals": 0}
        self.credentials = {}
        self.zk_url = None
        self.group = None
        self.replica = None
        self.network = None
        self.registrar = None
        self.in_memory_registry = None

    # ---------------------------------------------------------------- startup
    def validate(self):
        f = self.flags
        if f.registry_strict:
            glog.exit_failure("main.cpp", 352, "Cannot run with --registry_strict; currently not supported")
        if f.registry not in ("replicated_log", "log_storage", "in_memory"):
            glog.exit_failure("main.cpp", 381,
                              "'%s' is not a supported option for registry persistence" % f.registry)
        if f.registry in ("replicated_log", "log_storage"):
            if not f.work_dir:
                glog.exit_failure("main.cpp", 361, "--work_dir needed for replicated log based registry")
            if f.zk and f.quorum is None:
                glog.exit_failure("main.cpp", 375, "Need to specify --quorum for replicated log "
                                                   "based registry when using ZooKeeper")
        if f.zk:
            zkval = f.zk.strip()
            try:
                self.zk_url = zk.parse_url(zkval)
            except zk.URLError as exc:
                glog.exit_failure("main.cpp", 418,
                                  "Failed to create a master contender/detector: %s" % exc)
        if f.agent_reregister_timeout < MIN_AGENT_REREGISTER_TIMEOUT:
            glog.exit_failure("master.cpp", 468,
                              "Invalid value '%s' for --agent_reregister_timeout: Must be at least "
                              "10mins" % durations.format(f.agent_reregister_timeout))
        if not (1.0 <= f.agent_ping_timeout <= 900.0):
            glog.exit_failure("master.cpp", 540,
                              "Invalid value '%s' for --agent_ping_timeout: Must be between 1secs "
                              "and 15mins" % durations.format(f.agent_ping_timeout))
        if f.max_agent_ping_timeouts < 1:
            glog.exit_failure("master.cpp", 556, "Invalid value '%d' for --max_agent_ping_timeouts: "
                                                 "Must be at least 1" % f.max_agent_ping_timeouts)
        if f.credentials:
            path = f.credentials
            try:
                mode = os.stat(path).st_mode
                if mode & (stat.S_IRWXO):
                    glog.warning("credentials.hpp", 60,
                                 "Permissions on credentials file '%s' are too open; it is "
                                 "recommended that your credentials file is NOT accessible by "
                                 "others" % path)
                self.credentials = httpserver.load_credentials(path)
            except (OSError, ValueError, KeyError) as exc:
                glog.exit_failure("master.cpp", 525, "Failed to load credentials file '%s': %s "
                                                     "(see --credentials flag)" % (path, exc))
            if not self.credentials:
                glog.exit_failure("master.cpp", 530,
                                  "Empty credentials file '%s' (see --credentials flag)" % path)
        for kind in ("readonly", "readwrite"):
            if getattr(f, "authenticate_http_" + kind) and not self.credentials:
                glog.exit_failure("http.cpp", 1297,
                                  "No credentials provided for the default 'basic' HTTP "
                                  "authenticator for realm 'mesos-master-%s'" % kind)
        if f.authenticate_agents and not self.credentials:
            glog.warning("authenticator.cpp", 80, "No credentials provided, authentication requests "
                                                  "will be refused")
        self.auth = httpserver.Authenticator("mesos-master", f.authenticate_http_readonly,
                                             f.authenticate_http_readwrite, self.credentials)

    def start(self):
        f = self.flags
        glog.info("master.cpp", 416, "Master %s (%s) started on %s:%d"
                  % (self.id, self.addr.hostname, self.addr.ip, self.addr.advertise_port))
        glog.info("master.cpp", 418, "Flags at startup: " + " ".join(
            "--%s=\"%s\"" % kv for kv in self.flags.display().items()))
        try:
            self.http = httpserver.HTTPServer("master", self.addr.bind_ip, self.addr.port, self.route)
        except OSError as exc:
            glog.exit_failure("process.cpp", 1120, "Failed to initialize: Failed to bind on %s:%d: %s"
                              % (self.addr.bind_ip, self.addr.port, exc.strerror or exc))
        if f.registry in ("replicated_log", "log_storage"):
            rpid = "log-replica(1)@%s:%d" % (self.addr.ip, self.addr.advertise_port)
            self.replica = registry.Replica(os.path.join(f.work_dir, "replicated_log"), rpid)
            quorum = f.quorum if f.quorum is not None else 1
            self.network = registry.LogNetwork(self.replica, quorum)
            self.registrar = registry.Registrar(self.network, f.registry_fetch_timeout,
                                                f.registry_store_timeout)
        self.http.serve()
        if self.network is not None:
            registry.Recoverer(self.network, f.log_auto_initialize).start()
        if self.zk_url is not None:
            self.group = election.GroupDriver(
                self.zk_url, f.zk_session_timeout, glog.log,
                contend_data=lambda: masterinfo.serialize(self.info),
                replica_data=(lambda: self.replica.pid.encode()) if self.replica else None,
                on_candidacy_lost=self._candidacy_lost, on_leader=self._on_leader,
                on_replicas=self.network.set_pids if self.network else None)
            self.group.start()
        else:
            self._on_leader(self.info, True)

    # ---------------------------------------------------------------- election
    def _candidacy_lost(self):
        with self.lock:
            if self.elected:
                glog.exit_failure("master.cpp", 2140, "Lost candidacy as a leader... committing suicide!")
            glog.info("master.cpp", 2145, "Lost candidacy as a follower... Contend again")

    def _on_leader(self, info, is_me):
        with self.lock:
            if info is not None and "__error__" in info:
                glog.exit_failure("master.cpp", 2162, "Failed to detect the leading master: %s; "
                                                      "committing suicide!" % info["__error__"])
            if is_me:
                if not self.elected:
                    self.elected = True
                    self.elected_time = time.time()
                    self.leader = self.info
                    glog.info("master.cpp", 2190, "Elected as the leading master!")
                    threading.Thread(target=self._recover, name="recover", daemon=True).start()
                return
            if self.elected:
                if info is None:
                    glog.exit_failure("master.cpp", 2230, "Lost leadership after indecisive "
                                                          "election... committing suicide!")
                glog.exit_failure("master.cpp", 2225, "Conceded leadership to another master... "
                                                      "committing suicide!")
            self.leader = info
            if info is None:
                glog.info("master.cpp", 2200, "No master is currently leading")
            else:
                glog.info("master.cpp", 2205, "The newly elected leader is %s with id %s"
                          % (info.get("pid"), info.get("id")))

    def _recover(self):
        glog.info("master.cpp", 1760, "Recovering from registrar")
        if self.registrar is not None:
            reg = self.registrar.recover(self.info)
        else:
            reg = {"master": {"info": self.info}, "slaves": {"slaves": []},
                   "unreachable": {"slaves": []}, "gone": {"slaves": []}}
            self.in_memory_registry = reg
        with self.lock:
            for a in reg.get("slaves", {}).get("slaves", []):
                aid = a["info"]["id"]
                self.recovered_agents[aid] = a["info"]
                if a.get("drain_info"):
                    self.draining[aid] = json.loads(json.dumps(a["drain_info"]))
                if a.get("deactivated"):
                    self.deactivated.add(aid)
            for u in reg.get("unreachable", {}).get("slaves", []):
                self.unreachable[u["id"]] = u.get("timestamp", time.time())
                if u.get("drain_info"):
                    self.draining[u["id"]] = json.loads(json.dumps(u["drain_info"]))
                if u.get("deactivated"):
                    self.deactivated.add(u["id"])
            for g in reg.get("gone", {}).get("slaves", []):
                self.gone[g["id"]] = g.get("timestamp", time.time())
            self.recovered = True
        size = len(json.dumps(reg))
        glog.info("master.cpp", 1790, "Recovered %d agents from the registry (%dB); allowing %s for "
                  "agents to reregister" % (len(self.recovered_agents), size,
                                            durations.format(self.flags.agent_reregister_timeout)))
        threading.Thread(target=self._monitor_agents, name="agent-monitor", daemon=True).start()
        threading.Thread(target=self._reregister_timeout, name="rereg-timeout", daemon=True).start()

    def _store(self, mutation, what):
        if self.registrar is not None:
            return self.registrar.apply(mutation, what)
        mutation(self.in_memory_registry)
        return self.in_memory_registry

    def _reregister_timeout(self):
        time.sleep(self.flags.agent_reregister_timeout)
        with self.lock:
            for i in sorted(self.recovered_agents):
                if i in self.gone:
                    glog.warning("master.cpp", 8190, "Skipping transition of agent %s (%s) to "
                                 "unreachable because it has been marked as gone"
                                 % (i, self.recovered_agents[i].get("hostname")))
            missing = [i for i in self.recovered_agents if i not in self.gone]
            total = len(missing) + len([a for a in self.agents.values() if a.get("from_registry")])
        if not missing:
            return
        limit_text = self.flags.recovery_agent_removal_limit or "100%"
        try:
            limit = float(limit_text.rstrip("%")) / 100.0
        except ValueError:
            limit = 1.0
        ratio = len(missing) / float(max(total, 1))
        if ratio > limit:
            glog.exit_failure("master.cpp", 2010,
                              "Post-recovery agent removal limit exceeded! After the master failed "
                              "over, %d agents (%.2f%%) failed to reregister within %s; the limit "
                              "is %s" % (len(missing), ratio * 100, durations.format(
                                  self.flags.agent_reregister_timeout), limit_text))
        now = time.time()

        def mark(reg):
            entries = {a["info"]["id"]: a for a in reg["slaves"]["slaves"]}
            reg["slaves"]["slaves"] = [a for a in reg["slaves"]["slaves"]
                                       if a["info"]["id"] not in missing]
            reg["unreachable"]["slaves"].extend(_unreachable_entry(entries.get(i), i, now)
                                                for i in missing)
        self._store(mark, "Failed to update registry")
        with self.lock:
            for i in missing:
                self.recovered_agents.pop(i, None)
                self.unreachable[i] = now
                glog.warning("master.cpp", 2060, "Agent %s did not reregister within %s after master "
                             "failover; marking it unreachable"
                             % (i, durations.format(self.flags.agent_reregister_timeout)))

    # ---------------------------------------------------------------- agents
    def _total_ping(self):
        return self.flags.agent_ping_timeout * self.flags.max_agent_ping_timeouts

    def _monitor_agents(self):
        total = self._total_ping()
        disconnect_after = min(3.0, total / 2.0)
        while True:
            time.sleep(0.25)
            now = time.monotonic()
            to_remove = []
            with self.lock:
                for aid, a in self.agents.items():
                    gap = now - a["last_seen"]
                    if a["connected"] and gap > disconnect_after:
                        a["connected"] = False
                        a["active"] = False
                        glog.info("master.cpp", 1480, "Agent %s at %s (%s) disconnected"
                                  % (aid, a["info"]["pid"], a["info"]["hostname"]))
                    if gap > total:
                        to_remove.append(aid)
            for aid in to_remove:
                glog.info("master.cpp", 8120, "Marking agent %s unreachable: health check timed out"
                          % aid)
                ts = time.time()

                def mark(reg, aid=aid, ts=ts):
                    entry = next((x for x in reg["slaves"]["slaves"]
                                  if x["info"]["id"] == aid), None)
                    reg["slaves"]["slaves"] = [x for x in reg["slaves"]["slaves"]
                                               if x["info"]["id"] != aid]
                    reg["unreachable"]["slaves"].append(_unreachable_entry(entry, aid, ts))
                self._store(mark, "Failed to update registry")
                with self.lock:
                    self.agents.pop(aid, None)
                    self.unreachable[aid] = ts
                    self.counters["slave_removals"] += 1

    def _check_agent_auth(self, body, who):
        if not self.flags.authenticate_agents:
            return None
        cred = body.get("credential")
        if not cred:
            glog.warning("master.cpp", 6520, "Refusing registration of agent at %s because it is "
                                             "not authenticated" % who)
            return json_response({"error": "Agent is not authenticated"}, 403)
        if self.credentials.get(cred.get("principal")) != cred.get("secret") or \
                cred.get("principal") not in self.credentials:
            glog.warning("master.cpp", 10250, "Failed to authenticate agent %s: Authentication "
                                              "failed" % who)
            return json_response({"error": "Authentication failed"}, 403)
        glog.info("master.cpp", 10260, "Successfully authenticated principal '%s' at %s"
                  % (cred.get("principal"), who))
        return None

    def _not_ready(self):
        if not self.elected:
            return json_response({"error": "Not the leading master"}, 503)
        if not self.recovered:
            return json_response({"error": "Master has not finished recovery"}, 503)
        return None

    def handle_register(self, req):
        body = req.json() or {}
        bad = self._not_ready()
        if bad:
            return bad
        info = dict(body.get("info") or {})
        who = info.get("pid", "?")
        bad = self._check_agent_auth(body, who)
        if bad:
            return bad
        agent_id = body.get("id")
        with self.reg_lock:
            now = time.time()
            mono = time.monotonic()
            if not agent_id:
                with self.lock:
                    for aid, a in self.agents.items():
                        if a["info"].get("pid") == info.get("pid"):
                            agent_id = aid
                            break
                if agent_id is None:
                    agent_id = "%s-S%d" % (self.id, self.next_agent)
                    self.next_agent += 1
                    info["id"] = agent_id

                    def admit(reg, info=info):
                        reg["slaves"]["slaves"].append({"info": info})
                    self._store(admit, "Failed to update registry")
                    with self.lock:
                        self.agents[agent_id] = {"info": info, "registered_time": now,
                                                 "reregistered_time": None, "active": True,
                                                 "connected": True, "last_seen": mono}
                        self.counters["slave_registrations"] += 1
                    glog.info("master.cpp", 6902, "Registered agent %s at %s (%s)"
                              % (agent_id, who, info.get("hostname")))
            else:
                info["id"] = agent_id
                with self.lock:
                    gone = agent_id in self.gone
                    marking_gone = agent_id in self.marking_gone
                    known = agent_id in self.agents or agent_id in self.recovered_agents
                    was_unreachable = agent_id in self.unreachable
                if gone:
                    # master.cpp reregisterSlave(): a ShutdownMessage instead of a reply.
                    glog.warning("master.cpp", 7186, "Refusing re-registration of agent at %s "
                                 "because it is already marked gone" % who)
                    return json_response({"shutdown": {"message": GONE_MESSAGE}})
                if marking_gone:
                    glog.info("master.cpp", 7176, "Ignoring reregister agent message from agent "
                              "%s at %s (%s) as a gone operation is already in progress"
                              % (agent_id, who, info.get("hostname")))
                    return json_response({"error": "A gone operation is already in progress"},
                                         503)
                if not known:
                    def readmit(reg, info=info):
                        # MarkSlaveReachable: drain info and deactivation come back along.
                        entry = {"info": info}
                        for u in reg["unreachable"]["slaves"]:
                            if u["id"] == info["id"]:
                                if u.get("drain_info"):
                                    entry["drain_info"] = u["drain_info"]
                                entry["deactivated"] = bool(u.get("deactivated"))
                        reg["slaves"]["slaves"] = [x for x in reg["slaves"]["slaves"]
                                                   if x["info"]["id"] != info["id"]]
                        reg["slaves"]["slaves"].append(entry)
                        reg["unreachable"]["slaves"] = [u for u in reg["unreachable"]["slaves"]
                                                        if u["id"] != info["id"]]
                    self._store(readmit, "Failed to update registry")
                with self.lock:
                    prev = self.agents.get(agent_id)
                    from_registry = agent_id in self.recovered_agents
                    self.recovered_agents.pop(agent_id, None)
                    self.unreachable.pop(agent_id, None)
                    deactivated = agent_id in self.deactivated
                    self.agents[agent_id] = {
                        "info": info,
                        "registered_time": prev["registered_time"] if prev else now,
                        "reregistered_time": now, "active": not deactivated, "connected": True,
                        "last_seen": mono,
                        "from_registry": from_registry or (prev or {}).get("from_registry", False)}
                    if prev and prev.get("estimated_drain_start_time"):
                        self.agents[agent_id]["estimated_drain_start_time"] = \
                            prev["estimated_drain_start_time"]
                    self.counters["slave_reregistrations"] += 1
                glog.info("master.cpp", 7402, "Agent %s at %s (%s) reregistered%s"
                          % (agent_id, who, info.get("hostname"),
                             " after being marked unreachable" if was_unreachable else ""))
                if deactivated:
                    # "If this agent was deactivated, make sure to deactivate it again".
                    glog.info("master.cpp", 8520, "Deactivating agent %s at %s (%s)"
                              % (agent_id, who, info.get("hostname")))
        resp = {"agent_id": agent_id, "master_id": self.id, "master_pid": self.pid,
                "ping_timeout": self._total_ping(),
                "heartbeat_interval": min(AGENT_HEARTBEAT_INTERVAL, self._total_ping() / 4.0)}
        with self.lock:
            drain = self.draining.get(agent_id)
            if drain is not None:
                resp["drain_config"] = json.loads(json.dumps(drain["config"]))
        if drain is not None:
            # The reregistered agent is sent its DrainSlaveMessage again (in the reply here).
            self._drain_sent(agent_id)
        return json_response(resp)

    def handle_ping(self, req):
        bad = self._not_ready()
        if bad:
            return bad
        body = req.json() or {}
        aid = body.get("id")
        with self.lock:
            if aid in self.gone:
                # The ShutdownMessage sent by Master::markGone(), delivered on the next ping.
                return json_response({"shutdown": {"message": GONE_MESSAGE}})
            a = self.agents.get(aid)
            if a is None or not a["connected"]:
                return json_response({"reregister": True}, 409)
            a["last_seen"] = time.monotonic()
            drain = self.draining.get(aid)
            resp = {"pong": True, "master_id": self.id}
            if drain is not None:
                resp["drain_config"] = json.loads(json.dumps(drain["config"]))
        if drain is not None:
            self._drain_sent(aid)
        return json_response(resp)

    # ---------------------------------------------------------------- draining / gone
    def _drain_sent(self, aid):
        """The agent has been told to drain: Master::checkAndTransitionDrainingAgent().

        The double runs no tasks and no operations, so a DRAINING agent is drained as soon as
        it has been told; with mark_gone it is marked gone instead of DRAINED."""
        with self.lock:
            drain = self.draining.get(aid)
            if drain is None or drain["state"] == DRAINED:
                return
            if aid in self.marking_gone or aid in self.marking_drained:
                return
            mark_gone = bool(drain["config"].get("mark_gone"))
            (self.marking_gone if mark_gone else self.marking_drained).add(aid)
        threading.Thread(target=self._transition_drained, args=(aid, mark_gone),
                         name="drain-%s" % aid, daemon=True).start()

    def _transition_drained(self, aid, mark_gone):
        if mark_gone:
            glog.info("master.cpp", 8993, "Marking agent %s in the DRAINED state as gone" % aid)
            ts = time.time()
            self._store(lambda reg: self._registry_mark_gone(reg, aid, ts),
                        "Failed to mark agent gone in the registry")
            self._mark_gone(aid, ts)
            return
        glog.info("master.cpp", 9011, "Transitioning agent %s to the DRAINED state" % aid)

        def drained(reg):
            entry = _registry_entry(reg, aid)
            if entry is not None and (entry.get("drain_info") or {}).get("state") == DRAINING:
                entry["drain_info"]["state"] = DRAINED
        self._store(drained, "Failed to update draining info in the registry")
        with self.lock:
            self.marking_drained.discard(aid)
            drain = self.draining.get(aid)
            if drain is None:
                glog.info("master.cpp", 9024, "Agent %s was removed while being marked as "
                                              "DRAINED" % aid)
                return
            drain["state"] = DRAINED
        glog.info("master.cpp", 9031, "Agent %s successfully marked as DRAINED" % aid)

    @staticmethod
    def _registry_mark_gone(reg, aid, ts):
        """Registry operation MarkSlaveGone."""
        gone = reg.setdefault("gone", {"slaves": []})
        if any(g["id"] == aid for g in gone["slaves"]):
            return
        before = len(reg["slaves"]["slaves"]) + len(reg["unreachable"]["slaves"])
        reg["slaves"]["slaves"] = [x for x in reg["slaves"]["slaves"] if x["info"]["id"] != aid]
        reg["unreachable"]["slaves"] = [u for u in reg["unreachable"]["slaves"] if u["id"] != aid]
        if len(reg["slaves"]["slaves"]) + len(reg["unreachable"]["slaves"]) != before:
            gone["slaves"].append({"id": aid, "timestamp": ts})

    def _mark_gone(self, aid, ts):
        """Master::markGone(): the agent is shut down (on its next ping) and removed."""
        with self.lock:
            self.marking_gone.discard(aid)
            self.gone[aid] = ts
            a = self.agents.pop(aid, None)
            if a is None:
                # A recovered agent stays in the recovered list (as in Mesos, MESOS-9739);
                # an unreachable one is forgotten.
                if aid in self.recovered_agents:
                    return
                self.unreachable.pop(aid, None)
            self.draining.pop(aid, None)
            self.deactivated.discard(aid)

    def _known_agent(self, aid):
        return aid in self.agents or aid in self.recovered_agents or aid in self.unreachable

    def api_drain_agent(self, call):
        aid, bad = _agent_call(call, "drain_agent")
        if bad:
            return bad
        body = call["drain_agent"]
        config = {}
        mgp = body.get("max_grace_period")
        if mgp is not None:
            try:
                if not isinstance(mgp, dict) or isinstance(mgp.get("nanoseconds"), bool):
                    raise ValueError
                config["max_grace_period"] = {"nanoseconds": int(mgp["nanoseconds"])}
            except (KeyError, TypeError, ValueError):
                return text(400, "Failed to convert JSON into Call protobuf: Missing required "
                                 "fields: drain_agent.max_grace_period.nanoseconds")
        mark_gone = body.get("mark_gone", False)
        if not isinstance(mark_gone, bool):
            return text(400, "Failed to convert JSON into Call protobuf: Not expecting a JSON "
                             "%s for field 'mark_gone'" % type(mark_gone).__name__)
        config["mark_gone"] = mark_gone
        with self.lock:
            known = self._known_agent(aid)
            marking_gone = aid in self.marking_gone
        if not known:
            return text(400, "Unknown agent")
        if marking_gone:
            return text(409, "Agent is currently being marked gone")

        def drain(reg):
            entry = _registry_entry(reg, aid)
            if entry is not None:
                entry["drain_info"] = {"state": DRAINING, "config": json.loads(json.dumps(config))}
                entry["deactivated"] = True
                _add_min_capability(reg, "AGENT_DRAINING")
        self._store(drain, "Failed to update draining info in the registry")
        with self.lock:
            self.draining[aid] = {"state": DRAINING, "config": config}
            self.deactivated.add(aid)
            a = self.agents.get(aid)
            if a is not None:
                glog.info("master.cpp", 2950, "Transitioning agent %s to the DRAINING state; "
                          "agent has (tasks, operations) == ({  }, {  })" % aid)
                glog.info("master.cpp", 8520, "Deactivating agent %s at %s (%s)"
                          % (aid, a["info"].get("pid"), a["info"].get("hostname")))
                a["active"] = False
                a["estimated_drain_start_time"] = time.time()
        return text(200, "")

    def api_reactivate_agent(self, call):
        aid, bad = _agent_call(call, "reactivate_agent")
        if bad:
            return bad
        with self.lock:
            if aid not in self.deactivated:
                return text(400, "Agent is not deactivated")
            drain = self.draining.get(aid)
            if drain is not None and drain["state"] == DRAINING:
                return text(400, "Agent is still in the DRAINING state")

        def reactivate(reg):
            entry = _registry_entry(reg, aid)
            if entry is not None:
                entry.pop("drain_info", None)
                entry["deactivated"] = False
        self._store(reactivate, "Failed to reactivate agent in the registry")
        with self.lock:
            self.draining.pop(aid, None)
            self.deactivated.discard(aid)
            a = self.agents.get(aid)
            if a is None:
                return text(409, "Agent removed while processing the call")
            who = "%s at %s (%s)" % (aid, a["info"].get("pid"), a["info"].get("hostname"))
            if a["connected"]:
                glog.info("master.cpp", 3050, "Reactivating agent %s" % who)
                a["active"] = True
            else:
                glog.info("master.cpp", 3055, "Disconnected agent %s will be reactivated upon "
                                              "reregistration." % who)
            a.pop("estimated_drain_start_time", None)
        return text(200, "")

    def api_mark_agent_gone(self, call):
        aid, bad = _agent_call(call, "mark_agent_gone")
        if bad:
            return bad
        glog.info("http.cpp", 5640, "Marking agent '%s' as gone" % aid)
        with self.lock:
            if aid in self.gone:
                glog.warning("http.cpp", 5643, "Not marking agent '%s' as gone because it has "
                                               "already transitioned to gone" % aid)
                return text(200, "")
            if aid in self.marking_gone:
                glog.warning("http.cpp", 5651, "Not marking agent '%s' as gone because another "
                                               "gone transition is already in progress" % aid)
                return text(503, "Agent '%s' is already being transitioned to gone" % aid)
            if not self._known_agent(aid):
                return text(404, "Agent '%s' not found" % aid)
            self.marking_gone.add(aid)
        ts = time.time()
        self._store(lambda reg: self._registry_mark_gone(reg, aid, ts),
                    "Failed to mark agent %s as gone in the registry" % aid)
        self._mark_gone(aid, ts)
        return text(200, "")

    # ---------------------------------------------------------------- views
    def _agent_json(self, aid, a):
        info = a["info"]
        zero = {"cpus": 0.0, "gpus": 0.0, "mem": 0.0, "disk": 0.0}
        d = {"id": aid, "pid": info.get("pid"), "hostname": info.get("hostname"),
             "port": info.get("port"), "resources": info.get("resources", {}),
             "used_resources": dict(zero), "offered_resources": dict(zero),
             "reserved_resources": {}, "unreserved_resources": info.get("resources", {}),
             "reserved_resources_full": {}, "attributes": info.get("attributes", {}),
             "registered_time": a["registered_time"], "active": a["active"],
             "deactivated": aid in self.deactivated,
             "version": info.get("version", MESOS_VERSION),
             "capabilities": info.get("capabilities", masterinfo.AGENT_CAPABILITIES)}
        if a.get("reregistered_time"):
            d["reregistered_time"] = a["reregistered_time"]
        if info.get("domain"):
            d["domain"] = info["domain"]
        drain = self.draining.get(aid)
        if drain is not None:
            d["drain_info"] = json.loads(json.dumps(drain))
            if a.get("estimated_drain_start_time"):
                d["estimated_drain_start_time_seconds"] = a["estimated_drain_start_time"]
        return d

    def counts(self):
        with self.lock:
            if not self.elected:
                return dict(active=0, inactive=0, connected=0, disconnected=0, unreachable=0)
            vals = list(self.agents.values())
            return dict(active=sum(1 for a in vals if a["active"]),
                        inactive=sum(1 for a in vals if not a["active"]),
                        connected=sum(1 for a in vals if a["connected"]),
                        disconnected=sum(1 for a in vals if not a["connected"]),
                        unreachable=len(self.unreachable))

    def version_json(self):
        return {"version": MESOS_VERSION, "build_date": "2021-06-06 00:00:00",
                "build_time": BUILD_TIME, "build_user": "mesos-double",
                "mesos_double_package_version": PACKAGE_VERSION}

    def state_json(self):
        c = self.counts()
        with self.lock:
            d = self.version_json()
            d.pop("mesos_double_package_version")
            d.update({"start_time": self.start_time, "id": self.id, "pid": self.pid,
                      "hostname": self.addr.hostname,
                      "capabilities": list(masterinfo.MASTER_CAPABILITIES),
                      "activated_slaves": float(c["active"]),
                      "deactivated_slaves": float(c["inactive"]),
                      "unreachable_slaves": float(c["unreachable"])})
            if self.elected_time is not None:
                d["elected_time"] = self.elected_time
            if "domain" in self.info:
                d["domain"] = self.info["domain"]
            if self.leader:
                d["leader"] = self.leader.get("pid")
                d["leader_info"] = masterinfo.leader_info(self.leader)
            if self.flags.cluster:
                d["cluster"] = self.flags.cluster
            if self.flags.log_dir:
                d["log_dir"] = self.flags.log_dir
            if self.flags.external_log_file:
                d["external_log_file"] = self.flags.external_log_file
            d["flags"] = self.flags.display()
            d["slaves"] = [self._agent_json(i, a) for i, a in sorted(self.agents.items())]
            d["recovered_slaves"] = [dict(info, id=i) for i, info in
                                     sorted(self.recovered_agents.items())]
            d["frameworks"] = []
            d["completed_frameworks"] = []
            d["orphan_tasks"] = []
            d["unregistered_frameworks"] = []
            return d

    def metrics(self):
        c = self.counts()
        m = {"master/elected": 1.0 if self.elected else 0.0,
             "master/uptime_secs": time.monotonic() - self.start_mono,
             "master/slaves_active": float(c["active"]),
             "master/slaves_inactive": float(c["inactive"]),
             "master/slaves_connected": float(c["connected"]),
             "master/slaves_disconnected": float(c["disconnected"]),
             "master/slaves_unreachable": float(c["unreachable"]),
             "master/slave_registrations": float(self.counters["slave_registrations"]),
             "master/slave_reregistrations": float(self.counters["slave_reregistrations"]),
             "master/slave_removals": float(self.counters["slave_removals"]),
             "master/frameworks_active": 0.0, "master/frameworks_inactive": 0.0,
             "master/frameworks_connected": 0.0, "master/frameworks_disconnected": 0.0,
             "master/tasks_running": 0.0, "master/tasks_staging": 0.0,
             "master/tasks_starting": 0.0, "master/tasks_lost": 0.0,
             "master/tasks_unreachable": 0.0,
             "system/cpus_total": float(os.cpu_count() or 1)}
        if self.network is not None:
            m["registrar/log/recovered"] = 1.0 if self.replica.status == registry.VOTING else 0.0
            m["registrar/log/ensemble_size"] = float(self.network.ensemble_size())
        if self.elected and self.recovered:
            m["registrar/queued_operations"] = 0.0
            reg = self.registrar.snapshot() if self.registrar else self.in_memory_registry
            m["registrar/registry_size_bytes"] = float(len(json.dumps(reg)))
            if self.registrar is not None and self.registrar.fetch_ms is not None:
                m["registrar/state_fetch_ms"] = self.registrar.fetch_ms
            if self.registrar is not None and self.registrar.store_ms is not None:
                m["registrar/state_store_ms"] = self.registrar.store_ms
        return m

    # ---------------------------------------------------------------- routing
    def _redirect(self, req, with_path):
        leader = self.leader
        if not leader:
            return text(503, "No leader elected")
        host = leader.get("hostname") or net.reverse_dns(leader.get("address", {}).get("ip", ""))
        loc = "//%s:%s" % (host, leader.get("port"))
        if with_path:
            loc += req.path
            if req.query_string:
                loc += "?" + req.query_string
        return httpserver.Response(307, b"", headers={"Location": loc})

    def route(self, req):
        path = req.path
        if path.startswith("/__double/"):
            return self.route_internal(req)
        rel = path[len("/master"):] if path.startswith("/master/") else path
        rel = rel.lstrip("/")
        if rel == "health":
            fault = self.http.health_fault()
            return fault if fault is not None else text(200, "")
        if rel == "redirect":
            return self._redirect(req, False)
        if rel.startswith("redirect/"):
            return text(404, "")
        if path == "/version":
            return json_response(self.version_json())
        if rel == "flags":
            bad = self.auth.check(req, "readonly")
            return bad or json_response({"flags": self.flags.display()})
        if path == "/metrics/snapshot":
            bad = self.auth.check(req, "readonly")
            return bad or json_response(self.metrics())
        if rel.startswith("maintenance/") and rel not in MIXED_LEADER:
            return text(404, "")
        if rel in READONLY_LEADER or rel in READWRITE_LEADER or rel in MIXED_LEADER:
            if rel in READONLY_LEADER:
                realm = "readonly"
            elif rel in READWRITE_LEADER:
                realm = "readwrite"
            else:
                realm = "readonly" if req.method == "GET" else "readwrite"
            bad = self.auth.check(req, realm)
            if bad:
                return bad
            if not self.elected:
                return self._redirect(req, True)
            return self.leader_endpoint(rel, req)
        return text(404, "")

    def leader_endpoint(self, rel, req):
        if rel in ("state", "state.json"):
            return json_response(self.state_json())
        if rel == "state-summary":
            st = self.state_json()
            return json_response({"hostname": st["hostname"], "cluster": st.get("cluster", ""),
                                  "slaves": st["slaves"], "frameworks": []})
        if rel == "slaves":
            st = self.state_json()
            return json_response({"slaves": st["slaves"], "recovered_slaves": st["recovered_slaves"]})
        if rel == "frameworks":
            return json_response({"frameworks": [], "completed_frameworks": [],
                                  "unregistered_frameworks": []})
        if rel in ("tasks", "tasks.json"):
            return json_response({"tasks": []})
        if rel in ("roles", "roles.json"):
            return json_response({"roles": []})
        if rel == "maintenance/schedule":
            return json_response({}) if req.method == "GET" else text(200, "")
        if rel == "maintenance/status":
            return json_response({})
        if rel == "weights":
            return json_response([]) if req.method == "GET" else text(200, "")
        if rel == "quota":
            return json_response({"infos": []}) if req.method == "GET" else text(200, "")
        if rel == "teardown":
            if req.method != "POST":
                return text(405, "Expecting 'POST', received '%s'" % req.method)
            return text(400, "Unable to find 'frameworkId' in the request body")
        if rel == "api/v1":
            return self.api_v1(req)
        return text(400, "Not supported by the Mesos double")

    def api_v1(self, req):
        if req.method != "POST":
            return text(405, "Expecting 'POST', received '%s'" % req.method)
        if not self.recovered:
            return text(503, "Master has not finished recovery")
        call = req.json()
        if not isinstance(call, dict):
            return text(400, "Failed to parse body into JSON")
        t = call.get("type")
        if isinstance(t, str) and t:
            glog.info("http.cpp", 271, "Processing call %s" % t)
        if t == "GET_HEALTH":
            return json_response({"type": "GET_HEALTH", "get_health": {"healthy": True}})
        if t == "GET_VERSION":
            v = self.version_json()
            return json_response({"type": "GET_VERSION", "get_version": {"version_info": {
                "version": v["version"], "build_date": v["build_date"],
                "build_time": v["build_time"], "build_user": v["build_user"]}}})
        if t == "GET_FLAGS":
            return json_response({"type": "GET_FLAGS", "get_flags": {"flags": [
                {"name": k, "value": v} for k, v in self.flags.display().items()]}})
        if t == "GET_MASTER":
            return json_response({"type": "GET_MASTER", "get_master": {
                "master_info": self.info, "start_time": self.start_time,
                "elected_time": self.elected_time}})
        if t == "GET_AGENTS":
            st = self.state_json()
            agents = []
            for s in st["slaves"]:
                agent = {"agent_info": {"id": {"value": s["id"]}, "hostname": s["hostname"],
                                        "port": s["port"]}, "active": s["active"],
                         "deactivated": s["deactivated"], "pid": s["pid"],
                         "version": s["version"]}
                if "drain_info" in s:
                    agent["drain_info"] = s["drain_info"]
                if "estimated_drain_start_time_seconds" in s:
                    agent["estimated_drain_start_time"] = {
                        "nanoseconds": int(s["estimated_drain_start_time_seconds"] * 1e9)}
                agents.append(agent)
            recovered = [{"id": {"value": r["id"]}, "hostname": r.get("hostname"),
                          "port": r.get("port")} for r in st["recovered_slaves"]]
            return json_response({"type": "GET_AGENTS", "get_agents": {
                "agents": agents, "recovered_agents": recovered}})
        if t == "DRAIN_AGENT":
            return self.api_drain_agent(call)
        if t == "REACTIVATE_AGENT":
            return self.api_reactivate_agent(call)
        if t == "MARK_AGENT_GONE":
            return self.api_mark_agent_gone(call)
        return text(400, "Call type '%s' is not supported by the Mesos double" % t)

    def route_internal(self, req):
        path = req.path
        if path == "/__double/log/status" and self.replica is not None:
            return json_response(self.replica.describe(with_registry=bool(req.query.get("registry"))))
        if path == "/__double/log/write" and self.replica is not None and req.method == "POST":
            body = req.json() or {}
            ok = self.replica.write(int(body.get("version", 0)), body.get("registry"))
            return json_response({"ok": ok, "version": self.replica.state["version"]})
        if path == "/__double/master/register" and req.method == "POST":
            return self.handle_register(req)
        if path == "/__double/master/ping" and req.method == "POST":
            return self.handle_ping(req)
        return text(404, "")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    process.run_daemon(PROGRAM, flagsmod.MASTER, Master, argv)


if __name__ == "__main__":
    main()
