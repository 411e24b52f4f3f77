"""Agent draining, deactivation and removal through the v1 operator API (Mesos >= 1.9).

DRAIN_AGENT, REACTIVATE_AGENT and MARK_AGENT_GONE against real subprocesses (and, for the
failover case, a real ZooKeeper and three masters with the replicated-log registry)."""

import json
import os
import signal
import time

from mesos_double_testlib import (free_port, get, get_json, http, metrics, start_cluster,
                                  wait_all_ready, wait_leader, wait_until)

GRACE = {"nanoseconds": 5000000000}
GONE_SHUTDOWN = "Agent asked to shut down by master@127.0.0.1:%d because 'Agent has been marked gone'"


def api(port, call, auth=None):
    st, headers, body = http("POST", port, "/api/v1", body=call, auth=auth)
    return st, headers, body


def drain_call(aid, **kw):
    body = {"agent_id": {"value": aid}}
    body.update(kw)
    return {"type": "DRAIN_AGENT", "drain_agent": body}


def reactivate_call(aid):
    return {"type": "REACTIVATE_AGENT", "reactivate_agent": {"agent_id": {"value": aid}}}


def gone_call(aid):
    return {"type": "MARK_AGENT_GONE", "mark_agent_gone": {"agent_id": {"value": aid}}}


def slave(port, aid):
    """The agent's entry in /master/state slaves[] (None when not listed)."""
    for s in get_json(port, "/master/state")["slaves"]:
        if s["id"] == aid:
            return s
    return None


def get_agents(port):
    st, _, body = api(port, {"type": "GET_AGENTS"})
    assert st == 200, body
    return json.loads(body)["get_agents"]


def v1_agent(port, aid):
    for a in get_agents(port)["agents"]:
        if a["agent_info"]["id"]["value"] == aid:
            return a
    return None


def standalone(procs):
    port = free_port()
    m = procs.master(port, extra=["--registry=in_memory"])
    wait_until(lambda: http("POST", port, "/api/v1", body={"type": "GET_HEALTH"})[0] == 200,
               10, what="standalone master recovered")
    return port, m


def start_agent(procs, master, tmp_path, name, aport=None):
    aport = aport or free_port()
    work = str(tmp_path / name)
    ag = procs.agent(aport, master, work_dir=work, name=name)
    aid = wait_until(lambda: get_json(aport, "/state")["id"], 10, what="%s registered" % name)
    return ag, aport, aid, work


