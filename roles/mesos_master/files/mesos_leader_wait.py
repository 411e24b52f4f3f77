#!/usr/bin/env python3
"""Wait until the Mesos masters agree on one elected leader whose registry is recovered.

Runs on a master host (standard library only) so it needs no route from the controller.
Prints one JSON line: {"ok": bool, "leader": "ip:port", "seconds": float, "masters": {...},
"problem": "..."}; exits 0 when the cluster converged within --timeout, 1 otherwise.
With --expect-all, every listed master must be up and agree (first boot: the replicated log
initialises only once all 2*quorum-1 masters run and see each other).
"""
from __future__ import annotations

import argparse
import base64
import json
import ssl
import time
import urllib.error
import urllib.request


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # keep 307s visible
        return None


def fetch(url: str, auth: str | None, context: ssl.SSLContext | None, timeout: float = 2.0):
    """(status, headers, body bytes); status 0 when nothing answered."""
    opener = urllib.request.build_opener(_NoRedirect, urllib.request.HTTPSHandler(context=context))
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + auth)
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, b""
    except OSError:
        return 0, {}, b""


def observe(master: str, scheme: str, auth: str | None, context) -> dict:
    base = f"{scheme}://{master}"
    health, _, _ = fetch(f"{base}/health", None, context)
    info: dict = {"health": health}
    if health != 200:
        return info
    status, _, body = fetch(f"{base}/metrics/snapshot", auth, context)
    metrics = json.loads(body) if status == 200 and body else {}
    info.update(elected=int(metrics.get("master/elected", 0)),
                recovered=int(metrics.get("registrar/log/recovered", 0)),
                ensemble_size=int(metrics.get("registrar/log/ensemble_size", 0)))
    status, headers, _ = fetch(f"{base}/redirect", None, context)
    info["redirect"] = headers.get("Location", "").lstrip("/") if status == 307 else None
    status, _, body = fetch(f"{base}/flags", auth, context)
    flags = json.loads(body).get("flags", {}) if status == 200 and body else {}
    info["advertised"] = flags.get("advertise_ip") or flags.get("ip") or ""
    return info


def verdict(masters: dict, quorum: int, expect_all: bool, leader_names: dict) -> tuple[str | None, str]:
    """(leader, problem) for one observation; leader is None until the cluster converged."""
    down = sorted(m for m, i in masters.items() if i["health"] != 200)
    loopback = sorted(m for m, i in masters.items() if i.get("advertised", "").startswith("127."))
    if loopback:
        return None, (f"master(s) {', '.join(loopback)} advertise a loopback address; set mesos_common_ip "
                      f"so the replicas can reach each other")
    if expect_all and down:
        return None, (f"master(s) {', '.join(down)} do not answer /health; a fresh registry initialises only "
                      f"once all {len(masters)} masters run and reach each other (check their unit and journal)")
    if len(masters) - len(down) < quorum:
        return None, f"only {len(masters) - len(down)} of {len(masters)} masters answer; quorum is {quorum}"
    elected = sorted(m for m, i in masters.items() if i.get("elected") == 1)
    if len(elected) != 1:
        return None, ("no master is elected" if not elected else f"several masters claim leadership: {elected}")
    leader = elected[0]
    if masters[leader].get("recovered") != 1:
        return None, f"{leader} is elected but its registry is not recovered yet"
    leader_host = leader_names.get(leader, leader)
    disagree = sorted(m for m, i in masters.items()
                      if i["health"] == 200 and i.get("redirect") not in (leader, leader_host))
    if disagree:
        return None, f"master(s) {', '.join(disagree)} do not redirect to the leader {leader} yet"
    return leader, ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--masters", required=True, help="comma-separated ip:port=hostname:port of every master")
    parser.add_argument("--quorum", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=180)
    parser.add_argument("--expect-all", action="store_true")
    parser.add_argument("--scheme", default="http")
    parser.add_argument("--ca-file")
    parser.add_argument("--credentials", help="JSON file {principal, secret} for HTTP Basic auth")
    parser.add_argument("--client-cert", help="PEM certificate to present (masters requiring client certificates)")
    parser.add_argument("--client-key", help="PEM key of --client-cert")
    args = parser.parse_args()

    leader_names = dict(pair.split("=", 1) if "=" in pair else (pair, pair) for pair in args.masters.split(","))
    context = ssl.create_default_context(cafile=args.ca_file) if args.scheme == "https" else None
    if context is not None and args.client_cert:
        context.load_cert_chain(args.client_cert, args.client_key)
    auth = None
    if args.credentials:
        with open(args.credentials, encoding="utf-8") as handle:
            cred = json.load(handle)
        auth = base64.b64encode(f"{cred['principal']}:{cred['secret']}".encode()).decode()

    start = time.monotonic()
    while True:
        masters = {m: observe(m, args.scheme, auth, context) for m in leader_names}
        leader, problem = verdict(masters, args.quorum, args.expect_all, leader_names)
        elapsed = round(time.monotonic() - start, 1)
        if leader or elapsed >= args.timeout:
            print(json.dumps({"ok": bool(leader), "leader": leader, "seconds": elapsed,
                              "masters": masters, "problem": problem}, sort_keys=True))
            return 0 if leader else 1
        time.sleep(1)


if __name__ == "__main__":
    raise SystemExit(main())
