#!/usr/bin/env bash
# Build the sandbox base image (Debian 12 + systemd + python3) with debootstrap and
# `docker import`, because this machine reaches no image registry. The tag carries a
# hash of the recipe, so the image is rebuilt only when the recipe changes.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo_name=${MESOS_HA_IMAGE_REPO:-mesos-ha/debian12-systemd}
mirror=${MESOS_HA_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${MESOS_HA_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
suite=bookworm

# The key covers everything that shapes the image, including this script and the mirrors.
key=$(cat "$here/build.sh" "$here/packages.txt" "$here/cache-packages.txt" "$here/setup-rootfs.sh" \
      <(echo "$mirror $security_mirror $suite") | sha256sum | cut -c1-12)
tag="$repo_name:$key"

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "image: $tag is cached"
  docker tag "$tag" "$repo_name:current"
  exit 0
fi

command -v debootstrap >/dev/null || {
  echo "image: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }

workdir=$(mktemp -d /var/tmp/mesos-ha-image.XXXXXX)
trap 'rm -rf "$workdir"' EXIT
rootfs="$workdir/rootfs"
packages=$(grep -vE '^\s*(#|$)' "$here/packages.txt" | paste -sd, -)

start=$(date +%s)
echo "image: debootstrap $suite into $rootfs (log: $workdir/debootstrap.log)"
if ! debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" \
    >"$workdir/debootstrap.log" 2>&1; then
  tail -n 30 "$workdir/debootstrap.log" >&2
  echo "image: debootstrap failed" >&2
  exit 1
fi
MIRROR="$mirror" SECURITY_MIRROR="$security_mirror" SUITE="$suite" \
  CACHE_PACKAGES=$(grep -vE '^\s*(#|$)' "$here/cache-packages.txt" | paste -sd' ' -) \
  bash "$here/setup-rootfs.sh" "$rootfs"

tar --numeric-owner -C "$rootfs" -c . | docker import - "$repo_name:rootfs-$key" >/dev/null
# Debian's docker.io (20.10) refuses STOPSIGNAL in `import --change`, so the image metadata
# is set by a one-layer local build; it needs no registry because the base is local.
printf '%s\n' "FROM $repo_name:rootfs-$key" 'ENV container=docker' \
  'STOPSIGNAL SIGRTMIN+3' 'CMD ["/lib/systemd/systemd"]' \
  | DOCKER_BUILDKIT=0 docker build -q -t "$tag" - >"$workdir/build.log" 2>&1 \
  || { cat "$workdir/build.log" >&2; exit 1; }
docker rmi "$repo_name:rootfs-$key" >/dev/null
docker tag "$tag" "$repo_name:current"
# Older recipes' images are dead weight; one still used by a container stays until it is gone.
docker images --format '{{.Repository}}:{{.Tag}}' "$repo_name" | grep -vE ":($key|current)\$" \
  | xargs -r docker rmi >/dev/null 2>&1 || true
echo "image: built $tag in $(( $(date +%s) - start ))s"