def test_drain_agent_draining_drained_then_reactivate(procs, tmp_path):
    mport, master = standalone(procs)
    ag, aport, aid, _ = start_agent(procs, "127.0.0.1:%d" % mport, tmp_path, "agent")
    wait_until(lambda: metrics(mport)["master/slaves_active"] == 1.0, 5, what="active agent")
    assert slave(mport, aid)["deactivated"] is False and "drain_info" not in slave(mport, aid)
    assert v1_agent(mport, aid)["deactivated"] is False

    # Freeze the agent so that it cannot be told yet: the master must stay in DRAINING.
    ag.kill(signal.SIGSTOP)
    try:
        st, _, body = api(mport, drain_call(aid, max_grace_period=GRACE))
        assert (st, body) == (200, b"")
        config = {"max_grace_period": GRACE, "mark_gone": False}
        s = slave(mport, aid)
        assert s["active"] is False and s["deactivated"] is True
        assert s["drain_info"] == {"state": "DRAINING", "config": config}
        assert isinstance(s["estimated_drain_start_time_seconds"], float)
        m = metrics(mport)
        assert (m["master/slaves_active"], m["master/slaves_inactive"]) == (0.0, 1.0)
        assert (m["master/slaves_connected"], m["master/slaves_disconnected"]) == (1.0, 0.0)
        st_ = get_json(mport, "/master/state")
        assert (st_["activated_slaves"], st_["deactivated_slaves"]) == (0.0, 1.0)
        time.sleep(1.3)                        # > the 1 s heartbeat: still not told
        assert slave(mport, aid)["drain_info"]["state"] == "DRAINING"
        st, _, body = api(mport, reactivate_call(aid))
        assert (st, body) == (400, b"Agent is still in the DRAINING state")
    finally:
        ag.kill(signal.SIGCONT)

    # Once told (next heartbeat), an agent without tasks is DRAINED.
    wait_until(lambda: slave(mport, aid)["drain_info"]["state"] == "DRAINED", 5,
               what="agent DRAINED")
    s = slave(mport, aid)
    assert s["active"] is False and s["deactivated"] is True
    assert s["drain_info"]["config"] == config
    a = v1_agent(mport, aid)
    assert a["active"] is False and a["deactivated"] is True
    assert a["drain_info"] == {"state": "DRAINED", "config": config}
    assert a["estimated_drain_start_time"]["nanoseconds"] > 0
    assert metrics(mport)["master/slaves_inactive"] == 1.0
    ast = wait_until(lambda: get_json(aport, "/state").get("drain_config") and
                     get_json(aport, "/state"), 5, what="agent drain_config")
    assert ast["drain_config"] == config
    meta = json.loads(open(os.path.join(str(tmp_path / "agent"), "meta", "slaves", aid,
                                        "drain.config")).read())
    assert meta == config
    mlog, alog = master.log(), ag.log()
    assert ("Transitioning agent %s to the DRAINING state; agent has (tasks, operations) == "
            "({  }, {  })" % aid) in mlog
    assert "Deactivating agent %s at slave(1)@127.0.0.1:%d (localhost)" % (aid, aport) in mlog
    assert "Transitioning agent %s to the DRAINED state" % aid in mlog
    assert "Agent %s successfully marked as DRAINED" % aid in mlog
    assert "Processing call DRAIN_AGENT" in mlog
    assert "Initiating drain with DrainConfig" in alog

    # REACTIVATE_AGENT clears deactivation and drain info.
    st, _, body = api(mport, reactivate_call(aid))
    assert (st, body) == (200, b"")
    s = slave(mport, aid)
    assert s["active"] is True and s["deactivated"] is False and "drain_info" not in s
    assert "estimated_drain_start_time_seconds" not in s
    a = v1_agent(mport, aid)
    assert a["active"] is True and a["deactivated"] is False and "drain_info" not in a
    m = metrics(mport)
    assert (m["master/slaves_active"], m["master/slaves_inactive"]) == (1.0, 0.0)
    wait_until(lambda: "drain_config" not in get_json(aport, "/state"), 5,
               what="agent drain_config cleared")
    assert "Reactivating agent %s at slave(1)@127.0.0.1:%d (localhost)" % (aid, aport) \
        in master.log()
    st, _, body = api(mport, reactivate_call(aid))
    assert (st, body) == (400, b"Agent is not deactivated")
    # A reconnecting agent stays active (and a drained one would stay deactivated).
    time.sleep(1.2)
    assert slave(mport, aid)["active"] is True


