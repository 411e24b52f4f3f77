#!/usr/bin/env bash
# The local HA sandbox: `up` creates 5 systemd containers (inventories/sandbox/hosts.yml),
# deploys playbooks/site.yml and prints the cluster's state; `status` prints it again;
# `down` removes the containers and the network.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
venv=${MESOS_HA_VENV:-$repo/.venv}
inventory=inventories/sandbox/hosts.yml

bash tools/bootstrap.sh
export PATH="$venv/bin:$PATH" ANSIBLE_CONFIG="$repo/ansible.cfg" MESOS_HA_CACHE="$repo/.cache"

# Recreated containers get new addresses: drop their cached facts so no play uses stale ones.
forget_facts() { rm -rf "$repo/.cache/ansible-facts"; }

case ${1:-up} in
  up)
    forget_facts
    ansible-playbook -i "$inventory" tools/sandbox/create.yml
    ansible-playbook -i "$inventory" playbooks/site.yml
    ansible-playbook -i "$inventory" playbooks/status.yml ;;
  status)
    ansible-playbook -i "$inventory" playbooks/status.yml ;;
  down)
    forget_facts
    ansible-playbook -i "$inventory" tools/sandbox/create.yml -e sandbox_state=absent
    echo "sandbox: removed; containers left: $(docker ps -aq --filter name=sandbox- | wc -l)" ;;
  *) echo "usage: $0 up|status|down" >&2; exit 2 ;;
esac
