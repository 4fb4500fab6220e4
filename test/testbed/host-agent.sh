#!/bin/bash
# Usage: host-agent.sh NAME start|stop|kill|restart|status
#   Manages the agent inside host NAME. The agent command is AGENT_CMD (run with bash -c,
#   inside the host's mount+net namespaces, in its own session/process group, cwd = $PWD);
#   when AGENT_CMD is unset the command last used for this host ($E2E/NAME/agent.cmd) is
#   reused. stdout+stderr are appended to $E2E/NAME/agent.log, PID in $E2E/NAME/pids/agent.pid.
#   start    refuse if running; start; wait up to AGENT_WAIT_S (20) s for a new socket at
#            AGENT_SOCK (/run/kvmclone/agent.sock) inside the host; on failure print the
#            tail of agent.log and exit 1
#   stop     SIGTERM to the agent's process group, wait AGENT_STOP_TIMEOUT (10) s, SIGKILL
#   kill     SIGKILL to the agent's process group at once (a crash; the socket file stays)
#   restart  stop, then start
#   status   exit 0 and print the PID if running, exit 1 otherwise
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# = 2 ] || die "usage: host-agent.sh NAME start|stop|kill|restart|status"
set_host "$1"
case $2 in
  start) agent_start ;;
  stop) agent_stop TERM "${AGENT_STOP_TIMEOUT:-10}" ;;
  kill) agent_stop KILL 5 ;;
  restart) agent_stop TERM "${AGENT_STOP_TIMEOUT:-10}"; agent_start ;;
  status)
    if pid=$(agent_pid); then echo "$pid"; else exit 1; fi ;;
  *) die "unknown action '$2' (start|stop|kill|restart|status)" ;;
esac
