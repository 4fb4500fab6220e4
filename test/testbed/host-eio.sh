#!/bin/bash
# Usage: host-eio.sh NAME enable FILE [OFFSET] | disable FILE | list
#   Controls the I/O-error injector of host NAME, which must be up with IMAGES_EIO=1 (its
#   /var/lib/libvirt/images is then eio-fs, see eio-fs.c).
#   enable FILE [OFFSET]  reads of FILE (a path relative to the images dir) fail with EIO from
#                         byte OFFSET (default 0) on; a read that starts before OFFSET is cut
#                         short there. The rule follows the file's inode (renames, hard links),
#                         and holds at once, for descriptors already open too (eio-fs serves
#                         no read from the page cache). Enabling again moves OFFSET.
#   disable FILE          reads of it work again (no error when nothing was enabled)
#   list                  one line per rule: `rule FILE ino=N from=OFFSET failed=READS`
#   Prints the injector's answer; exit status 0 when it was carried out.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -ge 2 ] || die "usage: host-eio.sh NAME enable FILE [OFFSET] | disable FILE | list"
set_host "$1"
shift
[ "$(host_env_get IMAGES_EIO)" = 1 ] || die "host $H is not up with IMAGES_EIO=1"
EIO_FS=$(host_env_get EIO_FS)
[ -x "$EIO_FS" ] || die "host $H: eio-fs binary '$EIO_FS' is missing"
pidfile_pid eio-fs >/dev/null || die "host $H: eio-fs is not running (see $R/inner.log)"
case $1 in
  enable) [ $# = 2 ] || [ $# = 3 ] || die "usage: host-eio.sh NAME enable FILE [OFFSET]" ;;
  disable) [ $# = 2 ] || die "usage: host-eio.sh NAME disable FILE" ;;
  list) [ $# = 1 ] || die "usage: host-eio.sh NAME list" ;;
  *) die "unknown action '$1' (enable|disable|list)" ;;
esac
exec "$EIO_FS" ctl "$R/eio.sock" "$@"
