#!/bin/bash
# Usage: live-guest.sh build
#        live-guest.sh install NAME
#        live-guest.sh make NAME VM [--vdb-mb N] [--type qemu|kvm] [--ga-channel]
#   The live guest (live-guest/README.md): a Linux guest that rewrites its disk vdb in
#   numbered passes while it runs, for tests and benchmarks of live clone and sync.
#   build    downloads the current linux-image-cloud-amd64 kernel package (apt-get download:
#            unpacked, never installed) and builds the kernel + initramfs into the cache,
#            once: later calls return at once. Needs root, busybox-static and cpio (deps.sh).
#   install  puts the cached kernel and initramfs into host NAME's /var/lib/libvirt/images
#            (live-guest.vmlinuz, live-guest.initrd; skipped when identical), e.g. on the
#            destination host of a clone. Runs build first if needed.
#   make     install, then VM-vda.qcow2 (4 MiB, a marker in its first 64 KiB) and
#            VM-vdb.qcow2 (qcow2 v3, N MiB, default 32: the disk the guest writes) in the
#            same dir, and defines (does not start) domain VM from live-guest/writer-guest.xml.in.
#            Serial console (kernel + "GP t=... PASS n start|done" lines):
#            /var/log/libvirt/qemu/VM-serial.log in the host = $E2E/NAME/var-log-libvirt/qemu/.
#            --type qemu (default: TCG; this machine's /dev/kvm cannot boot Linux) or kvm.
#            --ga-channel adds a qemu-guest-agent channel that nothing answers (the guest
#            has no agent), to test that path; by default there is none.
# Env: LIVE_GUEST_CACHE  cache dir (default $E2E/.live-guest); E2E as for the other scripts
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LG_DIR=$TESTBED_DIR/live-guest
CACHE=${LIVE_GUEST_CACHE:-$E2E/.live-guest}
IMAGES=/var/lib/libvirt/images
KERNEL=$IMAGES/live-guest.vmlinuz
INITRD=$IMAGES/live-guest.initrd
KPKG_META=linux-image-cloud-amd64

usage() {
  die "usage: live-guest.sh build | install NAME | make NAME VM [--vdb-mb N] [--type qemu|kvm] [--ga-channel]"
}

# --- build ---------------------------------------------------------------------------

# initrd_key: what the cached initramfs was built from (kernel version + our sources)
initrd_key() {
  cat "$CACHE/kernel-version" "$LG_DIR/init" "$LG_DIR/build-initramfs.sh" | sha256sum | cut -d' ' -f1
}

cached() {
  [ -s "$CACHE/vmlinuz" ] && [ -s "$CACHE/initrd.img" ] && [ -s "$CACHE/initrd.key" ] && [ -s "$CACHE/kernel-version" ] &&
    [ "$(cat "$CACHE/initrd.key")" = "$(initrd_key)" ]
}

APT=(apt-get -q -y -o Dpkg::Use-Pty=0 -o APT::Sandbox::User=root)
APT_LOG=
apt_update() { "${APT[@]}" update >>"$APT_LOG" 2>&1 || { tail -n 20 "$APT_LOG" >&2; die "apt-get update failed"; }; }

# kernel_pkg: the versioned package linux-image-cloud-amd64 depends on now (from the apt lists)
kernel_pkg() {
  apt-cache depends "$KPKG_META" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}

