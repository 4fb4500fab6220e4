/** Ordered writes: several in flight, yet the file ends as if each had been written in turn; failures surface. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OrderedWrites } from '../../agent/disk/ordered-writes.js';

async function withFile(size: number, fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kvmclone-ordered-writes-'));
  try {
    const path = join(dir, 'image');
    await writeFile(path, Buffer.alloc(size));
    await fn(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('overlapping and disjoint writes end as if applied one after another', async () => {
  const size = 1 << 20;
  await withFile(size, async (path) => {
    const model = Buffer.alloc(size);
    const fh = await open(path, 'r+');
    try {
      const writes = new OrderedWrites(fh, 8);
      let seed = 1;
      const next = (n: number): number => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed % n;
      };
      for (let i = 0; i < 400; i += 1) {
        // Up to 64 KiB at random offsets of a 1 MiB file: many land on writes still in flight.
        const length = 1 + next(64 * 1024);
        const position = next(size - length);
        const data = randomBytes(length);
        data.copy(model, position);
        await writes.write(data, position);
      }
      await writes.drain();
    } finally {
      await fh.close();
    }
    assert.ok((await readFile(path)).equals(model));
  });
});

test('a failed write is thrown by drain, after the others have settled', async () => {
  await withFile(4096, async (path) => {
    const fh = await open(path, 'r');
    try {
      const writes = new OrderedWrites(fh, 8);
      await writes.write(Buffer.alloc(10, 1), 0);
      await assert.rejects(writes.drain(), (err: unknown) => (err as NodeJS.ErrnoException).code === 'EBADF');
      await writes.drain();
    } finally {
      await fh.close();
    }
    assert.ok((await readFile(path)).equals(Buffer.alloc(4096)));
  });
});
