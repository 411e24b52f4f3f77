"""3-master HA behaviour of the double against a real ZooKeeper (subprocesses on 127.0.0.1)."""

import json
import os
import signal
import time

from mesos_double_testlib import (elected_ports, free_port, get, get_json, http, metrics,
                                  start_cluster, wait_all_ready, wait_leader, wait_until)

SESSION = 2.0          # --zk_session_timeout=2secs used by the helpers
MARGIN = 4.0           # detection + registry recovery + scheduling slack


def test_three_masters_one_leader_layout_and_redirects(procs, zk_client, zk_path, tmp_path):
    url, path = zk_path
    zk_file = tmp_path / "zk"
    zk_file.write_text(url + "\n")
    ports = [free_port() for _ in range(3)]
    # the third master reads --zk from a file (SecurePathOrValue)
    procs.master(ports[0], zk=url, quorum=2)
    procs.master(ports[1], zk=url, quorum=2)
    procs.master(ports[2], zk="file://%s" % zk_file, quorum=2)
    leader = wait_leader(ports, timeout=15)
    followers = [p for p in ports if p != leader]
    assert elected_ports(ports) == [leader]

    # /redirect agrees everywhere, including on the leader itself
    for p in ports:
        st, h, body = get(p, "/master/redirect")
        assert st == 307 and h["location"] == "//localhost:%d" % leader
        st, h, _ = get(p, "/redirect")
        assert st == 307 and h["location"] == "//localhost:%d" % leader
        assert get(p, "/redirect/x")[0] == 404
        st, _, body = get(p, "/health")
        assert st == 200 and body == b""
        assert get(p, "/master/health")[0] == 200
    # leader-only endpoints on a follower: 307 with path + query
    st, h, _ = get(followers[0], "/master/state?jsonp=x")
    assert st == 307 and h["location"] == "//localhost:%d/master/state?jsonp=x" % leader
    st, h, _ = get(followers[1], "/state.json")
    assert st == 307 and h["location"] == "//localhost:%d/state.json" % leader
    st, h, _ = get(followers[1], "/master/maintenance/schedule")
    assert st == 307 and h["location"] == "//localhost:%d/master/maintenance/schedule" % leader

    # znode layout
    children = sorted(zk_client.get_children(path))
    infos = [c for c in children if c.startswith("json.info_")]
    assert len(infos) == 3 and "log_replicas" in children and len(children) == 4
    for c in infos:
        assert len(c.split("_")[1]) == 10 and c.split("_")[1].isdigit()
        data, stat = zk_client.get(path + "/" + c)
        assert stat.ephemeralOwner != 0
        mi = json.loads(data)
        assert set(mi) == {"id", "ip", "port", "pid", "hostname", "version", "address",
                           "capabilities"}
        assert mi["ip"] == 16777343 and mi["version"] == "1.11.0"
        assert mi["pid"] == "master@127.0.0.1:%d" % mi["port"]
        assert mi["address"] == {"hostname": "localhost", "ip": "127.0.0.1", "port": mi["port"]}
    lowest = min(infos, key=lambda c: int(c.split("_")[1]))
    assert json.loads(zk_client.get(path + "/" + lowest)[0])["port"] == leader
    data, stat = zk_client.get(path)
    assert data == b"" and stat.ephemeralOwner == 0
    data, stat = zk_client.get(path + "/log_replicas")
    assert data == b"" and stat.ephemeralOwner == 0
    reps = zk_client.get_children(path + "/log_replicas")
    assert len(reps) == 3 and all(len(r) == 10 and r.isdigit() for r in reps)
    rep_data = sorted(zk_client.get(path + "/log_replicas/" + r)[0].decode() for r in reps)
    assert rep_data == sorted("log-replica(1)@127.0.0.1:%d" % p for p in ports)

    # state / flags / metrics
    st = get_json(leader, "/master/state")
    for k in ("version", "build_date", "build_time", "build_user", "start_time", "elected_time",
              "id", "pid", "hostname", "capabilities", "activated_slaves", "deactivated_slaves",
              "unreachable_slaves", "leader", "leader_info", "flags", "slaves",
              "recovered_slaves", "frameworks", "completed_frameworks", "orphan_tasks",
              "unregistered_frameworks"):
        assert k in st, k
    assert st["leader"] == st["pid"] == "master@127.0.0.1:%d" % leader
    assert set(st["leader_info"]) == {"id", "pid", "port", "hostname"}
    assert isinstance(st["activated_slaves"], float)
    assert all(isinstance(v, str) for v in st["flags"].values())
    assert st["flags"]["quorum"] == "2" and "cluster" not in st
    fl = get_json(ports[2], "/master/flags")["flags"]
    assert fl["zk"] == "file://%s" % zk_file and fl["zk_session_timeout"] == "2secs"
    assert get_json(ports[0], "/flags")["flags"]["zk"] == url
    # Each replica reports recovered once it has caught up with the others (VOTING); a follower
    # can still be catching up when the leader is elected, so wait for it instead of racing it.
    wait_until(lambda: all(metrics(p)["registrar/log/recovered"] == 1.0 for p in ports), 10,
               what="every replica recovered")
    for p in ports:
        m = metrics(p)
        assert m["master/elected"] == (1.0 if p == leader else 0.0)
        assert m["registrar/log/recovered"] == 1.0
        assert m["registrar/log/ensemble_size"] == 3.0
        assert m["master/uptime_secs"] > 0
        for k in ("active", "connected", "disconnected", "inactive", "unreachable"):
            assert m["master/slaves_%s" % k] == 0.0
    v = get_json(followers[0], "/version")
    assert v["version"] == "1.11.0"


