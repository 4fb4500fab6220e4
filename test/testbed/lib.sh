# shellcheck shell=bash
# Shared helpers for the testbed scripts. Sourced, never executed.
#
# Per-host layout (R=$E2E/NAME):
#   .kvmclone-testbed   marks the dir as a testbed host (host-up.sh may wipe it)
#   host.env            IDX/NETNS/NETNS_INO/VETH/ADDR; exists while (part of) the host may
#                       be up: written by host-up.sh before it starts anything, removed
#                       at the end of host-down.sh
#   pids/*.pid          holder, sshd, libvirtd, virtlogd, agent
#   images/             the host's /var/lib/libvirt/images (plain mode)
#   images.ext4         backing file of the host's images fs (IMAGES_SIZE_MB mode)
#   eio.sock            control socket of the images dir's I/O-error injector (IMAGES_EIO=1 mode,
#                       see eio-fs.c and host-eio.sh); pids/eio-fs.pid its daemon
#   etc-libvirt/ var-lib-libvirt/ var-log-libvirt/ var-cache-libvirt/ var-log-kvmclone/   bind-mounted inside
#   ssh/ sshd.log inner.log agent.log agent.cmd

# shellcheck disable=SC2034  # used by the scripts that source this file
TESTBED_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E=${E2E:-/tmp/kvmclone-testbed}
AGENT_SOCK=${AGENT_SOCK:-/run/kvmclone/agent.sock}

die() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }
log() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }

# set_host NAME: validates NAME and sets H, R, P
set_host() {
  [[ ${1:-} =~ ^[A-Za-z][A-Za-z0-9-]{0,19}$ ]] || die "bad host name '${1:-}' (want ^[A-Za-z][A-Za-z0-9-]{0,19}\$)"
  [[ $E2E =~ ^/[A-Za-z0-9._/+-]+$ ]] || die "E2E must be an absolute path without spaces or odd characters: '$E2E'"
  H=$1
  R=$E2E/$H
  P=$R/pids
}

# netns_name NAME
netns_name() { printf 'kvmc-%s' "$1"; }

# host_env_get KEY: value of KEY from $R/host.env (empty if absent)
host_env_get() {
  local line
  [ -f "$R/host.env" ] || return 0
  while IFS= read -r line; do
    if [ "${line%%=*}" = "$1" ]; then printf '%s' "${line#*=}"; return 0; fi
  done <"$R/host.env"
}

