#!/bin/bash
# A stand-in for systemctl on a testbed host started with ROOT_OVERLAY=1 (bind-mounted over
# /usr/bin/systemctl inside that host only). The testbed has no systemd (nor has CI), yet
# `kvmctl hosts setup` manages kvmclone-agent.service with systemctl; this does what systemd
# would for that one unit, from the installed unit file: enable (the wants symlink, as systemctl
# makes it), start (RuntimeDirectory, Environment=, ExecStart in its own session, ready when the
# agent's socket appears, as Type=notify waits for READY), stop, restart, is-active, is-enabled,
# and `reload ssh` (SIGHUP to the host's sshd). Anything else fails loudly, so a setup step this
# does not model shows as an error instead of passing silently.
set -uo pipefail
UNIT=kvmclone-agent.service
WANTS=/etc/systemd/system/multi-user.target.wants
STATE=/run/kvmclone-testbed-systemctl
PIDFILE=$STATE/agent.pid
SOCK=/run/kvmclone/agent.sock
die() { echo "systemctl (testbed stand-in): $*" >&2; exit 1; }

unit_file() {
  local f
  for f in /lib/systemd/system/$UNIT /usr/lib/systemd/system/$UNIT; do [ -f "$f" ] && { echo "$f"; return 0; }; done
  return 1
}
is_active() { [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }
unit_arg() {
  case "${1:-}" in
    kvmclone-agent | kvmclone-agent.service) ;;
    *) die "only $UNIT is modelled here, not '${1:-}'" ;;
  esac
}

start() {
  is_active && return 0
  local f line exec env=() rundir mode
  f=$(unit_file) || die "Unit $UNIT not found."
  exec=$(sed -n 's/^ExecStart=//p' "$f" | head -n1)
  [ -n "$exec" ] || die "$f has no ExecStart"
  while IFS= read -r line; do env+=("$line"); done < <(sed -n 's/^Environment=//p' "$f")
  rundir=$(sed -n 's/^RuntimeDirectory=//p' "$f" | head -n1)
  mode=$(sed -n 's/^RuntimeDirectoryMode=//p' "$f" | head -n1)
  [ -z "$rundir" ] || install -d -m "${mode:-0755}" "/run/$rundir"
  mkdir -p "$STATE" /var/log/kvmclone
  rm -f "$SOCK"
  # shellcheck disable=SC2086  # ExecStart is a command line, split as systemd splits a simple one
  env "${env[@]}" setsid $exec </dev/null >>/var/log/kvmclone/agent.stdout.log 2>&1 &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 200); do
    [ -S "$SOCK" ] && return 0
    is_active || die "$UNIT exited while starting; see /var/log/kvmclone/agent.stdout.log: $(tail -n 5 /var/log/kvmclone/agent.stdout.log)"
    sleep 0.1
  done
  die "$UNIT did not become ready (no $SOCK after 20 s)"
}
stop() {
  is_active || return 0
  local pid
  pid=$(cat "$PIDFILE")
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  rm -f "$PIDFILE"
}

cmd=${1:-}; shift || true
case "$cmd" in
  is-system-running) echo running ;;
  is-active) unit_arg "${1:-}"; if is_active; then echo active; else echo inactive; exit 3; fi ;;
  is-enabled) unit_arg "${1:-}"; if [ -L "$WANTS/$UNIT" ]; then echo enabled; else echo disabled; exit 1; fi ;;
  enable)
    unit_arg "${1:-}"; f=$(unit_file) || die "Unit $UNIT not found."
    mkdir -p "$WANTS"; [ -L "$WANTS/$UNIT" ] || { ln -s "$f" "$WANTS/$UNIT"; echo "Created symlink $WANTS/$UNIT → $f."; } ;;
  start) unit_arg "${1:-}"; start ;;
  stop) unit_arg "${1:-}"; stop ;;
  restart) unit_arg "${1:-}"; stop; start ;;
  reload)
    case "${1:-}" in
      ssh | ssh.service | sshd | sshd.service)
        R=$(cat /run/kvmclone-testbed-host 2>/dev/null) || die "not a testbed host"
        kill -HUP "$(cat "$R/pids/sshd.pid")" ;;
      *) unit_arg "${1:-}"; die "$UNIT has no reload" ;;
    esac ;;
  *) die "'$cmd' is not modelled" ;;
esac
