#!/bin/bash
# Usage: host-libvirtd.sh NAME restart|status
#   libvirtd inside host NAME, for fault injection (scripts/bench faults).
#   restart  SIGTERM libvirtd (SIGKILL after 10 s), start it again the way host-inner.sh
#            does (daemonized, pinned to CPU 0, pid in $E2E/NAME/pids/libvirtd.pid) and wait
#            until it answers (up to 60 s). Running QEMU processes are not touched: the new
#            libvirtd reconnects to them, as after `systemctl restart libvirtd`.
#   status   exit 0 and print the PID if running, exit 1 otherwise
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# = 2 ] || die "usage: host-libvirtd.sh NAME restart|status"
set_host "$1"
case $2 in
  restart)
    hp=$(holder_pid)
    if pid=$(pidfile_pid libvirtd); then stop_pids 10 "$pid"; fi
    rm -f "$P/libvirtd.pid"
    PIN=()
    if taskset -c 0 true 2>/dev/null; then PIN=(taskset -c 0); fi
    nsenter -t "$hp" -m -n -r --wd=/ -- "${PIN[@]}" libvirtd -d -p "$P/libvirtd.pid"
    for _ in $(seq 1 600); do
      nsenter -t "$hp" -m -n -r -- virsh -c qemu:///system version >/dev/null 2>&1 && exit 0
      sleep 0.1
    done
    die "libvirtd of $H does not answer 60 s after its restart; see $R/var-log-libvirt/libvirtd.log" ;;
  status)
    if pid=$(pidfile_pid libvirtd); then echo "$pid"; else exit 1; fi ;;
  *) die "unknown action '$2' (restart|status)" ;;
esac
