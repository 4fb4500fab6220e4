#!/bin/bash
# Usage: make-vm.sh NAME VM [--raw-size-mb N]
#   Creates VM on host NAME: /var/lib/libvirt/images/VM.qcow2 converted from boot-sector.bin
#   (a 512-byte boot sector that prints "HI" on the serial port, then halts), and defines
#   (does not start) domain VM from vm.xml.in. Serial output goes to
#   /var/log/libvirt/qemu/VM-serial.log inside the host = $E2E/NAME/var-log-libvirt/qemu/.
#   --raw-size-mb N  virtual size of the disk in MiB (default 1); the qcow2 stays small,
#                    only the boot sector is allocated. (SeaBIOS does not boot a disk of
#                    just 512 bytes: it halts with no output.)
# Env: DOMAIN_TYPE=kvm (default when /dev/kvm exists) | qemu (TCG, the default without /dev/kvm)
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { die "usage: make-vm.sh NAME VM [--raw-size-mb N]"; }
[ $# -ge 2 ] || usage
set_host "$1"
VM=$2
shift 2
SIZE_MB=1
while [ $# -gt 0 ]; do
  case $1 in
    --raw-size-mb) [ $# -ge 2 ] || usage; SIZE_MB=$2; shift 2 ;;
    *) usage ;;
  esac
done
[[ $VM =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]] || die "bad VM name '$VM' (want ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\$)"
[[ $SIZE_MB =~ ^[1-9][0-9]{0,6}$ ]] || die "--raw-size-mb wants a positive integer, got '$SIZE_MB'"
if [ -e /dev/kvm ]; then DEFAULT_TYPE=kvm; else DEFAULT_TYPE=qemu; fi
DOMAIN_TYPE=${DOMAIN_TYPE:-$DEFAULT_TYPE}
case $DOMAIN_TYPE in kvm | qemu) ;; *) die "DOMAIN_TYPE must be kvm or qemu, got '$DOMAIN_TYPE'" ;; esac

DISK=/var/lib/libvirt/images/$VM.qcow2
SERIAL=/var/log/libvirt/qemu/$VM-serial.log
holder_pid >/dev/null
if in_host virsh -c qemu:///system dominfo "$VM" >/dev/null 2>&1; then die "domain $VM already exists on $H"; fi
if in_host test -e "$DISK"; then die "$DISK already exists on $H"; fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kvmc-make-vm.XXXXXX")
trap 'rm -rf -- "$TMP"' EXIT
qemu-img convert -q -f raw -O qcow2 "$TESTBED_DIR/boot-sector.bin" "$TMP/disk.qcow2"
qemu-img resize -q -f qcow2 "$TMP/disk.qcow2" "${SIZE_MB}M"
sed -e "s|@DOMAIN_TYPE@|$DOMAIN_TYPE|g" -e "s|@NAME@|$VM|g" -e "s|@DISK@|$DISK|g" \
  -e "s|@SERIAL_LOG@|$SERIAL|g" "$TESTBED_DIR/vm.xml.in" >"$TMP/vm.xml"

# copy the disk in through stdin: the images dir may be a fs mounted only inside the host
# shellcheck disable=SC2016  # $1 is expanded by the inner sh
if ! in_host sh -c 'cat >"$1"' sh "$DISK" <"$TMP/disk.qcow2"; then
  in_host rm -f "$DISK" || true
  die "could not write $DISK on $H (out of space?)"
fi
if ! in_host virsh -q -c qemu:///system define /dev/stdin <"$TMP/vm.xml" >/dev/null; then
  in_host rm -f "$DISK" || true
  die "virsh define failed on $H"
fi
echo "VM $VM defined on $H (disk $DISK, ${SIZE_MB} MiB, type $DOMAIN_TYPE, serial $R/var-log-libvirt/qemu/$VM-serial.log)"
