#!/bin/bash
# Usage: build-initramfs.sh KROOT INIT OUT
#   Builds the live guest's initramfs: busybox (from busybox-static: no shared libraries),
#   the virtio block modules of the kernel unpacked at KROOT (KROOT/lib/modules/VERSION/...,
#   as `dpkg-deb -x` leaves a linux-image package; live-guest.sh keeps just what is needed)
#   and INIT as /init, as a gzip'd newc cpio at OUT. Needs root (mknod), busybox-static, cpio.
set -euo pipefail
die() { printf 'build-initramfs.sh: %s\n' "$*" >&2; exit 1; }
[ $# = 3 ] || die "usage: build-initramfs.sh KROOT INIT OUT"
KROOT=$1 INIT=$2 OUT=$3
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || die "$BUSYBOX missing: install busybox-static (test/testbed/deps.sh)"
command -v cpio >/dev/null || die "cpio missing: install cpio (test/testbed/deps.sh)"
# the dynamically linked busybox package also ships /bin/busybox: it would not run in the guest
if ldd "$BUSYBOX" 2>/dev/null | grep -q '=>'; then
  die "$BUSYBOX is dynamically linked: install busybox-static instead of busybox"
fi
mapfile -t KVERS < <(ls "$KROOT/lib/modules")
[ "${#KVERS[@]}" = 1 ] || die "want exactly one kernel under $KROOT/lib/modules, found: ${KVERS[*]:-none}"
MD=$KROOT/lib/modules/${KVERS[0]}

ST=$(mktemp -d "${TMPDIR:-/tmp}/kvmc-initramfs.XXXXXX")
trap 'rm -rf -- "$ST"' EXIT
mkdir -p "$ST"/{bin,dev,proc,sys,lib/modules}
cp "$BUSYBOX" "$ST/bin/busybox"
for a in $("$BUSYBOX" --list); do [ "$a" = busybox ] || ln -s busybox "$ST/bin/$a"; done
# /init insmods these in this order (busybox insmod resolves no dependencies); a module the
# kernel has built in is skipped, a compressed one is unpacked (busybox insmod wants plain .ko)
for m in drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_modern_dev \
  drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci drivers/block/virtio_blk; do
  dst=$ST/lib/modules/$(basename "$m").ko
  if [ -f "$MD/kernel/$m.ko" ]; then cp "$MD/kernel/$m.ko" "$dst"
  elif [ -f "$MD/kernel/$m.ko.xz" ]; then xz -dc "$MD/kernel/$m.ko.xz" >"$dst"
  elif [ -f "$MD/kernel/$m.ko.zst" ]; then zstd -qdc "$MD/kernel/$m.ko.zst" >"$dst"
  elif grep -qx "kernel/$m.ko" "$MD/modules.builtin" 2>/dev/null; then :
  else die "kernel ${KVERS[0]} has no module $m"
  fi
done
cp "$INIT" "$ST/init"
chmod 755 "$ST/init"
mknod -m 600 "$ST/dev/console" c 5 1   # the kernel opens it for PID 1 before devtmpfs is mounted
(cd "$ST" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet --owner=0:0) | gzip -9n >"$OUT"