def test_first_boot_needs_all_replicas_then_fetch_timeout_aborts(procs, zk_path):
    url, _ = zk_path
    ports = [free_port() for _ in range(2)]           # only 2 of 2q-1=3 masters
    ms = [procs.master(p, zk=url, quorum=2, extra=["--registry_fetch_timeout=3secs"])
          for p in ports]
    leader = wait_leader(ports, timeout=15, recovered=False)
    t_elected = time.monotonic()
    lm = ms[ports.index(leader)]
    for p in ports:
        assert metrics(p)["registrar/log/recovered"] == 0.0    # cannot auto-initialise
    assert http("POST", leader, "/api/v1", body={"type": "GET_HEALTH"})[0] == 503
    rc = lm.wait(timeout=3 + MARGIN + 2)
    elapsed = time.monotonic() - t_elected
    assert rc == -signal.SIGABRT, lm.log()[-2000:]
    assert 2.0 <= elapsed <= 3 + MARGIN, elapsed
    assert ("Recovery failed: Failed to recover registrar: Failed to perform fetch within 3secs"
            in lm.log())
    other = ms[1 - ports.index(leader)]
    assert "Replica is in EMPTY status" in other.log() and "VOTING" not in other.log()


def test_kill9_failover_agent_keeps_id_and_agent_restart(procs, zk_path, tmp_path):
    url, path = zk_path
    ports, ms = start_cluster(procs, url)
    leader = wait_leader(ports)
    wait_all_ready(ports, leader)
    aport = free_port()
    awork = str(tmp_path / "agent")
    ag = procs.agent(aport, url, work_dir=awork,
                     extra=["--resources=cpus:2;mem:512", "--attributes=rack:r1"])
    aid = wait_until(lambda: get_json(aport, "/state")["id"], 10, what="agent id")
    assert aid.startswith(get_json(leader, "/master/state")["id"] + "-S")
    assert os.readlink(os.path.join(awork, "meta", "slaves", "latest")) == aid
    assert metrics(aport)["slave/registered"] == 1.0
    ast = get_json(aport, "/slave(1)/state")
    assert ast["pid"] == "slave(1)@127.0.0.1:%d" % aport and ast["hostname"] == "localhost"
    assert ast["resources"]["cpus"] == 2.0 and ast["resources"]["mem"] == 512.0
    assert ast["resources"]["ports"] == "[31000-32000]" and ast["attributes"] == {"rack": "r1"}
    assert ast["master_hostname"] == "localhost"
    assert get_json(aport, "/flags")["flags"]["master"] == url
    wait_until(lambda: metrics(leader)["master/slaves_active"] == 1.0, 5, what="active agent")
    s = get_json(leader, "/master/state")["slaves"][0]
    assert s["id"] == aid and s["active"] is True and s["port"] == aport
    assert s["pid"] == "slave(1)@127.0.0.1:%d" % aport

    # kill -9 the leader: a new leader within session timeout + margin
    lm = ms[ports.index(leader)]
    lm.kill(signal.SIGKILL)
    t0 = time.monotonic()
    rest = [p for p in ports if p != leader]
    new_leader = wait_leader(rest, timeout=SESSION + MARGIN + 2)
    took = time.monotonic() - t0
    assert took <= SESSION + MARGIN, took
    for p in rest:
        assert get(p, "/redirect")[1]["location"] == "//localhost:%d" % new_leader

    # the agent re-registers with the SAME id on the new leader
    def reregistered():
        sl = get_json(new_leader, "/master/state")["slaves"]
        return sl and sl[0]["id"] == aid and sl[0]["active"] and "reregistered_time" in sl[0]
    wait_until(reregistered, 10, what="agent reregistered with new leader")
    assert get_json(aport, "/state")["id"] == aid
    assert "New master detected at master@127.0.0.1:%d" % new_leader in ag.log()

    # agent process restart with the same work_dir keeps its id
    ag.kill(signal.SIGKILL)
    ag.wait(5)
    wait_until(lambda: metrics(new_leader)["master/slaves_disconnected"] == 1.0, 8,
               what="agent marked disconnected")
    assert metrics(new_leader)["master/slaves_active"] == 0.0
    ag2 = procs.agent(aport, url, work_dir=awork, name="agent-restarted")
    wait_until(lambda: metrics(aport)["slave/registered"] == 1.0, 10, what="agent re-registered")
    assert get_json(aport, "/state")["id"] == aid
    assert "Reregistered with master" in ag2.log()
    wait_until(lambda: metrics(new_leader)["master/slaves_active"] == 1.0, 5, what="active again")
    assert len(get_json(new_leader, "/master/state")["slaves"]) == 1

    # the killed master comes back (same work_dir) as a follower
    back = procs.master(leader, zk=url, quorum=2, name="master-back")
    wait_until(lambda: metrics(leader)["registrar/log/recovered"] == 1.0, 10, what="rejoined")
    assert metrics(leader)["master/elected"] == 0.0
    assert back.alive()