# fetch_kernel: download + unpack the kernel package; keep vmlinuz and the virtio modules
fetch_kernel() {
  local tmp pkg kver md
  [ "$(dpkg --print-architecture)" = amd64 ] || die "the live guest needs an amd64 machine (kernel $KPKG_META)"
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/kvmc-live-guest.XXXXXX")
  # shellcheck disable=SC2064  # expand $tmp now
  trap "rm -rf -- '$tmp'" EXIT
  APT_LOG=$tmp/apt.log
  # fresh machine: no package lists yet, or lists that predate the current kernel (404)
  pkg=$(kernel_pkg)
  local updated=0
  if [ -z "$pkg" ]; then apt_update; updated=1; pkg=$(kernel_pkg); fi
  [ -n "$pkg" ] || die "apt knows no $KPKG_META (is Debian's main archive in the apt sources?)"
  if ! (cd "$tmp" && "${APT[@]}" download "$pkg" >>"$APT_LOG" 2>&1); then
    [ "$updated" = 0 ] || { tail -n 20 "$APT_LOG" >&2; die "apt-get download $pkg failed"; }
    apt_update
    pkg=$(kernel_pkg)
    (cd "$tmp" && "${APT[@]}" download "$pkg" >>"$APT_LOG" 2>&1) || { tail -n 20 "$APT_LOG" >&2; die "apt-get download $pkg failed"; }
  fi
  dpkg-deb -x "$tmp"/"$pkg"_*.deb "$tmp/kpkg"
  kver=$(ls "$tmp/kpkg/lib/modules")
  md=$tmp/kpkg/lib/modules/$kver
  [ -f "$tmp/kpkg/boot/vmlinuz-$kver" ] || die "$pkg has no /boot/vmlinuz-$kver"
  # keep only what build-initramfs.sh takes (the whole module tree is ~100 MB)
  rm -rf -- "$CACHE/kroot" "$CACHE/kroot.new"
  mkdir -p "$CACHE/kroot.new/lib/modules/$kver/kernel/drivers/block"
  cp -a "$md/kernel/drivers/virtio" "$CACHE/kroot.new/lib/modules/$kver/kernel/drivers/"
  cp -a "$md/kernel/drivers/block/"virtio_blk.ko* "$CACHE/kroot.new/lib/modules/$kver/kernel/drivers/block/" 2>/dev/null || true
  cp -a "$md/modules.builtin" "$CACHE/kroot.new/lib/modules/$kver/" 2>/dev/null || true
  mv -T "$CACHE/kroot.new" "$CACHE/kroot"
  cp "$tmp/kpkg/boot/vmlinuz-$kver" "$CACHE/vmlinuz.new"
  mv -f "$CACHE/vmlinuz.new" "$CACHE/vmlinuz"
  printf '%s %s\n' "$kver" "$(dpkg-deb -f "$tmp"/"$pkg"_*.deb Version)" >"$CACHE/kernel-version"
  rm -rf -- "$tmp"
  trap - EXIT
  log "kernel $pkg ($(cat "$CACHE/kernel-version")) cached in $CACHE"
}

cmd_build() {
  [[ $CACHE =~ ^/[A-Za-z0-9._/+-]+$ ]] || die "LIVE_GUEST_CACHE must be an absolute path without spaces or odd characters: '$CACHE'"
  mkdir -p "$CACHE"
  if cached; then printf '%s\n' "$CACHE"; return 0; fi
  [ "$(id -u)" = 0 ] || die "must run as root (apt-get download, mknod)"
  if [ ! -x /bin/busybox ] || ! command -v cpio >/dev/null; then
    die "busybox-static and cpio are needed: run test/testbed/deps.sh"
  fi
  # one builder at a time; whoever waited finds the cache filled
  exec 8>"$CACHE/.lock"
  flock 8
  if cached; then printf '%s\n' "$CACHE"; return 0; fi
  if [ ! -s "$CACHE/vmlinuz" ] || [ ! -s "$CACHE/kernel-version" ] || [ ! -d "$CACHE/kroot" ]; then fetch_kernel; fi
  "$LG_DIR/build-initramfs.sh" "$CACHE/kroot" "$LG_DIR/init" "$CACHE/initrd.img.new"
  mv -f "$CACHE/initrd.img.new" "$CACHE/initrd.img"
  initrd_key >"$CACHE/initrd.key"
  log "initramfs built: $CACHE/initrd.img ($(stat -c %s "$CACHE/initrd.img") bytes)"
  printf '%s\n' "$CACHE"
}

# --- install / make ------------------------------------------------------------------

# put_file SRC DST: copy SRC to DST inside the host (through stdin: the images dir may be a
# fs mounted only inside the host), unless DST already has the same content
put_file() {
  local sum
  sum=$(sha256sum "$1" | cut -d' ' -f1)
  [ "$(in_host sha256sum "$2" 2>/dev/null | cut -d' ' -f1)" = "$sum" ] && return 0
  # shellcheck disable=SC2016  # $1 is expanded by the inner sh
  in_host sh -c 'cat >"$1.tmp" && mv -f "$1.tmp" "$1"' sh "$2" <"$1" ||
    { in_host rm -f "$2.tmp" || true; die "could not write $2 on $H (out of space?)"; }
}

