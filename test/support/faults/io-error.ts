/**
 * The "source image becomes unreadable" fault: reads of one file in a host's
 * images dir fail with EIO, as a disk with a bad region answers. The host
 * must be up with `IMAGES_EIO: '1'` (hostUp's extra env): its
 * /var/lib/libvirt/images is then eio-fs, a FUSE passthrough of the backing
 * dir (test/testbed/eio-fs.c), driven through test/testbed/host-eio.sh.
 * The fault follows the file's inode and holds at once, for descriptors
 * already open too: eio-fs answers no read from the page cache.
 */
import { testbedScript } from '../testbed.js';

/** One active fault, as eio-fs lists it. */
export interface IoErrorRule {
  /** The file's name when the fault was enabled. */
  readonly file: string;
  readonly inode: number;
  /** Reads at or past this byte fail. */
  readonly fromOffset: number;
  /** Reads answered with EIO (or cut short at `fromOffset`) since the fault was enabled. */
  readonly failedReads: number;
}

function checkFile(file: string): void {
  if (file === '' || file.includes('/') || file === '.' || file === '..') {
    throw new Error(`io-error fault: '${file}' is not a file name in the images dir`);
  }
}

/**
 * From now on, reads of `file` (a name in `host`'s images dir, which must
 * exist) fail with EIO at or past `fromOffset` (default 0, the whole file);
 * a read that starts before it is cut short there. Enabling again moves the
 * offset. Writes, metadata, renames are not affected.
 */
export async function enableIoErrors(host: string, file: string, fromOffset = 0): Promise<void> {
  checkFile(file);
  if (!Number.isSafeInteger(fromOffset) || fromOffset < 0) throw new Error(`io-error fault: bad offset ${fromOffset}`);
  await testbedScript('host-eio.sh', [host, 'enable', file, String(fromOffset)]);
}

/** Reads of `file` on `host` work again; a no-op when no fault was enabled for it. */
export async function disableIoErrors(host: string, file: string): Promise<void> {
  checkFile(file);
  await testbedScript('host-eio.sh', [host, 'disable', file]);
}

/** The faults active on `host`, with how many reads each has failed: proof that a failure came from the fault. */
export async function listIoErrors(host: string): Promise<IoErrorRule[]> {
  const out = await testbedScript('host-eio.sh', [host, 'list']);
  const rules: IoErrorRule[] = [];
  for (const line of out.split('\n')) {
    const m = /^rule (\S+) ino=(\d+) from=(\d+) failed=(\d+)$/.exec(line);
    if (m) rules.push({ file: m[1] ?? '', inode: Number(m[2]), fromOffset: Number(m[3]), failedReads: Number(m[4]) });
  }
  return rules;
}