def test_sigterm_keeps_leader_znode_until_session_expiry(procs, zk_client, zk_path):
    url, path = zk_path
    ports, ms = start_cluster(procs, url)
    leader = wait_leader(ports)
    wait_all_ready(ports, leader)
    lm = ms[ports.index(leader)]
    node = [c for c in zk_client.get_children(path) if c.startswith("json.info_") and
            json.loads(zk_client.get(path + "/" + c)[0])["port"] == leader][0]
    lm.kill(signal.SIGTERM)
    rc = lm.wait(timeout=5)
    t_dead = time.monotonic()
    assert rc == -signal.SIGTERM
    assert "Received signal SIGTERM" in lm.log() and "; exiting" in lm.log()
    # the ephemeral node outlives the process ...
    assert zk_client.exists(path + "/" + node) is not None
    time.sleep(0.8)
    assert zk_client.exists(path + "/" + node) is not None
    rest = [p for p in ports if p != leader]
    assert get(rest[0], "/redirect")[1]["location"] == "//localhost:%d" % leader
    # ... until the server expires the session
    wait_until(lambda: zk_client.exists(path + "/" + node) is None, SESSION + 3,
               what="leader znode to expire")
    gone_after = time.monotonic() - t_dead
    assert gone_after >= 1.0, gone_after
    new_leader = wait_leader(rest, timeout=MARGIN + 2)
    assert new_leader in rest


def test_quorum_loss_elected_master_aborts(procs, zk_path):
    url, _ = zk_path
    ports, ms = start_cluster(procs, url, extra=["--registry_fetch_timeout=3secs"])
    leader = wait_leader(ports)
    wait_all_ready(ports, leader)
    rest = [p for p in ports if p != leader]
    # lose the leader and one follower: the survivor gets elected but has no quorum
    ms[ports.index(leader)].kill(signal.SIGKILL)
    ms[ports.index(rest[0])].kill(signal.SIGKILL)
    survivor = ms[ports.index(rest[1])]
    wait_until(lambda: metrics(rest[1])["master/elected"] == 1.0, SESSION + MARGIN,
               what="survivor elected")
    t_elected = time.monotonic()
    assert metrics(rest[1])["registrar/log/recovered"] == 1.0   # its own replica is VOTING
    rc = survivor.wait(timeout=3 + MARGIN)
    elapsed = time.monotonic() - t_elected
    assert rc == -signal.SIGABRT
    assert 2.0 <= elapsed <= 3 + MARGIN, elapsed
    log = survivor.log()
    assert "Elected as the leading master!" in log
    assert "F" + "" in log and ("Recovery failed: Failed to recover registrar: Failed to perform "
                                "fetch within 3secs") in log


