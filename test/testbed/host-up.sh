#!/bin/bash
# Usage: host-up.sh NAME IDX
#   Brings up simulated KVM host NAME in its own network namespace (kvmc-NAME), reachable
#   at 169.254.(200+IDX).2 (sshd on port 22) over the veth pair kvmcIDXr <-> kvmcIDXh,
#   with its own sshd, libvirtd (qemu:///system), virtlogd, /run (tmpfs) and
#   /var/lib/libvirt/images, all inside a private mount namespace. State: $E2E/NAME.
# Env:
#   E2E             state root (default /tmp/kvmclone-testbed)
#   IMAGES_SIZE_MB  make the host's images dir an ext4 fs of this size (loop-mounted file)
#   IMAGES_EIO      1: the host's images dir is eio-fs, a FUSE passthrough of the backing dir
#                   ($E2E/NAME/images, or the ext4 fs) that host-eio.sh can make fail reads of
#                   a file with EIO (the "unreadable source image" fault)
#   ROOT_OVERLAY    1: the host's /usr, /etc and /var are overlays of the machine's (writes
#                   stay in $E2E/NAME/overlay) and systemctl is systemctl-shim.sh: a host
#                   whose packages can differ from the machine's (kvmctl hosts setup)
#   AGENT_CMD       start this command (bash -c) inside the host as its agent and wait for
#                   its socket (see host-agent.sh); AGENT_WAIT_S (20), AGENT_SOCK
#   WAIT_LIBVIRT    1 (default): wait until libvirtd answers (it probes QEMU on first use)
#   KEEP_STATE      1: reuse $E2E/NAME from an earlier run (disks, domains, logs); by default
#                   it is deleted first, so every host comes up fresh
# SSH accounts: the client ssh_config's `Host NAME` logs in as the dedicated unprivileged
#   account kvmclone (system user, nologin shell, group kvmclone = the agent's socket_group,
#   stream-local forwarding only: see deploy/sshd/kvmclone.conf); `Host NAME-root` logs in
#   as root, for what needs a shell. The account is created machine-wide (the simulated
#   hosts share /etc/passwd), once; the agent inside the host reads /etc/kvmclone/agent.yaml
#   (bind-mounted from $E2E/NAME/etc-kvmclone) with socket_group: kvmclone.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -eq 2 ] || die "usage: host-up.sh NAME IDX"
set_host "$1"
IDX=$2
if ! [[ $IDX =~ ^[1-9][0-9]?$ ]] || [ "$IDX" -gt 50 ]; then die "IDX must be 1..50, got '$IDX'"; fi
[ "$(id -u)" = 0 ] || die "must run as root"
SIZE=${IMAGES_SIZE_MB:-}
[ -z "$SIZE" ] || { [[ $SIZE =~ ^[1-9][0-9]*$ ]] && [ "$SIZE" -ge 8 ]; } || die "IMAGES_SIZE_MB must be an integer >= 8, got '$SIZE'"
EIO=${IMAGES_EIO:-0}
[ "$EIO" = 0 ] || [ "$EIO" = 1 ] || die "IMAGES_EIO must be 0 or 1, got '$EIO'"
[ "${ROOT_OVERLAY:-0}" = 0 ] || [ "${ROOT_OVERLAY:-0}" = 1 ] || die "ROOT_OVERLAY must be 0 or 1, got '$ROOT_OVERLAY'"
export ROOT_OVERLAY=${ROOT_OVERLAY:-0}

NETNS=$(netns_name "$H")
VR=kvmc${IDX}r; VH=kvmc${IDX}h
NET=169.254.$((200 + IDX))
ADDR=$NET.2
T0=$(date +%s%N)

# --- refuse if (part of) this host or this IDX is already in use ---
if hp=$(pidfile_pid holder 2>/dev/null); then
  die "host $H is already up (holder pid $hp); run host-down.sh $H first"
fi
if [ -f "$R/host.env" ]; then
  log "$H was not taken down cleanly (holder gone, $R/host.env left): running host-down.sh $H first"
  "$TESTBED_DIR/host-down.sh" "$H"
fi
if [ -e "/run/netns/$NETNS" ] && ! mountpoint -q "/run/netns/$NETNS"; then
  log "removing stale /run/netns/$NETNS (no namespace behind it)"
  rm -f "/run/netns/$NETNS"
