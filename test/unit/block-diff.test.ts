import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blockHash } from '../../shared/block-hash.js';
import { diffBlocks, type DiffProgress, type HashBatch } from '../../controller/operations/sync/block-diff.js';

const B = 65536;

function batches(blocks: Buffer[], fileSize: number, perBatch = 3): HashBatch[] {
  const out: HashBatch[] = [];
  for (let i = 0; i < blocks.length; i += perBatch) {
    const part = blocks.slice(i, i + perBatch);
    out.push({ offset: i * B, blockSize: B, blockCount: part.length, hashes: Buffer.concat(part.map(blockHash)), fileSize });
  }
  if (out.length === 0) out.push({ offset: 0, blockSize: B, blockCount: 0, hashes: Buffer.alloc(0), fileSize });
  return out;
}

async function* stream(items: HashBatch[]): AsyncGenerator<HashBatch> {
  for (const i of items) yield i;
}

const block = (v: number): Buffer => Buffer.alloc(B, v);

test('identical images: nothing to fetch', async () => {
  const blocks = [block(1), block(2), block(0), block(3)];
  const d = await diffBlocks(stream(batches(blocks, 4 * B)), stream(batches(blocks, 4 * B, 2)), B);
  assert.deepEqual(d.ranges, []);
  assert.equal(d.blocks, 4);
  assert.equal(d.changedBlocks, 0);
});

test('changed blocks become ranges, neighbours joined; a block zeroed at the source is fetched (as a zero range)', async () => {
  const src = [block(1), block(9), block(9), block(4), block(0), block(6)];
  const dst = [block(1), block(2), block(3), block(4), block(5), block(6)];
  const d = await diffBlocks(stream(batches(src, 6 * B)), stream(batches(dst, 6 * B)), B);
  assert.deepEqual(d.ranges, [
    { offset: B, length: 2 * B },
    { offset: 4 * B, length: B },
  ]);
  assert.equal(d.changedBlocks, 3);
});

test('a grown source: the new blocks are fetched; a shrunk source fetches nothing past its end', async () => {
  const small = [block(1), block(2)];
  const big = [block(1), block(2), block(7), block(0)];
  const grown = await diffBlocks(stream(batches(big, 4 * B)), stream(batches(small, 2 * B)), B);
  assert.deepEqual(grown.ranges, [{ offset: 2 * B, length: B }], 'the grown zero block stays a hole: nothing to fetch');
  assert.equal(grown.destSize, 2 * B);
  assert.equal(grown.sourceSize, 4 * B);
  const shrunk = await diffBlocks(stream(batches(small, 2 * B)), stream(batches(big, 4 * B)), B);
  assert.deepEqual(shrunk.ranges, []);
  assert.equal(shrunk.destSize, 4 * B);
});

test('a short last block is compared as it is and its range clipped to the file', async () => {
  const srcTail = Buffer.alloc(1000, 5);
  const dstTail = Buffer.alloc(1000, 6);
  const d = await diffBlocks(stream(batches([block(1), srcTail], B + 1000)), stream(batches([block(1), dstTail], B + 1000)), B);
  assert.deepEqual(d.ranges, [{ offset: B, length: 1000 }]);
});

test('a comparison cut short continues from the first block not compared, keeping what it found', async () => {
  const src = [block(1), block(9), block(3), block(4), block(8), block(6), block(7)];
  const dst = [block(1), block(2), block(3), block(4), block(5), block(6), block(7)];
  const whole = await diffBlocks(stream(batches(src, 7 * B)), stream(batches(dst, 7 * B)), B);
  // The destination's stream breaks after its first batch (blocks 0-2), as a dropped connection would.
  async function* broken(items: HashBatch[]): AsyncGenerator<HashBatch> {
    yield items[0];
    throw new Error('Connection dropped');
  }
  const progress: DiffProgress = { ranges: [], changed: 0, next: 0 };
  await assert.rejects(diffBlocks(stream(batches(src, 7 * B)), broken(batches(dst, 7 * B)), B, progress), /Connection dropped/);
  assert.equal(progress.next, 3);
  assert.deepEqual(progress.ranges, [{ offset: B, length: B }]);
  // Asked again from block 3 only (the streams start there), the result is the whole comparison's.
  const from = (items: Buffer[]): HashBatch[] => batches(items.slice(3), 7 * B).map((b) => ({ ...b, offset: b.offset + 3 * B }));
  const resumed = await diffBlocks(stream(from(src)), stream(from(dst)), B, progress);
  assert.deepEqual(resumed, whole);
});
