#!/usr/bin/env bash
# Turn a debootstrapped tree into something systemd boots cleanly in a container.
set -euo pipefail
rootfs=$1

cat > "$rootfs/etc/apt/sources.list" <<SRC
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
SRC
# Containers do not need docs or man pages; this keeps package installs fast.
cat > "$rootfs/etc/dpkg/dpkg.cfg.d/01-nodoc" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/locale/*
CFG
echo 'APT::Install-Recommends "false";' > "$rootfs/etc/apt/apt.conf.d/90no-recommends"

# Units that need real hardware, a console or a writable kernel have nothing to do here
# and would leave the system 'degraded' for no reason.
for unit in getty@tty1.service console-getty.service systemd-udevd.service \
    systemd-udev-trigger.service systemd-modules-load.service \
    systemd-remount-fs.service sys-kernel-config.mount sys-kernel-debug.mount \
    sys-kernel-tracing.mount systemd-firstboot.service apt-daily.timer \
    apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done

# An empty machine-id makes every container generate its own at boot.
: > "$rootfs/etc/machine-id"
rm -f "$rootfs/var/lib/dbus/machine-id"
# Keep the package lists so roles can install without a fresh `apt-get update`.
rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/tmp/"*

# Fetch the lists of all three suites now (debootstrap only knows the base suite), so the
# first package install in a fresh container is quick and sees security updates.
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
chroot "$rootfs" apt-get update -qq
# Pre-download (not install) what the roles will install on test hosts, so converges do not
# download the same packages once per container. The roles still install them themselves.
if [ -n "${CACHE_PACKAGES:-}" ]; then
  # shellcheck disable=SC2086 # the list is one word per package on purpose
  chroot "$rootfs" apt-get install -qq --download-only -y $CACHE_PACKAGES >/dev/null
fi
rm -rf "$rootfs/var/cache/apt/"*.bin
: > "$rootfs/etc/resolv.conf"
