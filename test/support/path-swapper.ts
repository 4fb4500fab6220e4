/**
 * A racing swapper for the check-then-use tests (issue 10, hole 4): run as
 * its own process, it exchanges two names — a real directory and a symlink
 * to a directory outside the image roots — with renameat2(RENAME_EXCHANGE)
 * as fast as it can until it is killed, so a path that was checked while the
 * name was the directory is opened, sooner or later, while it is the symlink.
 *
 * Usage: node path-swapper.js A B   (both must exist; prints "ready" once swapping)
 */
import { RENAME, renameat2 } from '../../agent/native/libc.js';

const AT_FDCWD = -100;
const [a, b] = process.argv.slice(2);
if (a === undefined || b === undefined) {
  process.stderr.write('usage: path-swapper A B\n');
  process.exit(2);
}
let stopped = false;
process.on('SIGTERM', () => {
  stopped = true;
});
process.stdout.write('ready\n');
// Swap in bursts, yielding between them so SIGTERM is seen; always stop with the names as they began (an even count).
function burst(): void {
  for (let i = 0; i < 2000; i += 1) renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME.EXCHANGE);
  if (stopped) process.exit(0);
  setImmediate(burst);
}
burst();
