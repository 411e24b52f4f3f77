"""Group membership + leader detection loop (contender/detector/log replica group)."""

import threading
import time

from . import zk


class GroupDriver:
    """Runs Mesos' ZooKeeper group logic for one process.

    contend_data: callable -> bytes for the json.info_ member (masters) or None.
    replica_data: callable -> bytes for <path>/log_replicas/ member or None.
    Callbacks (called from the driver thread):
      on_candidacy_lost()            our json.info member is gone
      on_leader(info_or_None, is_me) detected leader changed
      on_replicas(list_of_pid_strings)
    """

    def __init__(self, url, session_timeout, log, contend_data=None, replica_data=None,
                 on_candidacy_lost=None, on_leader=None, on_replicas=None):
        self.url = url
        self.log = log
        self.contend_data = contend_data
        self.replica_data = replica_data
        self.on_candidacy_lost = on_candidacy_lost or (lambda: None)
        self.on_leader = on_leader or (lambda info, is_me: None)
        self.on_replicas = on_replicas or (lambda pids: None)
        self._event = threading.Event()
        self.session = zk.Session(url, session_timeout, log, self._expired, self._event.set)
        self.client = self.session.client
        self.my_node = None
        self.replica_node = None
        self._stale = []
        self._leader_child = False  # False = never detected; None = no leader
        self._lock = threading.RLock()
        self.replica_path = url.path + "/log_replicas"

    def start(self):
        self.log("I", "zookeeper.cpp", 262, "Creating new session to ZooKeeper %s with timeout %.0fms"
                 % (self.url.servers, self.session.timeout * 1000))
        self.session.start()
        threading.Thread(target=self._run, name="zk-group", daemon=True).start()

    def wake(self, *_):
        self._event.set()

    # -- expiry (local timer or server confirmed) ---------------------------------
    def _expired(self, local):
        with self._lock:
            had_member = self.my_node is not None
            if self.my_node:
                self._stale.append(self.url.path + "/" + self.my_node)
            if self.replica_node:
                self._stale.append(self.replica_path + "/" + self.replica_node)
            self.my_node = None
            self.replica_node = None
            if not local:
                self.log("I", "group.cpp", 525, "ZooKeeper session expired")
            if had_member:
                self.on_candidacy_lost()
            self._set_leader(None, None)

    def _set_leader(self, child, info):
        if child == self._leader_child:
            return
        self._leader_child = child
        is_me = child is not None and child == self.my_node
        self.on_leader(info, is_me)

    # -- main loop -----------------------------------------------------------------
    def _run(self):
        from kazoo.exceptions import KazooException, NoNodeError
        while True:
            self._event.wait(1.0)
            self._event.clear()
            if not self.session.connected():
                continue
            gen = self.session.generation
            try:
                self._sync(gen)
            except (KazooException, NoNodeError) as exc:
                self.log("W", "group.cpp", 961, "ZooKeeper operation failed (will retry): %r" % (exc,))
                time.sleep(0.5)
                self._event.set()
            except Exception as exc:  # noqa: BLE001 - keep the loop alive
                self.log("E", "group.cpp", 962, "Group error (will retry): %r" % (exc,))
                time.sleep(0.5)
                self._event.set()

    def _sync(self, gen):
        from kazoo.exceptions import NoNodeError
        c = self.client
        if gen != self.session.generation:
            return
        while self._stale:
            node = self._stale[0]
            try:
                stat = c.exists(node)
                if stat is not None and stat.ephemeralOwner == c.client_id[0]:
                    c.delete(node)
            except NoNodeError:
                pass
            self._stale.pop(0)
        zk.ensure_path(c, self.url.path)
        if self.contend_data is not None and self.my_node is None:
            created = c.create(self.url.path + "/" + zk.MASTER_INFO_JSON_LABEL + "_",
                               self.contend_data(), ephemeral=True, sequence=True)
            if gen != self.session.generation:
                self._stale.append(created)
                return
            self.my_node = created.rsplit("/", 1)[1]
            self.log("I", "group.cpp", 706, "Trying to create path '%s' in ZooKeeper" % self.url.path)
            self.log("I", "contender.cpp", 152, "Joined group as member '%s'" % created)
        if self.replica_data is not None:
            if self.replica_node is None:
                zk.ensure_path(c, self.replica_path)
                created = c.create(self.replica_path + "/", self.replica_data(),
                                   ephemeral=True, sequence=True)
                if gen != self.session.generation:
                    self._stale.append(created)
                    return
                self.replica_node = created.rsplit("/", 1)[1]
                self.log("I", "network.hpp", 480, "Replica joined group as '%s'" % created)
            try:
                rchildren = c.get_children(self.replica_path, watch=self.wake)
            except NoNodeError:
                rchildren = []
            if self.replica_node not in rchildren:
                self.log("I", "log.cpp", 262, "Renewing replica group membership")
                self.replica_node = None
                self._event.set()
            pids = []
            for child in sorted(rchildren):
                if zk.parse_member(child) is None:
                    continue
                try:
                    data, _ = c.get(self.replica_path + "/" + child)
                    pids.append(data.decode("utf-8", "replace").strip())
                except NoNodeError:
                    continue
            self.on_replicas(pids)
        children = c.get_children(self.url.path, watch=self.wake)
        if gen != self.session.generation:
            return
        if self.my_node is not None and self.my_node not in children:
            self.my_node = None
            self.on_candidacy_lost()
            self._event.set()
        best = zk.select_leader(children)
        if best is None:
            with self._lock:
                self._set_leader(None, None)
            return
        child, label, _seq = best
        if child == self._leader_child:
            return
        if gen != self.session.generation:
            return
        try:
            data, _ = c.get(self.url.path + "/" + child)
        except NoNodeError:
            self._event.set()
            return
        try:
            info = zk.decode_leader(label, data)
        except zk.LeaderDataError as exc:
            info = {"__error__": str(exc)}
        if gen != self.session.generation:
            return
        with self._lock:
            self._set_leader(child, info)
