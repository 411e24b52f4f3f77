#!/usr/bin/env bash
# Private copies of the sandbox for parallel development: `tools/devcluster.sh NAME up` creates
# NAME-node1..3 and NAME-agent1..2 on network mesos-ha-NAME (inventory .cache/dev/NAME/hosts.yml,
# sharing inventories/sandbox/group_vars) and deploys site.yml; `converge` re-runs site.yml;
# `down` removes them. Extra arguments after the action go to ansible-playbook.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
name=${1:?usage: $0 NAME up|create|converge|down [ansible-playbook args]}
action=${2:-up}
shift 2 || true
dir="$repo/.cache/dev/$name"
export PATH="$repo/.venv/bin:$PATH" ANSIBLE_CONFIG="$repo/ansible.cfg" ANSIBLE_CACHE_PLUGIN=memory
export MESOS_HA_CACHE="$repo/.cache"
mkdir -p "$dir"
sed "s/sandbox-/$name-/g" inventories/sandbox/hosts.yml >"$dir/hosts.yml"
ln -sfn "$repo/inventories/sandbox/group_vars" "$dir/group_vars"
inv="$dir/hosts.yml"
case $action in
  create) ansible-playbook -i "$inv" tools/sandbox/create.yml -e sandbox_network="mesos-ha-$name" "$@" ;;
  up)
    ansible-playbook -i "$inv" tools/sandbox/create.yml -e sandbox_network="mesos-ha-$name"
    ansible-playbook -i "$inv" playbooks/site.yml "$@" ;;
  converge) ansible-playbook -i "$inv" playbooks/site.yml "$@" ;;
  down) ansible-playbook -i "$inv" tools/sandbox/create.yml -e sandbox_network="mesos-ha-$name" -e sandbox_state=absent ;;
  *) echo "unknown action $action" >&2; exit 2 ;;
esac
