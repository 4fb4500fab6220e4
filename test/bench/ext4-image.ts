/**
 * Honest data for the replication benchmark: a sparse raw image holding a
 * real ext4 filesystem filled with files of fresh random bytes (every byte
 * from os.urandom, never one pool copied again and again, so neither
 * compression nor a delta search gains from repeats), and block-level
 * changes of fresh random bytes at random offsets of an image file — what a
 * guest's writes look like to the disk, metadata and free space included.
 */
import { execFile } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Fills `root` with files of log-uniform sizes (4 KiB .. 64 MiB) of fresh random bytes up to `target` bytes (seeded sizes, unseeded data). */
const FILLER = `
import os, sys, random
root, target, rng = sys.argv[1], int(sys.argv[2]), random.Random(int(sys.argv[3]))
total = n = 0
while total < target:
    size = min(int(2 ** rng.uniform(12, 26)), target - total)
    d = os.path.join(root, 'd%02d' % (n % 16)); os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'f%05d.bin' % n), 'wb') as f:
        left = size
        while left:
            chunk = os.urandom(min(left, 8 << 20)); f.write(chunk); left -= len(chunk)
    total += size; n += 1
print(n, total)
`;

/**
 * Writes extents of 4..64 KiB (4 KiB aligned, seeded offsets and lengths)
 * of fresh random bytes into an image file until `fraction` of its 4 KiB
 * blocks hold new bytes; prints what it did, with the 64 KiB blocks (the
 * sync's hash grid) those writes touched.
 */
const CHANGER = `
import os, sys, random, json
path, fraction, rng = sys.argv[1], float(sys.argv[2]), random.Random(int(sys.argv[3]))
size = os.stat(path).st_size; target = max(1, int(size // 4096 * fraction))
changed = set(); written = writes = 0
fd = os.open(path, os.O_WRONLY)
while len(changed) < target:
    length = rng.randrange(1, 17) * 4096
    off = rng.randrange(0, (size - length) // 4096 + 1) * 4096
    os.pwrite(fd, os.urandom(length), off)
    changed.update(range(off // 4096, (off + length) // 4096)); written += length; writes += 1
os.fsync(fd); os.close(fd)
grid = {b // 16 for b in changed}
print(json.dumps({'writes': writes, 'bytesWritten': written, 'changedBytes': len(changed) * 4096, 'blocksTouched': len(grid), 'blockBytesTouched': len(grid) * 65536}))
`;

/** What an image was filled with. */
export interface Ext4Image {
  sizeBytes: number;
  files: number;
  fileBytes: number;
  /** Bytes the raw file takes on disk (data of the files plus ext4's metadata and journal). */
  allocatedBytes: number;
}

/** One round of block-level changes. */
export interface BlockChange {
  writes: number;
  /** The writes' lengths added up (a 4 KiB block written twice counts twice). */
  bytesWritten: number;
  /** The distinct 4 KiB blocks that hold new bytes, in bytes: `fraction` of the image. */
  changedBytes: number;
  blocksTouched: number;
  /** blocksTouched × 64 KiB: what a sync on the 64 KiB grid reads as changed (zeros in it are not sent). */
  blockBytesTouched: number;
}

/**
 * Makes `path` a sparse raw image of `sizeGiB` GiB with an ext4 filesystem
 * whose files of unique random data fill `fill` of it (loop-mounted under
 * `mountDir` while it is filled; inode tables not initialised in the
 * background, so nothing writes the image after it is unmounted).
 */
export async function makeExt4Image(path: string, sizeGiB: number, fill: number, mountDir: string, signal: AbortSignal): Promise<Ext4Image> {
  const sizeBytes = sizeGiB * 2 ** 30;
  await run('truncate', ['-s', String(sizeBytes), path], { signal });
  await run('mkfs.ext4', ['-q', '-F', '-L', 'benchdata', path], { signal });
  await mkdir(mountDir, { recursive: true });
  await run('mount', ['-o', 'loop,noinit_itable', path, mountDir], { signal });
  let files: number;
  let fileBytes: number;
  try {
    const { stdout } = await run('python3', ['-c', FILLER, mountDir, String(Math.floor(sizeBytes * fill)), '12'], { signal, maxBuffer: 1 << 20 });
    [files, fileBytes] = stdout.trim().split(' ').map(Number) as [number, number];
  } finally {
    await run('umount', [mountDir]);
    await rm(mountDir, { recursive: true, force: true });
  }
  const allocated = Number((await run('du', ['-B1', path], { signal })).stdout.split('\t')[0]);
  return { sizeBytes, files, fileBytes, allocatedBytes: allocated };
}

/** Changes `fraction` of the 4 KiB blocks of the image file `path` with fresh random bytes (see CHANGER); `seed` picks the places. */
export async function changeBlocks(path: string, fraction: number, seed: number, signal: AbortSignal): Promise<BlockChange> {
  const { stdout } = await run('python3', ['-c', CHANGER, path, String(fraction), String(seed)], { signal });
  return JSON.parse(stdout) as BlockChange;
}
