#!/usr/bin/env bash
# Run every test of the project and print one summary: lint (yamllint, ansible-lint), the
# pytest unit tests, --syntax-check of every playbook, and every Molecule scenario.
# Usage: tools/test.sh [lint|unit|syntax|molecule|molecule:<scenario>]...   (default: all)
# Each stage's full output is kept in reports/logs/<stage>.log; a failed stage's tail is shown.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
venv=${MESOS_HA_VENV:-$repo/.venv}
bash tools/bootstrap.sh || exit 1
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
  names+=("$name"); times+=($((SECONDS - start)))
  if [ $rc -eq 0 ]; then
    results+=(PASS)
    tail -n 3 "$log"
  else
    results+=(FAIL)
    echo "--- $name failed (exit $rc); last 300 lines of $log:"
    tail -n 300 "$log"
  fi
}

scenarios() { find molecule -mindepth 2 -maxdepth 2 -name molecule.yml | cut -d/ -f2 | sort; }

# Scenario order: the smaller ones first, so a broken basic piece fails fast; day2 (the
# runbooks) builds on what default proves, so it runs after it.
ordered_scenarios() {
  local s
  for s in zookeeper default day2; do [ -f "molecule/$s/molecule.yml" ] && echo "$s"; done
  scenarios | grep -vxE 'zookeeper|default|day2'
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
[ ${#stages[@]} -eq 0 ] && stages=(lint unit syntax molecule)
for stage in "${stages[@]}"; do
  case $stage in
    lint)
      run_stage yamllint yamllint --strict .
      run_stage ansible-lint ansible-lint ;;
    unit)
      run_stage unit python -m pytest -q ;;
    syntax)
      run_stage syntax stage_syntax ;;
    molecule)
      for s in $(ordered_scenarios); do run_stage "molecule:$s" molecule test -s "$s"; done ;;
    molecule:*)
      run_stage "$stage" molecule test -s "${stage#molecule:}" ;;
    *) echo "unknown stage '$stage' (lint, unit, syntax, molecule, molecule:<scenario>)" >&2; exit 2 ;;
  esac
done

passed=0 failed=0
printf '\n%-28s %-6s %8s\n' STAGE RESULT SECONDS
for i in "${!names[@]}"; do
  printf '%-28s %-6s %8s\n' "${names[$i]}" "${results[$i]}" "${times[$i]}"
  if [ "${results[$i]}" = PASS ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "total: ${SECONDS}s"
echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
