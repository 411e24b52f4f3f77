#!/usr/bin/env bash
# Failover benchmark (not a test): run playbooks/failover-drill.yml N times against the local
# sandbox (make sandbox) and print min/median/max seconds per fault and event.
#   tools/bench-failover.sh N [FAULT...]      e.g. tools/bench-failover.sh 3 leader_kill zk_leader_kill
# Faults: leader_kill leader_stop leader_hang leader_partition zk_leader_kill zk_quorum_loss agent_hang
# (default: all). Each run's log and report stay in reports/failover/bench-<UTC time>/run-<i>/.
# A run that breaks a bound still counts (its times are real); a run whose cluster does not
# recover stops the benchmark. Needs the venv of tools/bootstrap.sh ($MESOS_HA_VENV).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
venv=${MESOS_HA_VENV:-$repo/.venv}
export PATH="$venv/bin:$PATH" ANSIBLE_CONFIG="$repo/ansible.cfg" ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
inventory=inventories/sandbox/hosts.yml

usage() { echo "usage: $0 N [FAULT...]   (N = number of drill runs, 1..50)" >&2; exit 2; }
[ $# -ge 1 ] || usage
runs=$1; shift
[[ $runs =~ ^[1-9][0-9]?$ ]] || usage
extra=()
if [ $# -gt 0 ]; then
  list=$(printf '"%s",' "$@")
  extra=(-e "{\"drill_faults\": [${list%,}]}")
fi
command -v ansible-playbook >/dev/null || { echo "ansible-playbook not found in $venv (run tools/bootstrap.sh)" >&2; exit 1; }
for host in $(sed -n 's/.*ansible_host: \(sandbox-[a-z0-9]*\).*/\1/p' "$inventory"); do
  [ "$(docker inspect -f '{{.State.Running}}' "$host" 2>/dev/null)" = true ] || {
    echo "sandbox container $host is not running (make sandbox)" >&2; exit 1; }
done

out=reports/failover/bench-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
reports=()
for i in $(seq 1 "$runs"); do
  start=$SECONDS
  printf '=== run %d/%d ... ' "$i" "$runs"
  if ansible-playbook -i "$inventory" playbooks/failover-drill.yml -e drill_confirm=yes \
       -e drill_report_dir="$repo/$out/run-$i" "${extra[@]}" >"$out/run-$i.log" 2>&1; then
    echo "ok ($((SECONDS - start))s)"
  else
    echo "bound/invariant broken or drill failed ($((SECONDS - start))s; see $out/run-$i.log)"
  fi
  if [ -f "$out/run-$i/failover-report.json" ]; then
    reports+=("$out/run-$i/failover-report.json")
  fi
  if ! python3 -c 'import glob, json, sys; sys.exit(not all(json.load(open(f))["ok"] for f in glob.glob(sys.argv[1] + "/*/after.json")))' \
       "$out/run-$i"; then
    echo "the cluster did not recover in run $i: stopping (see $out/run-$i.log)" >&2
    break
  fi
done
[ ${#reports[@]} -gt 0 ] || { echo "no report was written" >&2; exit 1; }
echo
echo "failover benchmark: ${#reports[@]} run(s), seconds after injection ($out)"
python3 playbooks/files/failover_drill.py bench "${reports[@]}" | tee "$out/bench.txt"
