#!/usr/bin/env bash
# Decide where the sandbox, the Molecule scenarios and the benchmarks get Mesos from, and write
# it to OUT/mesos-source.yml for inventories/sandbox/group_vars (README "Mesos in the tests"):
#   1. the roles' package_file method with $MESOS_PACKAGE_FILE, if it is set;
#   2. else package_file with the newest aventer-mesos_*.deb in SHARED (../shared/mesos beside
#      the checkout: CI and this project's development machines);
#   3. else the roles' repository method with AVENTER's repository, if it answers.
# Neither working stops here, naming the setting and both sources.
# Usage: tools/mesos-source.sh [OUT [SHARED [REPOSITORY_URL]]]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$repo/.cache/packages}
shared=${2:-$repo/../shared/mesos}
repository=${3:-http://rpm.aventer.biz/Debian}
target="$out/mesos-source.yml"

say() { printf 'mesos-source: %s\n' "$*"; }
die() { rm -f "$target"; printf 'mesos-source: ERROR: %s\n' "$*" >&2; exit 1; }
write() {  # write ORIGIN METHOD FILE
  printf '%s\n' "# Written by tools/mesos-source.sh ($1); do not edit." \
    "mesos_common_install_method: $2" "mesos_common_package_file: '$3'" >"$target"
}

mkdir -p "$out"
if [ -n "${MESOS_PACKAGE_FILE:-}" ]; then
  [ -f "$MESOS_PACKAGE_FILE" ] || die "MESOS_PACKAGE_FILE is '$MESOS_PACKAGE_FILE', which is not a file. Set it to an aventer-mesos .deb, or unset it to use $shared/aventer-mesos_*.deb or AVENTER's repository."
  file=$(readlink -f "$MESOS_PACKAGE_FILE")
  write "MESOS_PACKAGE_FILE" package_file "$file"
  say "package file $file (MESOS_PACKAGE_FILE)"
  exit 0
fi
file=$(find "$shared" -maxdepth 1 -name 'aventer-mesos_*.deb' 2>/dev/null | sort -V | tail -n 1 || true)
if [ -n "$file" ]; then
  file=$(readlink -f "$file")
  write "$shared" package_file "$file"
  say "package file $file ($shared)"
elif curl -fsS -m 10 -o /dev/null "$repository/dists/bookworm/Release" 2>/dev/null; then
  write "$repository" repository ""
  say "AVENTER's repository ($repository)"
else
  die "no Mesos package to install: MESOS_PACKAGE_FILE is not set, $shared holds no aventer-mesos_*.deb, and AVENTER's repository ($repository) does not answer. Set MESOS_PACKAGE_FILE to an aventer-mesos .deb."
fi
