#!/bin/bash
# Internal: the bootstrap of one simulated host, run by host-up.sh inside the host's
# fresh network + mount namespaces. Do not run by hand.
# Usage: host-inner.sh R IMAGES_MODE [EIO_FS]   (IMAGES_MODE: dir | loop; EIO_FS: the eio-fs
#   binary when IMAGES_EIO=1: the images dir is then its FUSE passthrough of the backing dir)
# Ends as the namespace holder (sleep infinity); its PID goes to R/pids/holder.pid.
set -euo pipefail
R=$1; MODE=$2; EIO_FS=${3:-}
[ -d "$R/pids" ] || { echo "host-inner.sh: no $R/pids" >&2; exit 1; }

mount --make-rprivate /
# ROOT_OVERLAY=1: the host's /usr, /etc and /var are overlays of the machine's, written to
# $R/overlay, so installing or purging a package (kvmctl hosts setup) changes this host only;
# systemctl is the testbed's stand-in (systemctl-shim.sh), there being no systemd here.
if [ "${ROOT_OVERLAY:-0}" = 1 ]; then
  for d in usr etc var; do
    mkdir -p "$R/overlay/$d/upper" "$R/overlay/$d/work"
    mount -t overlay "overlay-$d" -o "lowerdir=/$d,upperdir=$R/overlay/$d/upper,workdir=$R/overlay/$d/work" "/$d"
  done
  mount --bind "$(dirname "$0")/systemctl-shim.sh" /usr/bin/systemctl
fi
mount -t tmpfs -o mode=755 tmpfs /run
echo "$R" >/run/kvmclone-testbed-host
mkdir -p /run/sshd /run/libvirt /run/lock
mount --bind "$R/etc-libvirt" /etc/libvirt
mount --bind "$R/var-lib-libvirt" /var/lib/libvirt
mount --bind "$R/var-log-libvirt" /var/log/libvirt
mount --bind "$R/var-cache-libvirt" /var/cache/libvirt
# The agent's audit trail (/var/log/kvmclone/audit.log) stays per host, in $R/var-log-kvmclone.
mkdir -p /var/log/kvmclone
mount --bind "$R/var-log-kvmclone" /var/log/kvmclone
# the agent's config (socket_group for the dedicated SSH account), as /etc/kvmclone on a real host
# (with ROOT_OVERLAY=1 the package's own /etc/kvmclone, in the overlay)
[ "${ROOT_OVERLAY:-0}" = 1 ] || [ ! -d "$R/etc-kvmclone" ] || mount --bind "$R/etc-kvmclone" /etc/kvmclone
IMAGES=/var/lib/libvirt/images
if [ "$MODE" = loop ]; then
  # the ext4 fs lives at the images dir, or (eio-fs) at a path private to this host behind it
  FS_AT=$IMAGES
  [ -z "$EIO_FS" ] || { FS_AT=/run/kvmclone-testbed/images-backing; mkdir -p "$FS_AT"; }
  # loop device with autoclear: it goes away once the last mount namespace using it is gone
  mount -t ext4 -o loop "$R/images.ext4" "$FS_AT"
  rmdir "$FS_AT/lost+found" 2>/dev/null || true
  BACKING=$FS_AT
else
  BACKING=$R/images
  [ -n "$EIO_FS" ] || mount --bind "$R/images" "$IMAGES"
fi
if [ -n "$EIO_FS" ]; then
  # returns once mounted and its control socket listens; the daemon stays in this namespace
  "$EIO_FS" serve "$BACKING" "$IMAGES" "$R/eio.sock" "$R/pids/eio-fs.pid"
fi
chmod 755 /var/lib/libvirt/images
ip link set lo up

virtlogd -d -p "$R/pids/virtlogd.pid"
# Pin libvirtd to one CPU: its QEMU capabilities cache is keyed on the host CPUID, which on
# this kind of machine differs per CPU (APIC id), so an unpinned libvirtd re-probes QEMU
# (~8 s) on half of its starts. QEMU processes are not affected (libvirt resets their
# affinity to all CPUs).
PIN=()
if taskset -c 0 true 2>/dev/null; then PIN=(taskset -c 0); fi
"${PIN[@]}" libvirtd -d -p "$R/pids/libvirtd.pid"
/usr/sbin/sshd -f "$R/ssh/sshd_config" -E "$R/sshd.log"
echo "$$" >"$R/pids/holder.pid"
exec sleep infinity
