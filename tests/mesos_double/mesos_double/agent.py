"""mesos-agent double: master detection, (re)registration, recovery of its id, HTTP."""

import json
import os
import random
import socket
import sys
import threading
import time

from . import (MESOS_VERSION, PACKAGE_VERSION, durations, election, flags as flagsmod, glog,
               httpserver, masterinfo, net, process, resources, zk)
from .httpserver import json_response, text

PROGRAM = "mesos-agent"
REGISTER_RETRY_INTERVAL_MAX = 60.0
DEFAULT_TOTAL_PING_TIMEOUT = 75.0

RECOVERING, DISCONNECTED, RUNNING, TERMINATING = (
    "RECOVERING", "DISCONNECTED", "RUNNING", "TERMINATING")
DRAIN_CONFIG_FILE = "drain.config"  # paths::getDrainConfigPath(): meta/slaves/<id>/drain.config


def load_credential(path):
    with open(path, encoding="utf-8") as fh:
        content = fh.read().strip()
    if content.startswith("{"):
        doc = json.loads(content)
        return {"principal": doc["principal"], "secret": doc.get("secret", "")}
    parts = content.split()
    if len(parts) != 2:
        raise ValueError("Invalid credential format")
    return {"principal": parts[0], "secret": parts[1]}


class Agent:
    def __init__(self, flags):
        self.flags = flags
        self.addr = net.Addresses(flags, 5051)
        self.pid = "slave(1)@%s:%d" % (self.addr.ip, self.addr.advertise_port)
        self.start_time = time.time()
        self.start_mono = time.monotonic()
        self.state = RECOVERING
        self.id = ""
        self.lock = threading.RLock()
        self.master = None  # leader info dict (must contain 'pid')
        self.master_gen = 0
        self.wake = threading.Event()
        self.credential = None
        self.http_credentials = {}
        self.meta_dir = os.path.join(flags.work_dir, "meta", "slaves")
        self.info = None
        self.drain_config = None           # DrainConfig received from the master
        self.estimated_drain_start = None

    def validate(self):
        f = self.flags
        if not f.master and not f.master_detector:
            glog.exit_failure("main.cpp", 317, "Missing required option `--master` or `--master_detector`")
        if f.master and f.master_detector:
            glog.exit_failure("main.cpp", 322, "Only one of --master or --master_detector options "
                                               "should be specified")
        if f.recover not in ("reconnect", "cleanup"):
            glog.exit_failure("slave.cpp", 973, "Unknown option for 'recover' flag %s. Please run "
                                                "the agent with '--help' to see the valid options"
                              % f.recover)
        try:
            self.resources = resources.parse_resources(f.resources)
            self.attributes = resources.parse_attributes(f.attributes)
        except (ValueError, KeyError) as exc:
            glog.exit_failure("slave.cpp", 600, "Failed to determine agent resources: %s" % exc)
        if f.credential:
            try:
                self.credential = load_credential(f.credential)
            except (OSError, ValueError, KeyError) as exc:
                glog.exit_failure("slave.cpp", 411, "Failed to read credential file '%s': %s"
                                  % (f.credential, exc))
        if f.http_credentials:
            try:
                self.http_credentials = httpserver.load_credentials(f.http_credentials)
            except (OSError, ValueError, KeyError) as exc:
                glog.exit_failure("slave.cpp", 420, "Failed to load HTTP credentials file '%s': %s"
                                  % (f.http_credentials, exc))
        for kind in ("readonly", "readwrite"):
            if getattr(f, "authenticate_http_" + kind) and not self.http_credentials:
                glog.exit_failure("http.cpp", 1297,
                                  "No credentials provided for the default 'basic' HTTP "
                                  "authenticator for realm 'mesos-agent-%s'" % kind)
        self.auth = httpserver.Authenticator("mesos-agent", f.authenticate_http_readonly,
                                             f.authenticate_http_readwrite, self.http_credentials)
        mval = (f.master or "").strip()
        self.zk_url = None
        self.static_master = None
        if mval.startswith("zk://"):
            try:
                self.zk_url = zk.parse_url(mval)
            except zk.URLError as exc:
                glog.exit_failure("main.cpp", 430, "Failed to create a master detector: %s" % exc)
        elif mval:
            hp = mval.split("@", 1)[1] if "@" in mval else mval
            host, _, port = hp.rpartition(":")
            try:
                ip = socket.gethostbyname(host)
                port = int(port)
            except (OSError, ValueError) as exc:
                glog.exit_failure("main.cpp", 430, "Failed to create a master detector: Failed to "
                                                   "parse '%s': %s" % (mval, exc))
            self.static_master = {"pid": "master@%s:%d" % (ip, port), "hostname": host,
                                  "port": port}

    # ---------------------------------------------------------------- recovery / meta
    def _recover_meta(self):
        glog.info("slave.cpp", 7420, "Recovering state from '%s'" % os.path.join(
            self.flags.work_dir, "meta"))
        latest = os.path.join(self.meta_dir, "latest")
        if os.path.islink(latest) or os.path.isdir(latest):
            try:
                aid = os.path.basename(os.path.realpath(latest))
                with open(os.path.join(self.meta_dir, aid, "slave.info"), encoding="utf-8") as fh:
                    saved = json.load(fh)
                self.id = saved.get("id", aid)
                glog.info("state.cpp", 62, "Recovered agent %s from checkpointed state" % self.id)
            except (OSError, ValueError) as exc:
                glog.warning("slave.cpp", 7440, "Failed to recover agent info: %s" % exc)
            if self.id:
                try:
                    with open(os.path.join(self.meta_dir, self.id, DRAIN_CONFIG_FILE),
                              encoding="utf-8") as fh:
                        self.drain_config = json.load(fh)
                    self.estimated_drain_start = time.time()
                except FileNotFoundError:
                    pass
                except (OSError, ValueError) as exc:
                    glog.warning("slave.cpp", 7450, "Failed to recover the drain config: %s"
                                 % exc)
        if self.flags.recover == "cleanup":
            glog.info("slave.cpp", 7500, "Cleanup recovery requested; nothing to clean up in the "
                                         "double (no executors)")
        self._build_info()
        with self.lock:
            self.state = DISCONNECTED
        glog.info("slave.cpp", 7600, "Finished recovery")

    def _build_info(self):
        info = {"hostname": self.addr.hostname, "port": self.addr.advertise_port, "pid": self.pid,
                "resources": self.resources, "attributes": self.attributes,
                "version": MESOS_VERSION, "capabilities": list(masterinfo.AGENT_CAPABILITIES)}
        if self.flags.domain:
            try:
                info["domain"] = json.loads(self.flags.domain)
            except ValueError:
                pass
        if self.id:
            info["id"] = self.id
        self.info = info

    def _checkpoint(self):
        d = os.path.join(self.meta_dir, self.id)
        os.makedirs(d, exist_ok=True)
        tmp = os.path.join(d, "slave.info.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(self.info, fh)
        os.replace(tmp, os.path.join(d, "slave.info"))
        latest = os.path.join(self.meta_dir, "latest")
        tmpl = latest + ".tmp"
        if os.path.lexists(tmpl):
            os.unlink(tmpl)
        os.symlink(self.id, tmpl)
        os.replace(tmpl, latest)

    # ---------------------------------------------------------------- draining / shutdown
    def _drain(self, config):
        """Slave::drain(): checkpoint the DrainConfig the master sent (None: not draining).

        The double has no tasks to kill. It keeps the config for as long as the master
        reports the agent as draining (see README: real agents drop it once drained)."""
        with self.lock:
            if config == self.drain_config:
                return
            previous = self.drain_config
            agent_id = self.id
            if config is None:
                self.drain_config = None
                self.estimated_drain_start = None
            else:
                self.drain_config = config
                self.estimated_drain_start = time.time()
        path = os.path.join(self.meta_dir, agent_id, DRAIN_CONFIG_FILE) if agent_id else None
        if config is None:
            if path:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
            return
        text_cfg = json.dumps(config, separators=(",", ":"))
        glog.info("slave.cpp", 1104, "Initiating drain with DrainConfig %s%s; agent has "
                  "(pending tasks, tasks, queued operations) == ({  }, {  }, {  })"
                  % (text_cfg, "" if previous is None else "; overwriting previous DrainConfig "
                     + json.dumps(previous, separators=(",", ":"))))
        if path:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(config, fh)
            os.replace(tmp, path)

    def _shutdown(self, master, message):
        """Slave::shutdown() on a ShutdownMessage from the master, then Slave::finalize().

        With no frameworks the agent terminates at once; as it was TERMINATING, finalize()
        removes the checkpointed 'latest' symlink so that a restarted agent does not recover
        this agent ID and registers as a new agent. main() then returns EXIT_SUCCESS."""
        glog.info("slave.cpp", 1003, "Agent asked to shut down by %s%s" % (
            master.get("pid"), " because '%s'" % message if message else ""))
        with self.lock:
            self.state = TERMINATING
        glog.info("slave.cpp", 967, "Agent terminating")
        latest = os.path.join(self.meta_dir, "latest")
        try:
            os.unlink(latest)
        except FileNotFoundError:
            pass
        except OSError as exc:
            glog.error("slave.cpp", 980, "Failed to remove '%s': %s" % (latest, exc))
        os._exit(0)

    # ---------------------------------------------------------------- detection
    def _on_leader(self, info, is_me):
        with self.lock:
            if info is not None and "__error__" in info:
                glog.exit_failure("slave.cpp", 1480, "Failed to detect a master: %s" % info["__error__"])
            self.master = info
            self.master_gen += 1
            if info is None:
                glog.info("slave.cpp", 1460, "Lost leading master")
            else:
                glog.info("slave.cpp", 1470, "New master detected at %s" % info.get("pid"))
            if self.state == RUNNING:
                self.state = DISCONNECTED
        self.wake.set()

    def _sleep_interruptible(self, seconds, gen):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self.master_gen != gen:
                return False
            self.wake.wait(min(0.1, max(0.0, end - time.monotonic())))
            self.wake.clear()
        return self.master_gen == gen

    def _master_addr(self, info):
        return net.split_pid(info["pid"])

    def _registration_loop(self):
        while True:
            with self.lock:
                gen = self.master_gen
                master = self.master
            if master is None:
                self.wake.wait(0.5)
                self.wake.clear()
                continue
            b = self.flags.registration_backoff_factor
            if not self._sleep_interruptible(random.uniform(0, b), gen):
                continue
            max_backoff = max(b * 2, 0.05)
            registered = False
            while self.master_gen == gen:
                if self._register_once(master):
                    registered = True
                    break
                delay = random.uniform(0, max_backoff)
                max_backoff = min(max_backoff * 2, REGISTER_RETRY_INTERVAL_MAX)
                if not self._sleep_interruptible(delay, gen):
                    break
            if registered:
                self._heartbeat_loop(master, gen)
                # Returned without a leader change: the master asked us to reregister or
                # pings timed out; start a new (re)registration cycle.
                with self.lock:
                    if self.master_gen == gen:
                        self.master_gen += 1

    def _register_once(self, master):
        host, port = self._master_addr(master)
        body = {"info": self.info}
        if self.id:
            body["id"] = self.id
        if self.credential:
            glog.info("slave.cpp", 1560, "Authenticating with master %s" % master["pid"])
            body["credential"] = self.credential
        else:
            glog.info("slave.cpp", 1555, "No credentials provided. Attempting to register "
                                         "without authentication")
        try:
            status, resp = net.request(host, port, "POST", "/__double/master/register", body,
                                       timeout=max(5.0, 0.0))
        except (OSError, ValueError) as exc:
            glog.warning("slave.cpp", 1620, "Failed to send registration to master %s: %s"
                         % (master["pid"], exc))
            return False
        if isinstance(resp, dict) and isinstance(resp.get("shutdown"), dict):
            self._shutdown(master, resp["shutdown"].get("message", ""))
        if status == 200 and isinstance(resp, dict):
            new_id = resp["agent_id"]
            with self.lock:
                rereg = bool(self.id)
                self.id = new_id
                self.info["id"] = new_id
                self.ping_timeout = float(resp.get("ping_timeout", DEFAULT_TOTAL_PING_TIMEOUT))
                self.heartbeat_interval = float(resp.get("heartbeat_interval", 1.0))
                self.state = RUNNING
            self._checkpoint()
            if rereg:
                glog.info("slave.cpp", 1700, "Reregistered with master %s" % master["pid"])
            else:
                glog.info("slave.cpp", 1690, "Registered with master %s; given agent ID %s"
                          % (master["pid"], new_id))
            self._drain(resp.get("drain_config"))
            return True
        err = resp.get("error") if isinstance(resp, dict) else resp
        if status == 403:
            if self.credential:
                glog.error("slave.cpp", 1590, "Master %s refused authentication: %s; agent is not "
                                              "registered" % (master["pid"], err))
            else:
                glog.error("slave.cpp", 1591, "Master %s refused registration: %s; agent is not "
                                              "registered" % (master["pid"], err))
        else:
            glog.info("slave.cpp", 1630, "Registration with master %s not accepted (HTTP %s: %s); "
                                         "retrying" % (master["pid"], status, err))
        return False

    def _heartbeat_loop(self, master, gen):
        host, port = self._master_addr(master)
        last_ok = time.monotonic()
        while self.master_gen == gen:
            if not self._sleep_interruptible(self.heartbeat_interval, gen):
                return
            try:
                status, resp = net.request(host, port, "POST", "/__double/master/ping",
                                           {"id": self.id}, timeout=2.0)
            except (OSError, ValueError):
                status, resp = None, None
            if isinstance(resp, dict) and isinstance(resp.get("shutdown"), dict):
                self._shutdown(master, resp["shutdown"].get("message", ""))
            if status == 200:
                last_ok = time.monotonic()
                if isinstance(resp, dict):
                    self._drain(resp.get("drain_config"))
                continue
            if status == 409:
                glog.info("slave.cpp", 1650, "Master %s asked the agent to reregister" % master["pid"])
                with self.lock:
                    self.state = DISCONNECTED
                return
            if time.monotonic() - last_ok > self.ping_timeout:
                glog.info("slave.cpp", 6680, "No pings from master received within %s"
                          % durations.format(self.ping_timeout))
                with self.lock:
                    self.state = DISCONNECTED
                return

    # ---------------------------------------------------------------- views
    def state_json(self):
        with self.lock:
            d = {"version": MESOS_VERSION, "build_date": "2021-06-06 00:00:00",
                 "build_time": 1622937600.0, "build_user": "mesos-double",
                 "start_time": self.start_time, "id": self.id, "pid": self.pid,
                 "hostname": self.addr.hostname,
                 "capabilities": list(masterinfo.AGENT_CAPABILITIES),
                 "resources": self.resources, "reserved_resources": {},
                 "unreserved_resources": self.resources, "reserved_resources_full": {},
                 "attributes": self.attributes}
            if self.info and "domain" in self.info:
                d["domain"] = self.info["domain"]
            if self.drain_config is not None:
                d["drain_config"] = json.loads(json.dumps(self.drain_config))
                if self.estimated_drain_start is not None:
                    d["estimated_drain_start_time_seconds"] = self.estimated_drain_start
            if self.master is not None:
                ip = net.split_pid(self.master["pid"])[0]
                d["master_hostname"] = net.reverse_dns(ip)
            if self.flags.log_dir:
                d["log_dir"] = self.flags.log_dir
            if self.flags.external_log_file:
                d["external_log_file"] = self.flags.external_log_file
            d["flags"] = self.flags.display()
            d["frameworks"] = []
            d["completed_frameworks"] = []
            return d

    def metrics(self):
        return {"slave/registered": 1.0 if self.state == RUNNING else 0.0,
                "slave/uptime_secs": time.monotonic() - self.start_mono,
                "slave/recovery_errors": 0.0, "slave/frameworks_active": 0.0,
                "slave/tasks_running": 0.0, "slave/tasks_staging": 0.0,
                "slave/tasks_starting": 0.0, "slave/executors_running": 0.0,
                "slave/cpus_total": float(self.resources.get("cpus", 0.0)),
                "slave/mem_total": float(self.resources.get("mem", 0.0)),
                "slave/disk_total": float(self.resources.get("disk", 0.0)),
                "system/cpus_total": float(os.cpu_count() or 1)}

    def route(self, req):
        path = req.path
        rel = path[len("/slave(1)"):] if path.startswith("/slave(1)/") else path
        rel = rel.lstrip("/")
        if rel == "health":
            fault = self.http.health_fault()
            return fault if fault is not None else text(200, "")
        if path == "/version":
            return json_response({"version": MESOS_VERSION, "build_date": "2021-06-06 00:00:00",
                                  "build_time": 1622937600.0, "build_user": "mesos-double",
                                  "mesos_double_package_version": PACKAGE_VERSION})
        if rel in ("state", "state.json"):
            bad = self.auth.check(req, "readonly")
            if bad:
                return bad
            if self.state == RECOVERING:
                return text(503, "Agent has not finished recovery")
            return json_response(self.state_json())
        if rel == "flags":
            bad = self.auth.check(req, "readonly")
            return bad or json_response({"flags": self.flags.display()})
        if path == "/metrics/snapshot":
            bad = self.auth.check(req, "readonly")
            return bad or json_response(self.metrics())
        if rel == "api/v1":
            bad = self.auth.check(req, "readwrite")
            if bad:
                return bad
            call = req.json() or {}
            if call.get("type") == "GET_HEALTH":
                return json_response({"type": "GET_HEALTH", "get_health": {"healthy": True}})
            return text(400, "Call type '%s' is not supported by the Mesos double"
                        % call.get("type"))
        return text(404, "")

    # ---------------------------------------------------------------- start
    def start(self):
        glog.info("slave.cpp", 290, "Mesos agent started on (1)@%s:%d" % (self.addr.ip,
                                                                         self.addr.advertise_port))
        glog.info("slave.cpp", 291, "Flags at startup: " + " ".join(
            "--%s=\"%s\"" % kv for kv in self.flags.display().items()))
        try:
            self.http = httpserver.HTTPServer("agent", self.addr.bind_ip, self.addr.port, self.route)
        except OSError as exc:
            glog.exit_failure("process.cpp", 1120, "Failed to initialize: Failed to bind on %s:%d: %s"
                              % (self.addr.bind_ip, self.addr.port, exc.strerror or exc))
        self.http.serve()
        os.makedirs(self.meta_dir, exist_ok=True)
        self._recover_meta()
        threading.Thread(target=self._registration_loop, name="registration", daemon=True).start()
        if self.zk_url is not None:
            self.group = election.GroupDriver(self.zk_url, self.flags.zk_session_timeout, glog.log,
                                              on_leader=self._on_leader)
            self.group.start()
        else:
            self._on_leader(self.static_master, False)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    process.run_daemon(PROGRAM, flagsmod.AGENT, Agent, argv)


if __name__ == "__main__":
    main()
