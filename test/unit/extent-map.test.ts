/** The pure parts of the extent map: merging, read planning, and zero-block runs on the 64 KiB grid. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeExtents, zeroRuns, type Extent } from '../../agent/disk/extent-map.js';
import { planReads } from '../../agent/disk/read-plan.js';

const KiB = 1024;

async function all<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of source) out.push(x);
  return out;
}

async function* from<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

test('mergeExtents joins adjacent runs of one kind and drops empty ones', async () => {
  const got = await all(
    mergeExtents([
      { offset: 0, length: 10, kind: 'data' },
      { offset: 10, length: 5, kind: 'data' },
      { offset: 15, length: 0, kind: 'hole' },
      { offset: 15, length: 5, kind: 'zero' },
      { offset: 20, length: 5, kind: 'hole' },
      { offset: 25, length: 5, kind: 'hole' },
    ]),
  );
  assert.deepEqual(got, [
    { offset: 0, length: 15, kind: 'data' },
    { offset: 15, length: 5, kind: 'zero' },
    { offset: 20, length: 10, kind: 'hole' },
  ]);
});

test('planReads cuts data at multiples of the read size and passes holes through', async () => {
  const extents: Extent[] = [
    { offset: 0, length: 100, kind: 'hole' },
    { offset: 100, length: 250, kind: 'data' },
    { offset: 350, length: 50, kind: 'hole' },
  ];
  const got = await all(planReads(from(extents), 0, 400, 1, 128));
  assert.deepEqual(got, [
    { offset: 0, length: 100, read: false },
    { offset: 100, length: 28, read: true },
    { offset: 128, length: 128, read: true },
    { offset: 256, length: 94, read: true },
    { offset: 350, length: 50, read: false },
  ]);
});

test('planReads widens data to whole blocks for hashing without reading a block twice', async () => {
  const extents: Extent[] = [
    { offset: 0, length: 5000, kind: 'hole' },
    { offset: 5000, length: 100, kind: 'data' },
    { offset: 5100, length: 2000, kind: 'hole' },
    { offset: 7100, length: 100, kind: 'data' },
    { offset: 7200, length: 20000, kind: 'hole' },
  ];
  const got = await all(planReads(from(extents), 0, 27200, 4096, 8192));
  assert.deepEqual(got, [
    { offset: 0, length: 4096, read: false },
    { offset: 4096, length: 4096, read: true },
    { offset: 8192, length: 19008, read: false },
  ]);
});

test('zeroRuns judges blocks of the absolute 64 KiB grid, clipped at the buffer ends', () => {
  const offset = 60 * KiB; // the buffer starts 4 KiB before a grid line
  const data = Buffer.alloc(4 * KiB + 3 * 64 * KiB);
  data[4 * KiB + 64 * KiB + 7] = 1; // inside the second whole block
  const runs = [...zeroRuns(data, offset)];
  assert.deepEqual(runs, [
    { offset: 60 * KiB, length: 4 * KiB + 64 * KiB, zero: true },
    { offset: 128 * KiB, length: 64 * KiB, zero: false },
    { offset: 192 * KiB, length: 64 * KiB, zero: true },
  ]);
  assert.deepEqual([...zeroRuns(Buffer.alloc(0), 0)], []);
});
