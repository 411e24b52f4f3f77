#!/usr/bin/env bash
# Run every test of the project and print one summary: lint (yamllint, ansible-lint), the
# pytest unit tests, --syntax-check of every playbook, and every Molecule scenario.
# Usage: tools/test.sh [static|lint|unit|syntax|molecule|molecule:<scenario>]...   (default: all;
# static = lint, unit and syntax side by side)
# Each stage's full output is kept in reports/logs/<stage>.log; a failed stage's tail is shown.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
venv=${MESOS_HA_VENV:-$repo/.venv}
MESOS_HA_SKIP_IMAGE=1 bash tools/bootstrap.sh || exit 1
export PATH="$venv/bin:$PATH" ANSIBLE_CONFIG="$repo/ansible.cfg"
if [ ! -t 1 ]; then export PY_COLORS=0 ANSIBLE_FORCE_COLOR=0 ANSIBLE_NOCOLOR=1 NO_COLOR=1; fi

logs=$repo/reports/logs
mkdir -p "$logs"
names=() results=() times=()

run_stage() {  # run_stage NAME COMMAND...
  local name=$1; shift
  local log="$logs/${name//[:\/]/_}.log" start=$SECONDS rc
  printf '\n=== %s: %s\n' "$name" "$*"
  "$@" >"$log" 2>&1
  rc=$?
  record "$name" "$rc" $((SECONDS - start)) "$log"
}

record() {  # record NAME RC SECONDS LOG
  names+=("$1"); times+=("$3")
  if [ "$2" -eq 0 ]; then
    results+=(PASS)
    tail -n 3 "$4"
  else
    results+=(FAIL)
    echo "--- $1 failed (exit $2); last 300 lines of $4:"
    tail -n 300 "$4"
  fi
}

# Stages in the background: bg_start NAME PRIORITY COMMAND... runs COMMAND at that nice level
# with its output in reports/logs/NAME.log; bg_collect NAME waits for it and records its result.
declare -A bg_pids=()
bg_start() {
  local name=$1 prio=$2
  shift 2
  ( t=$SECONDS
    renice -n "$prio" -p "$BASHPID" >/dev/null
    "$@" >"$logs/$name.log" 2>&1
    echo "$? $((SECONDS - t))" >"$logs/$name.log.status" ) &
  bg_pids[$name]=$!
}
bg_collect() {
  local name=$1 rc secs
  wait "${bg_pids[$name]}"
  unset "bg_pids[$name]"
  read -r rc secs <"$logs/$name.log.status"
  rm -f "$logs/$name.log.status"
  record "$name" "$rc" "$secs" "$logs/$name.log"
  return "$rc"
}

# The static stages share no state, so they run side by side: the unit tests mostly wait on
# timers (pytest-xdist spreads them over 2 workers), while the linters and the syntax checks
# only need the CPU and run at the lowest priority, so they take what the unit tests leave and
# do not slow their timing checks.
run_static_stages() {  # run_static_stages STAGE...  (names from static_stage)
  local name start=$SECONDS
  for name in "$@"; do
    if [ "$name" = unit ]; then bg_start "$name" 0 static_stage "$name"; else bg_start "$name" 19 static_stage "$name"; fi
  done
  for name in "$@"; do
    printf '\n=== %s (side by side with the other static stages)\n' "$name"
    bg_collect "$name"
  done
  echo "static stages: $* in $((SECONDS - start))s"
}

static_stage() {
  case $1 in
    yamllint) yamllint --strict . ;;
    ansible-lint) ansible-lint ;;
    unit) python -m pytest -q -n 2 ;;
    syntax) stage_syntax ;;
  esac
}

scenarios() { find molecule -mindepth 2 -maxdepth 2 -name molecule.yml | cut -d/ -f2 | sort; }

# Scenario order: the smaller one first, so a broken basic piece fails fast.
ordered_scenarios() {
  local s
  for s in zookeeper default; do [ -f "molecule/$s/molecule.yml" ] && echo "$s"; done
  scenarios | grep -vxE 'zookeeper|default'
}

stage_syntax() {
  local pb rc=0
  for pb in playbooks/*.yml tools/sandbox/*.yml; do
    ansible-playbook --syntax-check -i inventories/example/hosts.yml "$pb" >/dev/null || { echo "syntax error: $pb"; rc=1; }
    echo "ok: $pb"
  done
  return $rc
}

stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=(static molecule)

# The Molecule scenarios need the base image; the static stages do not. So the image is built
# (or found cached) in the background, at the lowest CPU priority, while they run, and the first
# scenario waits for it.
image_rc=""
if printf '%s\n' "${stages[@]}" | grep -q '^molecule'; then
  bg_start image 19 bash tools/image/build.sh
fi
wait_for_image() {
  if [ -z "$image_rc" ]; then
    local waited=$SECONDS
    printf '\n=== image: tools/image/build.sh (in the background)\n'
    bg_collect image
    image_rc=$?
    echo "waited $((SECONDS - waited))s for the image"
  fi
  return "$image_rc"
}

for stage in "${stages[@]}"; do
  case $stage in
    static) run_static_stages unit yamllint ansible-lint syntax ;;
    lint)
      run_stage yamllint static_stage yamllint
      run_stage ansible-lint static_stage ansible-lint ;;
    unit | syntax) run_stage "$stage" static_stage "$stage" ;;
    molecule)
      wait_for_image || continue
      for s in $(ordered_scenarios); do run_stage "molecule:$s" molecule test -s "$s"; done ;;
    molecule:*)
      wait_for_image || continue
      run_stage "$stage" molecule test -s "${stage#molecule:}" ;;
    *) echo "unknown stage '$stage' (static, lint, unit, syntax, molecule, molecule:<scenario>)" >&2; exit 2 ;;
  esac
done

passed=0 failed=0
printf '\n%-28s %-6s %8s\n' STAGE RESULT SECONDS
for i in "${!names[@]}"; do
  printf '%-28s %-6s %8s\n' "${names[$i]}" "${results[$i]}" "${times[$i]}"
  if [ "${results[$i]}" = PASS ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "total: ${SECONDS}s"
# The failing tests' names last, so a CI excerpt that keeps only the end still says what broke.
for i in "${!names[@]}"; do
  [ "${results[$i]}" = PASS ] && continue
  grep -hoE '(FAILED|ERROR) [^ "]+::[^ "]+' "$logs/${names[$i]//[:\/]/_}.log" 2>/dev/null | sort -u | sed "s/^/${names[$i]}: /"
done
echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
