/** Read-ahead into pooled buffers: bytes arrive in order and a buffer is reused only after its release. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BufferPool } from '../../agent/disk/buffer-pool.js';
import { readAhead, type PlannedRead } from '../../agent/disk/read-ahead.js';
import { withTempDir } from '../support/temp-dir.js';

const STEP = 4096;

function patterned(steps: number): Buffer {
  const b = Buffer.alloc(steps * STEP);
  for (let i = 0; i < steps; i += 1) b.fill(i + 1, i * STEP, (i + 1) * STEP);
  return b;
}

const plan = (steps: number): PlannedRead[] => Array.from({ length: steps }, (_, i) => ({ offset: i * STEP, length: STEP, read: i % 5 !== 4 }));

/** Reads ahead (3 deep, into a pool of 8 buffers) a file of `steps` steps, step i all bytes i + 1, every fifth step a hole: `consume` takes the reads. */
async function readingAhead(steps: number, consume: (reads: ReturnType<typeof readAhead>) => Promise<void>): Promise<void> {
  await withTempDir('kvmclone-read-ahead-', async (dir) => {
    const path = join(dir, 'image');
    await writeFile(path, patterned(steps));
    const fh = await open(path, 'r');
    try {
      await consume(readAhead(fh, plan(steps), new AbortController().signal, 3, new BufferPool(STEP, 8)));
    } finally {
      await fh.close();
    }
  });
}

test('BufferPool lends the same buffer again only after it was released, and release twice is harmless', () => {
  const pool = new BufferPool(STEP, 2);
  const a = pool.acquire();
  const b = pool.acquire();
  assert.notEqual(a.buffer, b.buffer);
  a.release();
  a.release();
  const c = pool.acquire();
  const d = pool.acquire();
  assert.equal(c.buffer, a.buffer);
  assert.notEqual(d.buffer, a.buffer);
  assert.equal(d.buffer.length, STEP);
});

test('readAhead with a pool yields every step in order with its own bytes, and reuses released buffers', async () => {
  const steps = 40;
  await readingAhead(steps, async (reads) => {
    const seen = new Set<ArrayBufferLike>();
    let i = 0;
    for await (const { item, data, release } of reads) {
      assert.equal(item.offset, i * STEP);
      if (item.read) {
        assert.ok(data);
        assert.ok(
          data.every((x) => x === i + 1),
          `step ${i} holds its own bytes`,
        );
        seen.add(data.buffer);
      } else {
        assert.equal(data, null);
      }
      release();
      i += 1;
    }
    assert.equal(i, steps);
    // depth 3 in flight plus the one being looked at: a handful of buffers for 32 reads
    assert.ok(seen.size <= 5, `${seen.size} distinct buffers for ${steps} steps`);
  });
});

test('readAhead never overwrites bytes the consumer still holds', async () => {
  const steps = 30;
  await readingAhead(steps, async (reads) => {
    const held: { index: number; data: Buffer; release: () => void }[] = [];
    let i = 0;
    for await (const { item, data, release } of reads) {
      if (data !== null) held.push({ index: item.offset / STEP, data, release });
      // Keep the last four unreleased, as a sender with queued messages would.
      while (held.length > 4) held.shift()?.release();
      for (const h of held)
        assert.ok(
          h.data.every((x) => x === h.index + 1),
          `bytes of step ${h.index} intact at step ${i}`,
        );
      i += 1;
    }
  });
});