def test_drain_survives_leader_failover(procs, zk_path, tmp_path):
    url, _ = zk_path
    ports, ms = start_cluster(procs, url)
    leader = wait_leader(ports)
    wait_all_ready(ports, leader)
    a1, a1port, aid1, _ = start_agent(procs, url, tmp_path, "agent1")
    a2, a2port, aid2, work2 = start_agent(procs, url, tmp_path, "agent2")
    wait_until(lambda: metrics(leader)["master/slaves_active"] == 2.0, 5, what="2 active agents")
    follower = [p for p in ports if p != leader][0]

    # Non-leaders redirect like every other v1 call.
    st, h, _ = api(follower, drain_call(aid1))
    assert st == 307 and h["location"] == "//localhost:%d/api/v1" % leader
    st, _, body = api(leader, drain_call(aid1))
    assert (st, body) == (200, b"")
    wait_until(lambda: slave(leader, aid1)["drain_info"]["state"] == "DRAINED", 5,
               what="agent1 DRAINED")
    st, _, body = api(leader, gone_call(aid2))
    assert (st, body) == (200, b"")
    assert a2.wait(timeout=5) == 0
    assert GONE_SHUTDOWN % leader in a2.log()

    # Both are in the replicated log: check a follower's replica directly.
    def replica_registry():
        return get_json(follower, "/__double/log/status?registry=1")["registry"]
    reg = wait_until(lambda: (lambda r: r if r.get("gone", {}).get("slaves") else None)(
        replica_registry()), 5, what="gone agent in the follower's replica")
    entry = [x for x in reg["slaves"]["slaves"] if x["info"]["id"] == aid1][0]
    assert entry["deactivated"] is True
    assert entry["drain_info"] == {"state": "DRAINED", "config": {"mark_gone": False}}
    assert [g["id"] for g in reg["gone"]["slaves"]] == [aid2]
    assert aid2 not in [x["info"]["id"] for x in reg["slaves"]["slaves"]]

    # Fail the leader over: the new leader only knows what the registry holds.
    ms[ports.index(leader)].kill(signal.SIGKILL)
    rest = [p for p in ports if p != leader]
    new_leader = wait_leader(rest, timeout=12)

    def reregistered():
        s = slave(new_leader, aid1)
        return s if s and "reregistered_time" in s else None
    s = wait_until(reregistered, 10, what="agent1 reregistered with the new leader")
    assert s["active"] is False and s["deactivated"] is True
    assert s["drain_info"] == {"state": "DRAINED", "config": {"mark_gone": False}}
    a = v1_agent(new_leader, aid1)
    assert a["deactivated"] is True and a["drain_info"]["state"] == "DRAINED"
    m = metrics(new_leader)
    assert (m["master/slaves_active"], m["master/slaves_inactive"]) == (0.0, 1.0)
    assert slave(new_leader, aid2) is None and v1_agent(new_leader, aid2) is None
    nlm = ms[ports.index(new_leader)]
    assert "Deactivating agent %s at slave(1)@127.0.0.1:%d (localhost)" % (aid1, a1port) \
        in nlm.log()

    # A gone agent that comes back with its old checkpoint is told to shut down again.
    latest = os.path.join(work2, "meta", "slaves", "latest")
    assert not os.path.lexists(latest)
    os.symlink(aid2, latest)
    a2b = procs.agent(a2port, url, work_dir=work2, name="agent2-stale")
    assert a2b.wait(timeout=10) == 0
    assert "Recovered agent %s from checkpointed state" % aid2 in a2b.log()
    assert GONE_SHUTDOWN % new_leader in a2b.log()
    assert ("Refusing re-registration of agent at slave(1)@127.0.0.1:%d because it is "
            "already marked gone" % a2port) in nlm.log()

    # Reactivation on the new leader.
    st, _, _ = api(new_leader, reactivate_call(aid1))
    assert st == 200
    assert slave(new_leader, aid1)["active"] is True
    assert metrics(new_leader)["master/slaves_active"] == 1.0