def test_no_leader_gives_503(procs):
    port = free_port()
    dead_zk = "zk://127.0.0.1:%d/mesos" % free_port()       # nothing listens there
    procs.master(port, zk=dead_zk, quorum=1)
    wait_until(lambda: get(port, "/health")[0] == 200, 10, what="master up")
    st, _, body = get(port, "/redirect")
    assert st == 503 and body == b"No leader elected"
    assert get(port, "/master/state")[0] == 503
    assert metrics(port)["master/elected"] == 0.0


def test_zk_outage_leader_suicides_follower_recontends(procs, zk_path, zk_server):
    url, path = zk_path
    ports, ms = start_cluster(procs, url, n=2, quorum=1)
    leader = wait_leader(ports)
    follower = [p for p in ports if p != leader][0]
    lm = ms[ports.index(leader)]
    fm = ms[ports.index(follower)]
    wait_until(lambda: get(follower, "/redirect")[1].get("location") == "//localhost:%d" % leader,
               10, what="follower to see the leader")
    zk_server.pause()
    t0 = time.monotonic()
    try:
        rc = lm.wait(timeout=SESSION * 2 + MARGIN)
        elapsed = time.monotonic() - t0
        # keep ZooKeeper down until the follower's local expiry fired too
        wait_until(lambda: "Lost candidacy as a follower... Contend again" in fm.log(), 5,
                   what="follower lost candidacy")
    finally:
        zk_server.resume()
    assert rc == 1
    assert "Lost candidacy as a leader... committing suicide!" in lm.log()
    # local expiry timer = session timeout after the disconnection was noticed
    assert SESSION <= elapsed <= SESSION * 2 + MARGIN, elapsed
    assert "Forcing ZooKeeper session" in lm.log()
    assert fm.alive()
    wait_until(lambda: metrics(follower)["master/elected"] == 1.0, 15, what="follower elected")
    assert fm.log().count("Joined group as member") == 2      # it contended again


def test_zk_digest_auth_acls(procs, zk_client, zk_server, zk_path):
    _, path = zk_path
    url = "zk://mesos:pw@%s%s" % (zk_server.hosts, path)
    port = free_port()
    procs.master(port, zk=url, quorum=1)
    leader = wait_leader([port], timeout=15)
    assert leader == port
    node = [c for c in zk_client.get_children(path) if c.startswith("json.info_")][0]
    acls, _ = zk_client.get_acls(path + "/" + node)
    got = sorted((a.id.scheme, a.id.id.split(":")[0], a.perms) for a in acls)
    assert got == [("digest", "mesos", 31), ("world", "anyone", 1)]
    # unauthenticated clients can still read (detect) the leader, but not delete
    assert json.loads(zk_client.get(path + "/" + node)[0])["port"] == port
    from kazoo.exceptions import NoAuthError
    try:
        zk_client.delete(path + "/" + node)
        raise AssertionError("unauthenticated delete must fail")
    except NoAuthError:
        pass
    # the password never shows up in /flags when given via file://, but does when literal
    assert get_json(port, "/flags")["flags"]["zk"] == url


def test_registry_store_without_quorum_aborts(procs, zk_path):
    url, _ = zk_path
    ports, ms = start_cluster(procs, url, extra=["--registry_store_timeout=2secs"])
    leader = wait_leader(ports)
    wait_all_ready(ports, leader)
    for p in ports:
        if p != leader:
            ms[ports.index(p)].kill(signal.SIGKILL)
    lm = ms[ports.index(leader)]
    procs.agent(free_port(), url)                # admitting it needs a registry store
    rc = lm.wait(timeout=2 + MARGIN + 5)
    assert rc == -signal.SIGABRT
    assert ("Registrar aborting: Failed to update registry: Failed to perform store within 2secs"
            in lm.log())