cmd_install() {
  cmd_build >/dev/null
  holder_pid >/dev/null
  put_file "$CACHE/vmlinuz" "$KERNEL"
  put_file "$CACHE/initrd.img" "$INITRD"
}

cmd_make() {
  local vm=$1 vdb_mb=32 type=qemu channel='' vda vdb serial tmp
  shift
  while [ $# -gt 0 ]; do
    case $1 in
      --vdb-mb) [ $# -ge 2 ] || usage; vdb_mb=$2; shift 2 ;;
      --type) [ $# -ge 2 ] || usage; type=$2; shift 2 ;;
      --ga-channel) channel="<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"; shift ;;
      *) usage ;;
    esac
  done
  [[ $vm =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]] || die "bad VM name '$vm' (want ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\$)"
  [[ $vdb_mb =~ ^[1-9][0-9]{0,5}$ ]] || die "--vdb-mb wants a positive integer, got '$vdb_mb'"
  case $type in qemu | kvm) ;; *) die "--type must be qemu or kvm, got '$type'" ;; esac
  vda=$IMAGES/$vm-vda.qcow2
  vdb=$IMAGES/$vm-vdb.qcow2
  serial=/var/log/libvirt/qemu/$vm-serial.log
  holder_pid >/dev/null
  if in_host virsh -c qemu:///system dominfo "$vm" >/dev/null 2>&1; then die "domain $vm already exists on $H"; fi
  for f in "$vda" "$vdb"; do if in_host test -e "$f"; then die "$f already exists on $H"; fi; done
  cmd_install

  tmp=$(mktemp -d "${TMPDIR:-/tmp}/kvmc-live-guest.XXXXXX")
  # shellcheck disable=SC2064  # expand $tmp now
  trap "rm -rf -- '$tmp'" EXIT
  sed -e "s|@TYPE@|$type|g" -e "s|@NAME@|$vm|g" -e "s|@KERNEL@|$KERNEL|g" -e "s|@INITRD@|$INITRD|g" \
    -e "s|@CMDLINE@|console=ttyS0 panic=-1 gp.dev=vdb gp.every=64|g" -e "s|@VDA@|$vda|g" \
    -e "s|@VDB@|$vdb|g" -e "s|@SERIAL_LOG@|$serial|g" -e "s|@CHANNEL@|$channel|g" \
    "$LG_DIR/writer-guest.xml.in" >"$tmp/vm.xml"
  # the disks are made inside the host: qemu-img is the same binary there
  # shellcheck disable=SC2016  # expanded by the inner sh
  if ! in_host sh -ec '
      qemu-img create -q -f qcow2 -o compat=1.1 "$1" 4M
      qemu-io -f qcow2 -c "write -P 0x76 0 64k" "$1" >/dev/null
      qemu-img create -q -f qcow2 -o compat=1.1 "$2" "$3M"' sh "$vda" "$vdb" "$vdb_mb"; then
    in_host rm -f "$vda" "$vdb" || true
    die "could not create $vda and $vdb on $H (out of space?)"
  fi
  if ! in_host virsh -q -c qemu:///system define /dev/stdin <"$tmp/vm.xml" >/dev/null; then
    in_host rm -f "$vda" "$vdb" || true
    die "virsh define failed on $H"
  fi
  echo "VM $vm defined on $H (type $type, vdb $vdb ${vdb_mb} MiB, serial $R/var-log-libvirt/qemu/$vm-serial.log)"
}

[ $# -ge 1 ] || usage
case $1 in
  build) [ $# = 1 ] || usage; cmd_build ;;
  install) [ $# = 2 ] || usage; set_host "$2"; cmd_install ;;
  make) [ $# -ge 3 ] || usage; set_host "$2"; shift 2; cmd_make "$@" ;;
  *) usage ;;
esac