def test_mark_gone_agent_exits_and_restarts_as_a_new_agent(procs, tmp_path):
    mport, master = standalone(procs)
    mhost = "127.0.0.1:%d" % mport
    ag, aport, aid, work = start_agent(procs, mhost, tmp_path, "agent")
    bg, bport, bid, _ = start_agent(procs, mhost, tmp_path, "agent-b")
    wait_until(lambda: metrics(mport)["master/slaves_active"] == 2.0, 5, what="2 active agents")
    latest = os.path.join(work, "meta", "slaves", "latest")
    assert os.readlink(latest) == aid

    st, _, body = api(mport, gone_call(aid))
    assert (st, body) == (200, b"")
    assert ag.wait(timeout=5) == 0
    log = ag.log()
    assert GONE_SHUTDOWN % mport in log and "Agent terminating" in log
    assert not os.path.lexists(latest)              # the restarted agent will be a new one
    assert slave(mport, aid) is None and v1_agent(mport, aid) is None
    m = metrics(mport)
    assert (m["master/slaves_active"], m["master/slaves_inactive"]) == (1.0, 0.0)
    assert "Marking agent '%s' as gone" % aid in master.log()
    # Idempotent; a gone agent can no longer be drained.
    st, _, body = api(mport, gone_call(aid))
    assert (st, body) == (200, b"")
    assert ("Not marking agent '%s' as gone because it has already transitioned to gone" % aid
            in master.log())
    assert api(mport, drain_call(aid))[:3:2] == (400, b"Unknown agent")

    # Restart with the same work_dir: registers as a NEW agent.
    ag2 = procs.agent(aport, mhost, work_dir=work, name="agent-restarted")
    new_id = wait_until(lambda: get_json(aport, "/state")["id"], 10, what="new agent id")
    assert new_id != aid and new_id.startswith(get_json(mport, "/master/state")["id"] + "-S")
    assert "Recovered agent" not in ag2.log()
    assert "given agent ID %s" % new_id in ag2.log()
    assert os.readlink(latest) == new_id
    assert slave(mport, new_id)["active"] is True

    # DRAIN_AGENT with mark_gone: the drained agent is marked gone (not left DRAINED).
    st, _, body = api(mport, drain_call(bid, mark_gone=True))
    assert (st, body) == (200, b"")
    assert bg.wait(timeout=6) == 0
    assert GONE_SHUTDOWN % mport in bg.log()
    assert "Marking agent %s in the DRAINED state as gone" % bid in master.log()
    assert "Initiating drain with DrainConfig {\"mark_gone\":true}" in bg.log()
    assert slave(mport, bid) is None
    assert sorted(s["id"] for s in get_json(mport, "/master/state")["slaves"]) == [new_id]
    m = metrics(mport)
    assert (m["master/slaves_active"], m["master/slaves_inactive"]) == (1.0, 0.0)


def test_unknown_agents_and_malformed_calls_are_refused(procs, tmp_path):
    creds = tmp_path / "credentials.json"
    creds.write_text(json.dumps({"credentials": [{"principal": "ops", "secret": "s3cret"}]}))
    creds.chmod(0o600)
    port = free_port()
    procs.master(port, extra=["--registry=in_memory", "--authenticate_http_readwrite",
                              "--credentials=%s" % creds])
    auth = ("ops", "s3cret")
    wait_until(lambda: get(port, "/health")[0] == 200, 10, what="master up")
    # The readwrite realm, like the other write calls.
    st, h, _ = api(port, drain_call("nope"))
    assert st == 401 and h["www-authenticate"] == 'Basic realm="mesos-master-readwrite"'
    wait_until(lambda: api(port, {"type": "GET_HEALTH"}, auth=auth)[0] == 200, 10,
               what="master recovered")
    assert api(port, drain_call("nope"), auth=auth)[:3:2] == (400, b"Unknown agent")
    assert api(port, gone_call("nope"), auth=auth)[:3:2] == (404, b"Agent 'nope' not found")
    assert api(port, reactivate_call("nope"), auth=auth)[:3:2] == \
        (400, b"Agent is not deactivated")
    st, _, body = api(port, {"type": "DRAIN_AGENT"}, auth=auth)
    assert st == 400 and b"Expecting 'drain_agent' to be present" in body
    st, _, body = api(port, {"type": "DRAIN_AGENT", "drain_agent": {}}, auth=auth)
    assert st == 400 and b"agent_id" in body
    st, _, body = api(port, {"type": "MARK_AGENT_GONE"}, auth=auth)
    assert st == 400 and b"Expecting 'mark_agent_gone' to be present" in body
    st, _, body = api(port, {"type": "REACTIVATE_AGENT"}, auth=auth)
    assert st == 400 and b"Expecting 'reactivate_agent' to be present" in body
    st, _, body = api(port, drain_call("nope", max_grace_period={"seconds": 3}), auth=auth)
    assert st == 400 and b"nanoseconds" in body
