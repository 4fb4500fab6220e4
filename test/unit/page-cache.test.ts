/**
 * Drop-behind: a file written through DropBehind does not stay in the page
 * cache, while the same file written without it does (fincore measures what
 * is resident); the kernel refusing advice is ignored, a bad argument is not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { adviseDontNeed, DropBehind } from '../../agent/disk/page-cache.js';
import { fadvise, FADV } from '../../agent/native/fd-calls.js';

const MiB = 1024 * 1024;
const SIZE = 192 * MiB;

/** Bytes of `path` in the page cache now. */
async function resident(path: string): Promise<number> {
  const { stdout } = await promisify(execFile)('fincore', ['--bytes', '--noheadings', '--output', 'RES', path]);
  return Number(stdout.trim());
}

/** Writes SIZE bytes in 1 MiB writes, through DropBehind or not, and makes them durable. */
async function writeFile(path: string, drop: boolean): Promise<void> {
  const fh = await open(path, 'w');
  try {
    const behind = new DropBehind(fh.fd);
    const chunk = Buffer.alloc(MiB, 0x5a);
    for (let at = 0; at < SIZE; at += MiB) {
      await fh.write(chunk, 0, MiB, at);
      if (drop) behind.wrote(MiB);
    }
    await fh.datasync();
    // What the last advice left dirty is clean now: a final advice drops it (as a finished copy's last window would go).
    if (drop) adviseDontNeed(fh.fd, 0, 0);
  } finally {
    await fh.close();
  }
}

test('advice the kernel refuses (a FIFO: ESPIPE) is ignored; a bad argument still throws', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kvmclone-page-cache-'));
  try {
    await promisify(execFile)('mkfifo', [join(dir, 'fifo')]);
    // O_RDWR: a FIFO opened for both ends does not wait for a peer (Linux).
    const fh = await open(join(dir, 'fifo'), constants.O_RDWR | constants.O_NONBLOCK);
    try {
      assert.throws(() => fadvise(fh.fd, 0, 0, FADV.DONTNEED), { code: 'ESPIPE', syscall: 'posix_fadvise' });
      assert.doesNotThrow(() => adviseDontNeed(fh.fd, 0, 0));
      assert.throws(() => adviseDontNeed(fh.fd, -1, 0), RangeError);
    } finally {
      await fh.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a file written through DropBehind leaves the page cache; without it, it stays', async () => {
  // /var/tmp: on disk on Debian (a tmpfs keeps every page, advised or not).
  const dir = await mkdtemp(join('/var/tmp', 'kvmclone-page-cache-'));
  try {
    const dropped = join(dir, 'dropped');
    const kept = join(dir, 'kept');
    await writeFile(dropped, true);
    await writeFile(kept, false);
    assert.ok((await resident(kept)) > SIZE / 2, 'without advice the written file is cached (else this test could not fail)');
    assert.ok((await resident(dropped)) < 16 * MiB, `${await resident(dropped)} bytes still cached`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
