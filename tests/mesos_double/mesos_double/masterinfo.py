"""MasterInfo as JSON (JSON::protobuf output: sorted keys, compact)."""

import json

from . import MESOS_VERSION, net

MASTER_CAPABILITIES = ["AGENT_UPDATE", "AGENT_DRAINING", "QUOTA_V2"]
AGENT_CAPABILITIES = ["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT",
                      "RESOURCE_PROVIDER", "RESIZE_VOLUME", "AGENT_OPERATION_FEEDBACK",
                      "AGENT_DRAINING", "TASK_RESOURCE_LIMITS"]


def build(master_id, ip, port, hostname, domain=None, version=MESOS_VERSION):
    info = {
        "id": master_id,
        "ip": net.ip_to_uint32_network_order(ip),
        "port": int(port),
        "pid": "master@%s:%d" % (ip, port),
        "hostname": hostname,
        "version": version,
        "address": {"hostname": hostname, "ip": ip, "port": int(port)},
        "capabilities": [{"type": c} for c in MASTER_CAPABILITIES],
    }
    if domain:
        info["domain"] = domain
    return info


def serialize(info):
    return json.dumps(info, sort_keys=True, separators=(",", ":")).encode()


def leader_info(info):
    """leader_info in /master/state: {id, pid, port, hostname, domain?}."""
    out = {"id": info.get("id"), "pid": info.get("pid"), "port": info.get("port"),
           "hostname": info.get("hostname")}
    if "domain" in info:
        out["domain"] = info["domain"]
    return out
