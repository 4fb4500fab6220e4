#!/bin/bash
# Usage: deps.sh
#   Installs (as root, idempotently) the Debian 12 packages the testbed needs. Quiet unless
#   something fails. Runs `apt-get update` only when the package lists are missing or do not
#   know a needed package (or when an install from them fails). Works without systemd and
#   starts no daemon: a temporary policy-rc.d forbids service starts during the install.
set -euo pipefail

PKGS=(
  libvirt-daemon-system libvirt-clients libvirt-dev   # libvirtd, virtlogd, virsh; headers
  qemu-system-x86 qemu-utils                          # qemu-system-x86_64, qemu-img
  openssh-server openssh-client                       # sshd per host; ssh, ssh-keygen
  rsync iproute2 util-linux mount e2fsprogs procps    # ip, nsenter, unshare, losetup, mkfs.ext4, pgrep
  coreutils                                           # timeout, env --default-signal
  libsystemd-dev pkg-config                           # sd-notify native build
  busybox-static cpio                                 # live-guest initramfs (live-guest.sh build)
  ovmf                                                # UEFI firmware: the NVRAM clone/sync e2e (chain.test.ts)
  swtpm swtpm-tools                                   # emulated TPM (swtpm, swtpm_setup): the TPM-state e2e (tpm.test.ts)
  groff-base                                          # groff: the man pages are checked for warnings (cli-docs.test.ts)
  debhelper fakeroot lintian                          # scripts/package builds the .deb; lintian checks it
  gcc libfuse3-dev                                    # eio-fs (IMAGES_EIO=1), built by host-up.sh
  g++ make python3                                    # node-gyp: native/ (our addon), better-sqlite3, sd-notify
)

die() { printf 'deps.sh: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"
command -v apt-get >/dev/null || die "apt-get not found: this script is for Debian"

missing() {
  local p st
  for p in "${PKGS[@]}"; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = installed ] || printf '%s\n' "$p"
  done
}
mapfile -t NEED < <(missing)
[ "${#NEED[@]}" -gt 0 ] || exit 0

export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -q -y -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=300
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
LOG=$(mktemp "${TMPDIR:-/tmp}/kvmclone-deps.XXXXXX")

# no service may start while packages are configured (there may be no init system at all)
POLICY=/usr/sbin/policy-rc.d
OWN_POLICY=0
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$POLICY"
  chmod 755 "$POLICY"
  OWN_POLICY=1
fi
cleanup() {
  [ "$OWN_POLICY" = 0 ] || rm -f "$POLICY"
  rm -f "$LOG"
}
trap cleanup EXIT

fail() {
  printf 'deps.sh: %s; output:\n' "$1" >&2
  tail -n 40 "$LOG" >&2
  exit 1
}

update() { "${APT[@]}" update >>"$LOG" 2>&1 || fail "apt-get update failed"; }

# update first only if the lists are empty or lack a candidate for a needed package
UPDATED=0
needs_update() {
  local p
  compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null || return 0
  for p in "${NEED[@]}"; do
    apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [^(]' || return 0
  done
  return 1
}
if needs_update; then update; UPDATED=1; fi

install() { "${APT[@]}" install --no-install-recommends "${NEED[@]}" >>"$LOG" 2>&1; }
if ! install; then
  [ "$UPDATED" = 0 ] || fail "apt-get install ${NEED[*]} failed"
  update   # stale lists (404s): refresh once and retry
  install || fail "apt-get install ${NEED[*]} failed"
fi

mapfile -t STILL < <(missing)
[ "${#STILL[@]}" = 0 ] || fail "still not installed: ${STILL[*]}"
printf 'deps.sh: installed %s\n' "${NEED[*]}"