# pid_alive PID: the process exists and is not a zombie (our daemons are reparented to
# PID 1, which may take a while to reap them)
pid_alive() {
  local st
  [[ ${1:-} =~ ^[0-9]+$ ]] && kill -0 "$1" 2>/dev/null || return 1
  st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  st=${st##*) }
  [ "${st:0:1}" != Z ]
}

# pidfile_pid NAME: prints the PID from $P/NAME.pid if that process is alive and (when the
# host's netns is known) inside that netns, so a stale pid file never hits a reused PID
pidfile_pid() {
  local f=$P/$1.pid pid ino
  [ -s "$f" ] || return 1
  pid=$(head -n1 "$f")
  pid_alive "$pid" || return 1
  ino=$(host_env_get NETNS_INO)
  if [ -n "$ino" ] && [ "$(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null)" != "$ino" ]; then
    return 1
  fi
  printf '%s' "$pid"
}

# holder_pid: the PID of the host's namespace holder, or die
holder_pid() {
  local pid
  pid=$(pidfile_pid holder) || die "host $H is not up (no live holder under $R)"
  printf '%s' "$pid"
}

# in_host CMD...: run CMD inside the host's mount+net namespaces
in_host() {
  local hp
  hp=$(holder_pid)
  nsenter -t "$hp" -m -n -r --wd=/ -- "$@"
}

# wait_gone TIMEOUT_S PID...: wait until all PIDs are gone; returns 1 on timeout
wait_gone() {
  local deadline=$(( $(date +%s%N) / 1000000 + $1 * 1000 )) p alive
  shift
  while :; do
    alive=0
    for p in "$@"; do pid_alive "$p" && alive=1 && break; done
    [ "$alive" = 0 ] && return 0
    [ $(( $(date +%s%N) / 1000000 )) -ge "$deadline" ] && return 1
    sleep 0.1
  done
}

# stop_pids TIMEOUT_S PID...: TERM, wait up to TIMEOUT_S, then KILL and wait again
stop_pids() {
  local t=$1 p live=()
  shift
  for p in "$@"; do pid_alive "$p" && live+=("$p"); done
  [ "${#live[@]}" -gt 0 ] || return 0
  kill -TERM "${live[@]}" 2>/dev/null || true
  wait_gone "$t" "${live[@]}" && return 0
  kill -KILL "${live[@]}" 2>/dev/null || true
  wait_gone 5 "${live[@]}" || log "warning: still alive after SIGKILL: ${live[*]}"
}

# ns_pids NSFILE KIND: PIDs of all processes whose KIND (net|mnt) namespace is the one at NSFILE
ns_pids() {
  local want d
  want=$(stat -L -c %i "$1" 2>/dev/null) || return 0
  for d in /proc/[0-9]*; do
    [ "$(stat -L -c %i "$d/ns/$2" 2>/dev/null)" = "$want" ] && printf '%s\n' "${d#/proc/}"
  done
  return 0
}

# agent_pid: PID of the running agent, if any
agent_pid() { pidfile_pid agent; }

# agent_stop SIGNAL TIMEOUT_S: signal the agent's process group, wait, then SIGKILL it
agent_stop() {
  local sig=$1 t=$2 pid pgid
  pid=$(agent_pid) || { rm -f "$P/agent.pid"; return 0; }
  pgid=$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ') || pgid=
  if [ "$pgid" = "$pid" ]; then
    kill "-$sig" -- "-$pgid" 2>/dev/null || true
  else
    kill "-$sig" "$pid" 2>/dev/null || true
  fi
  if ! wait_gone "$t" "$pid"; then
    log "agent of $H (pid $pid) still alive after ${t}s: SIGKILL"
    if [ "$pgid" = "$pid" ]; then kill -KILL -- "-$pgid" 2>/dev/null || true; else kill -KILL "$pid" 2>/dev/null || true; fi
    wait_gone 5 "$pid" || log "warning: agent pid $pid survived SIGKILL"
  fi
  # reap what is left of its process group (children that ignored the signal)
  if [ "$pgid" = "$pid" ] && pgrep -g "$pgid" >/dev/null 2>&1; then
    kill -KILL -- "-$pgid" 2>/dev/null || true
  fi
  rm -f "$P/agent.pid"
}

# sock_id: identity (inode + ctime) of the agent socket inside the host, or "none"
sock_id() {
  in_host stat -c '%i %z' "$AGENT_SOCK" 2>/dev/null || printf 'none'
}

# agent_start: start AGENT_CMD (or the last one used, from $R/agent.cmd) inside the host
# and wait up to AGENT_WAIT_S (20) seconds for a fresh socket at $AGENT_SOCK.
agent_start() {
  local cmd hp before pid deadline
  [[ ${AGENT_WAIT_S:-20} =~ ^[1-9][0-9]*$ ]] || die "AGENT_WAIT_S must be a positive integer"
  if [ -n "${AGENT_CMD:-}" ]; then
    cmd=$AGENT_CMD
    printf '%s\n' "$cmd" >"$R/agent.cmd"
  elif [ -s "$R/agent.cmd" ]; then
    cmd=$(cat "$R/agent.cmd")
  else
    die "no AGENT_CMD set and no previous one in $R/agent.cmd"
  fi
  hp=$(holder_pid)
  if pid=$(agent_pid); then die "agent of $H already running (pid $pid)"; fi
  before=$(sock_id)
  # setsid: own session + process group, so stop/kill reaches the agent's children too.
  # env --default-signal: undo the SIGINT/SIGQUIT ignore that bash gives background jobs.
  # setsid, env, nsenter and bash exec in place: $! is the agent's PID (for a simple command).
  setsid env --default-signal nsenter -t "$hp" -m -n -r --wd="$PWD" -- /bin/bash -c "$cmd" </dev/null >>"$R/agent.log" 2>&1 &
  pid=$!
  printf '%s\n' "$pid" >"$P/agent.pid"
  deadline=$(( $(date +%s%N) / 1000000 + ${AGENT_WAIT_S:-20} * 1000 ))
  while :; do
    if ! pid_alive "$pid"; then
      rm -f "$P/agent.pid"
      log "agent of $H exited before creating $AGENT_SOCK; tail of $R/agent.log:"
      tail -n 30 "$R/agent.log" >&2 || true
      exit 1
    fi
    if in_host test -S "$AGENT_SOCK" && [ "$(sock_id)" != "$before" ]; then
      break
    fi
    if [ $(( $(date +%s%N) / 1000000 )) -ge "$deadline" ]; then
      log "agent of $H: no socket $AGENT_SOCK after ${AGENT_WAIT_S:-20}s; tail of $R/agent.log:"
      tail -n 30 "$R/agent.log" >&2 || true
      agent_stop TERM 5
      exit 1
    fi
    sleep 0.1
  done
  log "agent of $H up (pid $pid, socket $AGENT_SOCK, log $R/agent.log)"
}

# eio_fs_build: compiles eio-fs.c (once per version of its source, under a lock: hosts may
# come up in parallel) into $E2E/.eio-fs/ and prints the binary's path
eio_fs_build() {
  local src=$TESTBED_DIR/eio-fs.c dir=$E2E/.eio-fs sum bin
  command -v gcc >/dev/null || die "IMAGES_EIO=1 needs gcc (run deps.sh)"
  pkg-config --exists fuse3 2>/dev/null || die "IMAGES_EIO=1 needs libfuse3-dev (run deps.sh)"
  [ -c /dev/fuse ] || die "IMAGES_EIO=1 needs /dev/fuse"
  sum=$(sha256sum "$src" | cut -c1-16)
  bin=$dir/eio-fs-$sum
  mkdir -p "$dir"
  (
    flock 7
    if [ ! -x "$bin" ]; then
      # shellcheck disable=SC2046  # pkg-config prints several words
      gcc -O2 -Wall -Wextra -Werror -o "$bin.tmp.$$" "$src" $(pkg-config --cflags --libs fuse3) >&2 ||
        { rm -f "$bin.tmp.$$"; exit 1; }
      mv -f "$bin.tmp.$$" "$bin"
    fi
  ) 7>"$dir/.lock" || die "could not build $src"
  printf '%s' "$bin"
}

# eio_unmount: unmounts the host's I/O-error injector (IMAGES_EIO=1) and waits for its
# daemon to exit (it does once unmounted). When something inside the host still holds a file
# open there, the unmount is lazy and the daemon would serve that file on: it is stopped
# (its files then fail with ENOTCONN; whatever holds them is killed next anyway).
eio_unmount() {
  local ns pid how=
  [ "$(host_env_get IMAGES_EIO)" = 1 ] || return 0
  pid=$(pidfile_pid eio-fs 2>/dev/null) || pid=
  ns=$(pidfile_pid holder 2>/dev/null) || ns=$pid
  if [ -n "$ns" ]; then
    # shellcheck disable=SC2016  # expanded by the inner shell
    how=$(nsenter -t "$ns" -m -- /bin/sh -c 'I=/var/lib/libvirt/images
      if mountpoint -q "$I" && grep -q " $I fuse.eio " /proc/self/mounts; then
        if umount "$I" 2>/dev/null; then echo clean; else umount -l "$I" && echo lazy; fi
      fi') || log "warning: could not unmount the images dir of $H"
  fi
  if [ -n "$pid" ]; then
    if [ "$how" = lazy ]; then
      stop_pids 3 "$pid"
    elif ! wait_gone 5 "$pid"; then
      log "warning: eio-fs of $H (pid $pid) still running after its unmount; stopping it"
      stop_pids 3 "$pid"
    fi
  fi
  rm -f "$P/eio-fs.pid" "$R/eio.sock"
}
