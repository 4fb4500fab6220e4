#!/bin/bash
# Usage: host-exec.sh NAME CMD [ARG...]
#   Runs CMD inside host NAME (its mount + network namespaces), as root, cwd /.
#   stdin/stdout/stderr and the exit status are passed through.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -ge 2 ] || die "usage: host-exec.sh NAME CMD [ARG...]"
set_host "$1"
shift
hp=$(holder_pid)
exec nsenter -t "$hp" -m -n -r --wd=/ -- "$@"
