#!/bin/bash
# Usage: host-down.sh NAME [--purge]
#   Stops everything host-up.sh started for host NAME: destroys running domains, stops the
#   agent, sshd, libvirtd, virtlogd by PID (TERM, wait, KILL), unmounts the images dir's
#   eio-fs (IMAGES_EIO=1), stops the holder, then kills any process still inside the
#   host's netns (QEMU, ssh sessions, stray children), so the
#   host's mount namespace and its loop images fs go away; deletes the netns and veth.
#   Safe on a host that is partly up or not up at all.
#   --purge also deletes $E2E/NAME (disks, libvirt config, logs) and its ssh_config entry.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ $# -lt 1 ] || [ $# -gt 2 ]; then die "usage: host-down.sh NAME [--purge]"; fi
set_host "$1"
PURGE=0
if [ $# = 2 ]; then [ "$2" = --purge ] || die "unknown option '$2'"; PURGE=1; fi
[ "$(id -u)" = 0 ] || die "must run as root"

# $R/host.env exists from the start of host-up.sh to the end of host-down.sh: without it,
# nothing of this host can be up (and a netns of the same name belongs to someone else).
if [ ! -f "$R/host.env" ]; then
  rm -f "$P"/*.pid 2>/dev/null || true
  if [ "$PURGE" = 1 ]; then rm -rf -- "$R"; rm -f "$E2E/client/conf.d/$H"; fi
  if ip netns list 2>/dev/null | grep -qw -- "^$(netns_name "$H")"; then
    log "note: netns $(netns_name "$H") exists but was not made by this E2E ($E2E); not touching it"
  fi
  log "$H is not up (no $R/host.env)"
  exit 0
fi
NETNS=$(host_env_get NETNS)
NETNS_INO=$(host_env_get NETNS_INO)
VR=$(host_env_get VETH)
ADDR=$(host_env_get ADDR)
OURS=0   # is /run/netns/$NETNS the namespace host-up.sh created?
if [ -n "$NETNS_INO" ] && [ "$(stat -L -c %i "/run/netns/$NETNS" 2>/dev/null)" = "$NETNS_INO" ]; then OURS=1; fi

# 1. domains first: a killed libvirtd leaves QEMU running
if lp=$(pidfile_pid libvirtd 2>/dev/null); then
  hp=$(pidfile_pid holder 2>/dev/null) || hp=$lp   # any process of the host will do for nsenter
  doms=$(timeout 20 nsenter -t "$hp" -m -n -r -- virsh -c qemu:///system list --name 2>/dev/null || true)
  for d in $doms; do   # in parallel: each destroy takes ~1.5 s here
    { timeout 20 nsenter -t "$hp" -m -n -r -- virsh -c qemu:///system destroy "$d" >/dev/null 2>&1 ||
        log "warning: could not destroy domain $d on $H (its QEMU is killed below)"; } &
  done
  wait
fi

# 2. the agent (its whole process group), then the daemons and the holder
agent_stop TERM "${AGENT_STOP_TIMEOUT:-10}"
pids=()
for f in sshd libvirtd virtlogd; do
  if p=$(pidfile_pid "$f" 2>/dev/null); then pids+=("$p"); fi
done
[ "${#pids[@]}" = 0 ] || stop_pids 5 "${pids[@]}"
# IMAGES_EIO=1: unmount the images dir's eio-fs (its daemon then exits) while the holder still
# keeps the host's mount namespace open
eio_unmount
if p=$(pidfile_pid holder 2>/dev/null); then stop_pids 5 "$p"; fi

# 3. whatever is still in the host's netns (QEMU, sshd session children, virsh, agent children)
if [ "$OURS" = 1 ]; then
  mapfile -t rest < <(ns_pids "/run/netns/$NETNS" net)
  if [ "${#rest[@]}" -gt 0 ]; then
    log "killing ${#rest[@]} leftover process(es) in $NETNS: ${rest[*]}"
    stop_pids 3 "${rest[@]}"
  fi
fi

# 4. the images fs: its mount lives only in the (now dead) mount namespace; the loop
#    device was set up with autoclear, so it detaches by itself. Make sure of it.
if [ -f "$R/images.ext4" ]; then
  for _ in $(seq 1 50); do
    [ -z "$(losetup -j "$R/images.ext4" 2>/dev/null)" ] && break
    sleep 0.1
  done
  loops=$(losetup -j "$R/images.ext4" 2>/dev/null | cut -d: -f1 || true)
  for l in $loops; do
    losetup -d "$l" 2>/dev/null || log "warning: loop device $l still in use for $R/images.ext4"
  done
fi
# (older layouts / manual mounts in the root namespace)
if mountpoint -q "$R/images" 2>/dev/null; then umount "$R/images" || umount -l "$R/images"; fi

# 5. network
if [ "$OURS" = 1 ]; then ip netns del "$NETNS"; fi
# the veth goes with the netns; it is left over only if host-up.sh failed in between
if [ -n "$NETNS_INO" ] && [ -n "$VR" ] && ip link show "$VR" >/dev/null 2>&1 &&
   ! ip -d link show "$VR" 2>/dev/null | grep -q 'link-netns'; then
  # the netns deletion may take the veth with it at any moment: gone is fine
  ip link del "$VR" 2>/dev/null || true
fi
# The kernel destroys a deleted netns, and the veth with it, asynchronously: wait until the
# interface is gone, so that a host-up.sh right after this does not find it still there.
if [ -n "$VR" ]; then
  for _ in $(seq 1 100); do ip link show "$VR" >/dev/null 2>&1 || break; sleep 0.1; done
  ip link del "$VR" 2>/dev/null || true
fi
rm -f "$P"/*.pid "$R/host.env" 2>/dev/null || true

if [ "$PURGE" = 1 ]; then
  rm -rf -- "$R"
  if [ -d "$E2E/client" ]; then
    (
      flock 9
      rm -f "$E2E/client/conf.d/$H"
      if [ -n "$ADDR" ] && [ -f "$E2E/client/known_hosts" ]; then
        ssh-keygen -q -R "$ADDR" -f "$E2E/client/known_hosts" >/dev/null 2>&1 || true
        rm -f "$E2E/client/known_hosts.old"
      fi
    ) 9>"$E2E/client/.lock"
  fi
fi
log "$H down"
