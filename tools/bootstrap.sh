#!/usr/bin/env bash
# Prepare this machine for the sandbox and the tests, idempotently:
#   1. host packages (Debian/Ubuntu, as root): docker.io, debootstrap, and what the unit tests
#      need (a real ZooKeeper and a JRE for the ZooKeeper tests);
#   2. a Docker engine that answers (started in the background when systemd is not PID 1);
#   3. a virtualenv with the pinned Python requirements (reinstalled when requirements.txt changes);
#   4. the systemd base image, built locally and cached by the hash of its recipe (skipped with
#      MESOS_HA_SKIP_IMAGE=1: tools/test.sh then builds it while the static stages run);
#   5. where the sandbox and the tests get Mesos from (tools/mesos-source.sh).
# Nothing is downloaded except from the distribution's and PyPI's package registries.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${MESOS_HA_VENV:-$repo/.venv}
dockerd_log=${MESOS_HA_DOCKERD_LOG:-/var/log/mesos-ha-dockerd.log}
host_packages=(docker.io debootstrap zookeeper default-jre-headless)
say() { printf 'bootstrap: %s\n' "$*"; }
die() { printf 'bootstrap: ERROR: %s\n' "$*" >&2; exit 1; }

install_host_packages() {
  local missing=() p
  for p in "${host_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    die "missing packages: ${missing[*]}. Install them (Debian/Ubuntu: sudo apt-get install ${missing[*]}) and run again."
  fi
  say "installing host packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

docker_answers() { timeout 10 docker info >/dev/null 2>&1; }

ensure_docker() {
  docker_answers && return 0
  command -v dockerd >/dev/null || die "no Docker engine answers and dockerd is not installed (apt-get install docker.io)."
  [ "$(id -u)" -eq 0 ] || die "no Docker engine answers; start it (sudo systemctl start docker) and run again."
  if [ -d /run/systemd/system ]; then
    say "starting docker.service"
    systemctl start docker
  else
    # systemd is not PID 1 here (a container or a CI sandbox): run the engine ourselves.
    say "starting dockerd in the background (log: $dockerd_log)"
    nohup dockerd >"$dockerd_log" 2>&1 &
  fi
  local i
  for i in $(seq 1 60); do
    docker_answers && { say "Docker engine is up after ${i}s"; return 0; }
    sleep 1
  done
  tail -n 20 "$dockerd_log" >&2 || true
  die "the Docker engine did not answer within 60s (see $dockerd_log)."
}

ensure_venv() {
  local stamp="$venv/.requirements.sha256" want
  want=$(sha256sum "$repo/requirements.txt" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  say "creating the virtualenv in $venv"
  python3 -m venv "$venv"
  if ! "$venv/bin/pip" install -q --disable-pip-version-check -r "$repo/requirements.txt" >"$venv/pip.log" 2>&1; then
    tail -n 30 "$venv/pip.log" >&2
    die "pip could not install requirements.txt (full log: $venv/pip.log)."
  fi
  echo "$want" >"$stamp"
}

# The sandbox and the scenarios need real secrets (the roles refuse empty or default-looking
# ones). They are made once per clone, outside git, and read by inventories/sandbox/group_vars;
# made here, before any play runs, so parallel forks can never generate two different values.
sandbox_secrets=(zookeeper_quorum zookeeper_super mesos_zk mesos_agent mesos_operator mesos_framework)
ensure_sandbox_secrets() {
  local dir="$repo/.cache/secrets" name
  install -d -m 0700 "$dir"
  for name in "${sandbox_secrets[@]}"; do
    [ -s "$dir/$name" ] && continue
    (umask 077; python3 -c 'import secrets; print(secrets.token_hex(24), end="")' >"$dir/$name")
  done
}

# Each systemd container takes several inotify instances; the kernel default (128 per user)
# runs out at about 15 containers ("Too many open files" when a container boots).
raise_inotify_limit() {
  local f=/proc/sys/fs/inotify/max_user_instances
  [ -w "$f" ] && [ "$(cat "$f")" -lt 1024 ] && echo 1024 >"$f" || true
}

main() {
  local start=$SECONDS
  raise_inotify_limit
  ensure_sandbox_secrets
  if command -v apt-get >/dev/null; then install_host_packages; fi
  ensure_docker
  if [ "${MESOS_HA_SKIP_IMAGE:-0}" = 1 ]; then
    # tools/test.sh builds the image itself, beside the static test stages that do not need it.
    ensure_venv
  else
    # The virtualenv and the image do not depend on each other (pip and debootstrap each wait
    # mostly on downloads), so a fresh machine makes both at once.
    ensure_venv &
    local venv_pid=$!
    bash "$repo/tools/image/build.sh" || { wait "$venv_pid"; die "could not build the base image"; }
    wait "$venv_pid" || exit 1
  fi
  bash "$repo/tools/mesos-source.sh" || exit 1
  say "ready in $((SECONDS - start))s"
}

main "$@"
