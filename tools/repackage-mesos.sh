#!/usr/bin/env bash
# Repackage a Mesos .deb under another version, for the upgrade tests: the same binaries as a
# higher version (an upgrade that really changes the installed package), or --broken: a package
# whose libmesos.so.0 is missing, so its daemons fail at start like a bad build would.
# Usage: tools/repackage-mesos.sh SOURCE.deb VERSION OUT_DIR [--broken]   (prints the new file)
set -euo pipefail
src=${1:?usage: $0 SOURCE.deb VERSION OUT_DIR [--broken]}
version=${2:?version}
out=${3:?out dir}
broken=${4:-}
command -v dpkg-deb >/dev/null || { echo "repackage-mesos: dpkg-deb is missing" >&2; exit 1; }
name=$(dpkg-deb -f "$src" Package)
arch=$(dpkg-deb -f "$src" Architecture)
dest="$out/${name}_${version}_${arch}.deb"
mkdir -p "$out"
if [ -s "$dest" ] && [ "$dest" -nt "$src" ]; then echo "$dest"; exit 0; fi
work=$(mktemp -d "${TMPDIR:-/tmp}/repackage-mesos.XXXXXX")
trap 'rm -rf "$work"' EXIT
dpkg-deb -R "$src" "$work/root"
sed -i "s/^Version: .*/Version: $version/" "$work/root/DEBIAN/control"
if [ "$broken" = --broken ]; then
  rm -f "$work/root/usr/lib/libmesos.so.0"
  sed -i "s/^Description: .*/Description: BROKEN test build (libmesos.so.0 removed)/" "$work/root/DEBIAN/control"
fi
# Fast compression (zstd, which dpkg reads since Debian 12): these packages live only in the
# clone's cache for one test run.
dpkg-deb -Zzstd -z3 --root-owner-group -b "$work/root" "$dest.tmp" >/dev/null
mv "$dest.tmp" "$dest"
echo "$dest"