fi
if ip netns list 2>/dev/null | grep -qw -- "^$NETNS"; then
  owner=$(ip netns pids "$NETNS" 2>/dev/null | head -n1 || true)
  [ -z "$owner" ] || owner=" (pid $owner: $(tr '\0' ' ' <"/proc/$owner/cmdline" 2>/dev/null || true))"
  die "netns $NETNS already exists$owner; another testbed (other E2E?) uses host name $H, or run host-down.sh $H"
fi
if ip link show "$VR" >/dev/null 2>&1; then
  die "interface $VR already exists: IDX $IDX is in use by another host; pick another IDX or run host-down.sh on it"
fi
if ip -4 addr show | grep -qF " $NET."; then
  die "address $NET.x already in use on this machine: IDX $IDX is taken"
fi

# a fresh host each time: drop what an earlier run left (logs, disks, domains)
if [ -e "$R" ] && [ "${KEEP_STATE:-0}" != 1 ]; then
  [ -f "$R/.kvmclone-testbed" ] || [ -z "$(ls -A "$R")" ] || die "$R exists and is not a testbed host dir; not touching it"
  rm -rf -- "$R"
fi
mkdir -p "$R"/{ssh,pids,images,var-log-libvirt/qemu,var-log-kvmclone} "$E2E/client"
touch "$R/.kvmclone-testbed"
chmod 755 "$E2E" "$R"
rm -f "$P"/*.pid
MODE=dir
[ -z "$SIZE" ] || MODE=loop
printf 'IDX=%s\nNETNS=%s\nVETH=%s\nADDR=%s\nIMAGES_MODE=%s\nIMAGES_EIO=%s\n' "$IDX" "$NETNS" "$VR" "$ADDR" "$MODE" "$EIO" >"$R/host.env"

cleanup_on_error() {
  local rc=$?
  [ "$rc" = 0 ] && return
  log "bringing $H up failed (rc $rc); tearing down what was started"
  "$TESTBED_DIR/host-down.sh" "$H" >&2 || true
}
trap cleanup_on_error EXIT

# --- per-host libvirt state (copied skeleton of the packaged dirs) ---
[ -d "$R/etc-libvirt" ] || cp -a /etc/libvirt "$R/etc-libvirt"
[ -d "$R/var-lib-libvirt" ] || cp -a /var/lib/libvirt "$R/var-lib-libvirt"
[ -d "$R/var-cache-libvirt" ] || { mkdir -p "$R/var-cache-libvirt"; cp -a /var/cache/libvirt/. "$R/var-cache-libvirt/" 2>/dev/null || true; }
mkdir -p "$R/var-lib-libvirt/images"   # mount point
# seed the QEMU capabilities cache from an earlier host (saves libvirtd ~8 s of probing)
CAPS=$E2E/.qemu-caps
CAPS_DIR=$R/var-cache-libvirt/qemu/capabilities
if [ -d "$CAPS" ] && [ -z "$(ls -A "$CAPS_DIR" 2>/dev/null)" ]; then
  mkdir -p "$CAPS_DIR"
  cp -a "$CAPS/." "$CAPS_DIR/" 2>/dev/null || true
fi
# two libvirtds share one cgroupfs: don't let them fight over machine/qemu-1-vm1;
# run QEMU as root: /dev/kvm is root:root 0600 here (no udev), and images stay root-owned
grep -q '^cgroup_controllers' "$R/etc-libvirt/qemu.conf" ||
  printf 'cgroup_controllers = [ ]\nuser = "root"\ngroup = "root"\n' >>"$R/etc-libvirt/qemu.conf"
rm -f "$R/etc-libvirt/qemu/networks/autostart/"*

# --- images: plain per-host dir, or a loop-mounted ext4 fs of IMAGES_SIZE_MB ---
if [ "$MODE" = loop ]; then
  IMG=$R/images.ext4
  if [ ! -f "$IMG" ] || [ "$(stat -c %s "$IMG")" != $((SIZE * 1024 * 1024)) ]; then
    rm -f "$IMG"
    truncate -s "${SIZE}M" "$IMG"
    # no reserved blocks, no journal, few inodes: df shows close to IMAGES_SIZE_MB
    mkfs.ext4 -q -F -m 0 -b 4096 -N 1024 -O ^has_journal -L "kvmc-$H" "$IMG"
  fi
fi

# --- images through eio-fs (IMAGES_EIO=1): the binary, built from eio-fs.c when it changed ---
EIO_FS=
if [ "$EIO" = 1 ]; then
  EIO_FS=$(eio_fs_build)
  printf 'EIO_FS=%s\n' "$EIO_FS" >>"$R/host.env"
fi

# --- the dedicated SSH account (machine-wide, idempotent; serialised: useradd locks /etc/passwd) ---
ACCOUNT=kvmclone
(
  flock 8
  getent group "$ACCOUNT" >/dev/null || groupadd --system "$ACCOUNT"
  getent passwd "$ACCOUNT" >/dev/null ||
    useradd --system --gid "$ACCOUNT" --shell /usr/sbin/nologin --home-dir /nonexistent --no-create-home "$ACCOUNT"
  # sshd with UsePAM no refuses a locked ('!') password even for key logins; '*' = no password, not locked
  [ "$(getent shadow "$ACCOUNT" | cut -d: -f2)" = '*' ] || usermod -p '*' "$ACCOUNT"
) 8>/tmp/kvmclone-testbed-account.lock
# the agent's config inside the host: its socket (and forward dir) belong to the account's group
mkdir -p "$R/etc-kvmclone" /etc/kvmclone
printf 'socket_group: %s\n' "$ACCOUNT" >"$R/etc-kvmclone/agent.yaml"

# --- ssh: throwaway client key + per-host host key, client config under $E2E/client ---
[ -f "$R/ssh/host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C "$H" -f "$R/ssh/host_ed25519_key"
cat >"$R/ssh/sshd_config" <<EOF
Port 22
ListenAddress $ADDR
HostKey $R/ssh/host_ed25519_key
PidFile $P/sshd.pid
AuthorizedKeysFile $R/ssh/authorized_keys.%u
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AllowTcpForwarding yes
AllowStreamLocalForwarding yes
MaxStartups 100:30:200
MaxSessions 100
Subsystem sftp internal-sftp
SetEnv E2E_HOST=$H
# the dedicated account: stream-local forwards, no command, no tty (as deploy/sshd/kvmclone.conf says;
# AllowTcpForwarding must stay yes and PermitOpen any: OpenSSH 9.2 applies both to unix-socket forwards too)
Match User $ACCOUNT
  AllowStreamLocalForwarding yes
  AllowTcpForwarding yes
  PermitListen none
  StreamLocalBindUnlink no
  PermitUserRC no
  AllowAgentForwarding no
  X11Forwarding no
  PermitTTY no
  PermitTunnel no
  ForceCommand /usr/sbin/nologin
EOF
(
  # several hosts may come up in parallel: serialise edits of the shared client files
  flock 9
  C=$E2E/client
  [ -f "$C/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C kvmclone-testbed-client -f "$C/id_ed25519"
  KH=$C/known_hosts
  touch "$KH"
  ssh-keygen -q -R "$ADDR" -f "$KH" >/dev/null 2>&1 || true
  rm -f "$KH.old"
  printf '%s %s\n' "$ADDR" "$(cut -d' ' -f1,2 "$R/ssh/host_ed25519_key.pub")" >>"$KH"
  mkdir -p "$C/conf.d"
  printf 'Include %s/conf.d/*\n' "$C" >"$C/ssh_config"
  # the same hosts, every one as root (first obtained value wins): for tests of generic SSH features (exec)
  printf 'Host *\n  User root\nMatch all\nInclude %s/conf.d/*\n' "$C" >"$C/ssh_config.root"
  # Host NAME: the unprivileged account kvmctl uses; Host NAME-root: root, for tests that need a shell
  cat >"$C/conf.d/$H" <<EOF
Host $H $H-root
  HostName $ADDR
  Port 22
  IdentityFile $C/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $KH
  StrictHostKeyChecking yes
  BatchMode yes
  ConnectTimeout 5
Host $H-root
  User root
Host $H
  User $ACCOUNT
EOF
) 9>"$E2E/client/.lock"
cp "$E2E/client/id_ed25519.pub" "$R/ssh/authorized_keys.root"
# the account's key: nothing but port forwarding (restrict = no pty, no agent/X11 forwarding, no ~/.ssh/rc)
printf 'restrict,port-forwarding %s\n' "$(cat "$E2E/client/id_ed25519.pub")" >"$R/ssh/authorized_keys.$ACCOUNT"

# --- network: veth pair, host side in its own netns. Only the /30 link exists: the host
# reaches the machine's root netns at $NET.1 and nothing else (hosts do not see each other).
ip netns add "$NETNS"
printf 'NETNS_INO=%s\n' "$(stat -L -c %i "/run/netns/$NETNS")" >>"$R/host.env"
ip link add "$VR" type veth peer name "$VH"
ip link set "$VH" netns "$NETNS"
ip addr add "$NET.1/30" dev "$VR"
ip link set "$VR" up
ip -n "$NETNS" addr add "$ADDR/30" dev "$VH"
ip -n "$NETNS" link set "$VH" up

# --- start the host: holder process in the netns + a private mount namespace ---
: >"$R/inner.log"
setsid ip netns exec "$NETNS" unshare --mount --propagation private \
  "$TESTBED_DIR/host-inner.sh" "$R" "$MODE" "$EIO_FS" </dev/null >>"$R/inner.log" 2>&1 &
INNER=$!   # becomes the holder (host-inner.sh ends with exec sleep)
for _ in $(seq 1 200); do
  [ -s "$P/holder.pid" ] && [ -s "$P/sshd.pid" ] && break
  pid_alive "$INNER" || break
  sleep 0.05
done
if ! hp=$(pidfile_pid holder); then
  log "host $H: holder did not come up; $R/inner.log:"
  tail -n 30 "$R/inner.log" >&2 || true
  exit 1
fi

# libvirtd daemonizes before it listens; without a capabilities cache it probes QEMU
# first (~4 s per qemu binary and accelerator), so wait for its socket, then for an answer
if [ "${WAIT_LIBVIRT:-1}" = 1 ]; then
  for _ in $(seq 1 1200); do
    nsenter -t "$hp" -m -n -r -- test -S /run/libvirt/libvirt-sock && break
    pidfile_pid libvirtd >/dev/null || die "libvirtd of $H exited; see $R/var-log-libvirt/libvirtd.log"
    sleep 0.1
  done
  timeout 120 nsenter -t "$hp" -m -n -r -- virsh -c qemu:///system version >/dev/null ||
    die "libvirtd of $H does not answer; see $R/var-log-libvirt and $R/inner.log"
  if [ ! -d "$CAPS" ] && [ -n "$(ls -A "$CAPS_DIR" 2>/dev/null)" ]; then
    if ! { mkdir -p "$CAPS.tmp.$$" && cp -a "$CAPS_DIR/." "$CAPS.tmp.$$/" &&
      mv -T "$CAPS.tmp.$$" "$CAPS" 2>/dev/null; }; then rm -rf -- "$CAPS.tmp.$$"; fi
  fi
fi
ok=0
for _ in $(seq 1 50); do
  if ssh -F "$E2E/client/ssh_config" "$H-root" true </dev/null 2>/dev/null; then ok=1; break; fi
  sleep 0.1
done
[ "$ok" = 1 ] || die "sshd of $H not reachable at $ADDR; see $R/sshd.log"
# the account logs in (255 = ssh itself failed) and its command is refused (nologin: status 1)
rc=0
ssh -F "$E2E/client/ssh_config" "$H" true </dev/null >/dev/null 2>&1 || rc=$?
[ "$rc" != 0 ] || die "the $ACCOUNT account ran a command on $H: its sshd Match block is not in force"
[ "$rc" != 255 ] || die "the $ACCOUNT account cannot log in to $H; see $R/sshd.log"

if [ -n "${AGENT_CMD:-}" ]; then
  agent_start
fi
T1=$(date +%s%N)
trap - EXIT
printf '%s up in %s ms: ssh -F %s/client/ssh_config %s  (%s, holder pid %s, images: %s)\n' \
  "$H" $(((T1 - T0) / 1000000)) "$E2E" "$H" "$ADDR" "$hp" "$([ -n "$SIZE" ] && echo "ext4 ${SIZE} MiB" || echo dir)$([ "$EIO" = 0 ] || echo ' through eio-fs')"
