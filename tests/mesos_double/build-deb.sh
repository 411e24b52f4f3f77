#!/usr/bin/env bash
# Build the Mesos protocol-double .deb (NOT Apache Mesos) for tests.
# Usage: build-deb.sh [--version V] [--name N] [--out DIR] [--broken]
# Prints the path of the built .deb on the last stdout line.
#   --broken  a package that installs normally but whose mesos-master/mesos-agent fail at start
#             like a binary with a missing shared library (upgrade/rollback tests).
set -euo pipefail

VERSION="1.11.0-0.double1"
NAME="aventer-mesos"
OUT="$(pwd)"
BROKEN=0
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

while [ $# -gt 0 ]; do
  case "$1" in
    --version) VERSION="${2:?--version needs a value}"; shift 2 ;;
    --version=*) VERSION="${1#*=}"; shift ;;
    --name) NAME="${2:?--name needs a value}"; shift 2 ;;
    --name=*) NAME="${1#*=}"; shift ;;
    --out) OUT="${2:?--out needs a value}"; shift 2 ;;
    --out=*) OUT="${1#*=}"; shift ;;
    --broken) BROKEN=1; shift ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "build-deb.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

if ! [[ "$VERSION" =~ ^[0-9][A-Za-z0-9.+~:-]*$ ]]; then
  echo "build-deb.sh: invalid Debian version '$VERSION'" >&2; exit 2
fi
if ! [[ "$NAME" =~ ^[a-z0-9][a-z0-9.+-]+$ ]]; then
  echo "build-deb.sh: invalid package name '$NAME'" >&2; exit 2
fi

mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
EPOCH="${SOURCE_DATE_EPOCH:-1622937600}"   # fixed mtimes -> reproducible
export SOURCE_DATE_EPOCH="$EPOCH"

STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
ROOT="$STAGE/root"
LIB="$ROOT/usr/lib/mesos-double"
mkdir -p "$ROOT/DEBIAN" "$LIB/mesos_double" "$ROOT/usr/sbin" "$ROOT/usr/share/doc/$NAME"

for f in "$HERE"/mesos_double/*.py; do
  case "$(basename "$f")" in _pkgversion.py) continue ;; esac
  install -m 0644 "$f" "$LIB/mesos_double/"
done
printf 'PACKAGE_VERSION = "%s"\nPACKAGE_NAME = "%s"\n' "$VERSION" "$NAME" \
  > "$LIB/mesos_double/_pkgversion.py"

for role in master agent; do
  if [ "$BROKEN" = 1 ]; then
    # Deliberately broken: fail before main() the way the dynamic loader does when a
    # library the binary was linked against is missing (ld.so prints argv[0]; exit 127).
    cat > "$ROOT/usr/sbin/mesos-$role" <<'SH'
#!/bin/sh
# Deliberately BROKEN mesos binary from the Mesos protocol double (upgrade tests only).
printf '%s: error while loading shared libraries: libmesos-1.11.0.so: cannot open shared object file: No such file or directory\n' "$0" >&2
exit 127
SH
  else
    cat > "$ROOT/usr/sbin/mesos-$role" <<PY
#!/usr/bin/python3
# mesos-$role from the Mesos protocol double (tests only; NOT Apache Mesos).
import sys
sys.dont_write_bytecode = True
sys.path.insert(0, "/usr/lib/mesos-double")
from mesos_double.$role import main
main()
PY
  fi
  chmod 0755 "$ROOT/usr/sbin/mesos-$role"
done

install -m 0644 "$HERE/README.md" "$ROOT/usr/share/doc/$NAME/README.md"
cat > "$ROOT/usr/share/doc/$NAME/copyright" <<TXT
This package is a test double written for this project's test suite.
It contains no Apache Mesos code.
TXT

SIZE="$(du -sk --apparent-size "$ROOT" | cut -f1)"
if [ "$BROKEN" = 1 ]; then
  SUMMARY="Mesos protocol double for tests - NOT Apache Mesos - BROKEN on purpose"
  BROKEN_NOTE=" .
 THIS BUILD IS BROKEN ON PURPOSE FOR UPGRADE TESTS: /usr/sbin/mesos-master and
 /usr/sbin/mesos-agent exit 127 at start with the dynamic loader's message for a
 missing libmesos-1.11.0.so, like a bad binary package. Use it only to test
 upgrade failure detection and rollback."
else
  SUMMARY="Mesos protocol double for tests - NOT Apache Mesos"
  BROKEN_NOTE=""
fi
{
  cat <<CTL
Package: $NAME
Version: $VERSION
Architecture: all
Maintainer: Mesos double maintainers <noreply@example.invalid>
Installed-Size: $SIZE
Depends: python3, python3-kazoo
Section: admin
Priority: optional
Description: $SUMMARY
 A small Python stand-in that reproduces the externally observable contracts
 of Apache Mesos 1.11 (flags, ZooKeeper leader election and znode layout,
 replicated-log quorum behaviour, HTTP endpoints) so that deployment roles can
 be tested where real Mesos binaries are unavailable. It runs no tasks,
 frameworks, containers or isolation. Do not use it in production.
CTL
  if [ -n "$BROKEN_NOTE" ]; then printf '%s\n' "$BROKEN_NOTE"; fi
} > "$ROOT/DEBIAN/control"

find "$ROOT" -exec touch -h -d "@$EPOCH" {} +
DEB="$OUT/${NAME}_${VERSION}_all.deb"
rm -f "$DEB"
dpkg-deb --root-owner-group -Zxz --build "$ROOT" "$DEB" >/dev/null
echo "$DEB"
