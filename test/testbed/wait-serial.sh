#!/bin/bash
# Usage: wait-serial.sh LOG WHAT [SECONDS]
#   Waits until the serial log LOG of a testbed VM (made by make-vm.sh: its boot sector prints
#   "HI") says HI, then prints "serial console of WHAT: <its first 80 characters>". Exits 1
#   with a message on stderr when it has not said HI after SECONDS (default 20; guests run
#   under TCG here, slow): a demo or test that only printed the log would pass with a clone
#   that never booted.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: wait-serial.sh LOG WHAT [SECONDS]" >&2; exit 2; }
log=$1 what=$2 seconds=${3:-20}
deadline=$((SECONDS + seconds))
until grep -q HI "$log" 2>/dev/null; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    said=$(tr -d '\r' 2>/dev/null < "$log" | tr '\n' ' ' | head -c 80 || true)
    said=${said% }
    echo "the serial console of $what never said HI within $seconds s (log $log: ${said:-empty or missing})" >&2
    exit 1
  fi
  sleep 0.1
done
echo "serial console of $what: $(tr -d '\r' < "$log" | head -c 80)"
