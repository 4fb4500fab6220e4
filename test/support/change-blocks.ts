/**
 * Known changes to a source image for sync tests: distinct 64 KiB blocks at
 * scattered, seeded places overwritten with seeded random bytes, written
 * inside the host (as its guest or an admin would) and fsynced. The same
 * seed gives the same blocks and bytes, so a failing trial can be re-run.
 */
import { hostExec } from './testbed.js';

const SCRIPT = [
  'import os, random, sys',
  'path, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])',
  'blocks = os.stat(path).st_size // 65536',
  'rnd = random.Random(seed)',
  'fd = os.open(path, os.O_WRONLY)',
  // The last whole block is never picked, as in the copies this replaced.
  'for b in rnd.sample(range(blocks - 1), count): os.pwrite(fd, rnd.randbytes(65536), b * 65536)',
  'os.fsync(fd)',
].join('\n');

/** Overwrites `count` distinct 64 KiB blocks of `path` (a path inside `host`) chosen by `seed`. */
export async function overwriteBlocks(host: string, path: string, count: number, seed: number): Promise<void> {
  await hostExec(host, ['python3', '-c', SCRIPT, path, String(count), String(seed)]);
}
