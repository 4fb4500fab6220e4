#!/bin/bash
# A throwaway libvirtd for integration tests, in a private mount namespace.
#
#   libvirt-sandbox.sh up DIR     start it; prints the connection URI on stdout
#   libvirt-sandbox.sh restart DIR  restart libvirtd alone (its domains keep running; DOWN_SECONDS=N keeps it down N s),
#                                 as a package upgrade would
#   libvirt-sandbox.sh down DIR   destroy its domains, stop every process it
#                                 started (by PID), and remove DIR
#
# DIR must not exist yet for `up` (the caller picks a fresh temp path). Inside
# the namespace, copies of /etc/libvirt and /var/lib/libvirt and fresh log and
# cache dirs are bind-mounted over the real ones, and DIR/run is bind-mounted on
# /run, so libvirtd's socket DIR/run/libvirt/libvirt-sock is reachable from
# outside: URI qemu:///system?socket=DIR/run/libvirt/libvirt-sock. Everything
# else (/tmp, /dev/kvm) is shared with the host, so images under /tmp are seen
# by both sides. QEMU runs as root without cgroup controllers, as on the testbed.
set -euo pipefail

die() { printf 'libvirt-sandbox: %s\n' "$*" >&2; exit 1; }

[ $# -eq 2 ] || die "usage: $0 up|down DIR"
ACTION=$1
DIR=$2
# DIR ends up in a generated shell script and in a URI: keep it plain.
[[ $DIR =~ ^/[A-Za-z0-9._/-]+$ ]] || die "DIR must be an absolute path of [A-Za-z0-9._/-]: '$DIR'"
SOCK=$DIR/run/libvirt/libvirt-sock
URI="qemu:///system?socket=$SOCK"
P=$DIR/pids

# a zombie (state Z) counts as gone: nobody here may reap it
pid_alive() {
  [[ ${1:-} =~ ^[0-9]+$ ]] && kill -0 "$1" 2>/dev/null || return 1
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}
pid_of() {
  local f=$P/$1.pid
  if [ -s "$f" ]; then head -n1 "$f"; fi
}

up() {
  [ -e "$DIR" ] && die "$DIR exists already"
  mkdir -p "$DIR"/{run,log/qemu,cache,pids}
  cp -a /etc/libvirt "$DIR/etc"
  cp -a /var/lib/libvirt "$DIR/lib"
  cp -a /var/cache/libvirt/. "$DIR/cache/" 2>/dev/null || true
  # no cgroup controllers (several libvirtds share one cgroupfs); QEMU as root
  # (/dev/kvm is root-only without udev, and test images are root-owned)
  printf '\ncgroup_controllers = [ ]\nuser = "root"\ngroup = "root"\n' >>"$DIR/etc/qemu.conf"
  rm -f "$DIR/etc/qemu/networks/autostart/"*
  cat >"$DIR/inner.sh" <<EOF
#!/bin/bash
set -e
mount --make-rprivate /
mount --bind $DIR/run /run
mkdir -p /run/libvirt /run/lock
mount --bind $DIR/etc /etc/libvirt
mount --bind $DIR/lib /var/lib/libvirt
mount --bind $DIR/log /var/log/libvirt
mount --bind $DIR/cache /var/cache/libvirt
virtlogd -d -p $P/virtlogd.pid
libvirtd -d -p $P/libvirtd.pid
echo \$\$ >$P/holder.pid
exec sleep infinity
EOF
  chmod +x "$DIR/inner.sh"
  setsid unshare --mount --propagation private "$DIR/inner.sh" </dev/null >"$DIR/inner.log" 2>&1 &
  for _ in $(seq 1 200); do
    [ -s "$P/holder.pid" ] && [ -S "$SOCK" ] && break
    sleep 0.05
  done
  [ -S "$SOCK" ] || { cat "$DIR/inner.log" >&2; down; die "libvirtd did not come up"; }
  # The first connection waits while libvirtd probes QEMU (a few seconds).
  timeout 120 virsh -q -c "$URI" version >/dev/null || { down; die "libvirtd does not answer"; }
  printf '%s\n' "$URI"
}

restart() {
  local holder pid
  holder=$(pid_of holder)
  pid_alive "$holder" || die "no sandbox is running in $DIR"
  pid=$(pid_of libvirtd)
  if pid_alive "$pid"; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do pid_alive "$pid" || break; sleep 0.05; done
  fi
  rm -f "$P/libvirtd.pid"
  # DOWN_SECONDS: how long libvirtd stays down (a slow restart)
  sleep "${DOWN_SECONDS:-0}"
  nsenter -t "$holder" -m -- libvirtd -d -p "$P/libvirtd.pid"
  # the old socket file may still be there: wait until the new daemon answers
  for _ in $(seq 1 100); do
    timeout 60 virsh -q -c "$URI" version >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "libvirtd did not come back"
}

down() {
  [ -d "$DIR" ] || return 0
  local holder ns="" pid pids=()
  holder=$(pid_of holder)
  if pid_alive "$holder"; then
    ns=$(readlink "/proc/$holder/ns/mnt" 2>/dev/null || true)
    # a killed libvirtd leaves QEMU running: destroy the domains first
    if [ -S "$SOCK" ]; then
      for d in $(timeout 30 virsh -q -c "$URI" list --name 2>/dev/null); do
        timeout 30 virsh -q -c "$URI" destroy --domain "$d" >/dev/null 2>&1 || true
      done
    fi
  fi
  for f in libvirtd virtlogd holder; do
    pid=$(pid_of "$f")
    pid_alive "$pid" && pids+=("$pid")
  done
  # anything else left in the sandbox's mount namespace (qemu, swtpm) was started by it
  if [ -n "$ns" ]; then
    for d in /proc/[0-9]*; do
      [ "$(readlink "$d/ns/mnt" 2>/dev/null)" = "$ns" ] && pids+=("${d#/proc/}")
    done
  fi
  if [ ${#pids[@]} -gt 0 ]; then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 1 50); do
      local alive=0
      for pid in "${pids[@]}"; do pid_alive "$pid" && alive=1; done
      [ $alive = 0 ] && break
      sleep 0.1
    done
    for pid in "${pids[@]}"; do pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null; done
  fi
  rm -rf "$DIR"
}

case $ACTION in
  up) up ;;
  restart) restart ;;
  down) down ;;
  *) die "unknown action '$ACTION' (up or down)" ;;
esac
