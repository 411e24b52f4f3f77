#!/usr/bin/env bash
# Benchmark (not a test): time a fresh converge of a sandbox-shaped cluster, an idempotent
# re-run, and the same with more agents. Prints one table; touches only containers and a
# network named bench-*. Usage: tools/bench-converge.sh [AGENT_COUNTS...]   (default: 2 6)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
venv=${MESOS_HA_VENV:-$repo/.venv}
bash tools/bootstrap.sh >/dev/null
export PATH="$venv/bin:$PATH" ANSIBLE_CONFIG="$repo/ansible.cfg" ANSIBLE_CACHE_PLUGIN=memory
export PY_COLORS=0 ANSIBLE_FORCE_COLOR=0
counts=("$@")
[ ${#counts[@]} -eq 0 ] && counts=(2 6)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

inventory() {  # inventory AGENTS -> path of a sandbox-shaped inventory with that many agents
  local n=$1 path="$work/hosts-$1.yml" i
  {
    echo "all:"
    echo "  vars: {ansible_connection: community.docker.docker}"
    echo "  children:"
    echo "    control:"
    echo "      hosts:"
    for i in 1 2 3; do echo "        node$i: {ansible_host: bench-node$i}"; done
    echo "    zookeeper: {children: {control: }}"
    echo "    mesos_masters: {children: {control: }}"
    echo "    mesos_agents:"
    echo "      hosts:"
    for i in $(seq 1 "$n"); do echo "        agent$i: {ansible_host: bench-agent$i}"; done
  } >"$path"
  mkdir -p "$work/group_vars" && cp inventories/sandbox/group_vars/*.yml "$work/group_vars/"
  echo "$path"
}

timed() {  # timed LOG COMMAND... -> seconds on stdout; fails loudly
  local log=$1 start=$SECONDS; shift
  "$@" >"$log" 2>&1 || { tail -n 40 "$log" >&2; echo "bench: '$*' failed (log $log)" >&2; exit 1; }
  echo $((SECONDS - start))
}

printf '%-8s %-22s %8s\n' AGENTS STEP SECONDS
for n in "${counts[@]}"; do
  inv=$(inventory "$n")
  ansible-playbook -i "$inv" tools/sandbox/create.yml -e sandbox_network=mesos-ha-bench >/dev/null
  printf '%-8s %-22s %8s\n' "$n" "fresh converge" "$(timed "$work/converge-$n.log" ansible-playbook -i "$inv" playbooks/site.yml)"
  printf '%-8s %-22s %8s\n' "$n" "idempotent re-run" "$(timed "$work/rerun-$n.log" ansible-playbook -i "$inv" playbooks/site.yml)"
  if grep -qE 'changed=[1-9]' "$work/rerun-$n.log"; then echo "bench: warning: the re-run changed something" >&2; fi
  ansible-playbook -i "$inv" tools/sandbox/create.yml -e sandbox_network=mesos-ha-bench -e sandbox_state=absent >/dev/null
done
