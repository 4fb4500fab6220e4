import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { blockHash, chunkHash, DEFAULT_BLOCK_SIZE, gridPieceCount, gridPieceHashes, ImageDigest, isAllZero, ZERO_HASH, HASH_BYTES } from '../../shared/block-hash.js';

test('zero detection covers buffers larger than the shared zero buffer', () => {
  const big = Buffer.alloc(9 * 1024 * 1024);
  assert.equal(isAllZero(big), true);
  big[big.length - 1] = 1;
  assert.equal(isAllZero(big), false);
  assert.equal(isAllZero(Buffer.alloc(0)), true);
});

test('block hashes: 16 bytes, zero blocks get the zero hash, one changed byte changes the hash', () => {
  const block = randomBytes(65536);
  const h = blockHash(block);
  assert.equal(h.length, HASH_BYTES);
  assert.notDeepEqual(h, ZERO_HASH);
  assert.deepEqual(blockHash(Buffer.alloc(65536)), ZERO_HASH);
  const changed = Buffer.from(block);
  changed[12345] = (changed[12345] ?? 0) ^ 1;
  assert.notDeepEqual(blockHash(changed), h);
  assert.deepEqual(chunkHash(block), h);
});

test('image digest depends on size and on every block hash, in order', () => {
  const a = chunkHash(Buffer.from('a'));
  const b = chunkHash(Buffer.from('b'));
  const digest = (size: number, ...hashes: Buffer[]): string => {
    const d = new ImageDigest(size);
    for (const h of hashes) d.update(h);
    return d.digest();
  };
  assert.match(digest(10, a, b), /^blake3:[0-9a-f]{64}$/);
  assert.equal(digest(10, a, b), digest(10, a, b));
  assert.notEqual(digest(10, a, b), digest(10, b, a));
  assert.notEqual(digest(10, a, b), digest(11, a, b));
});

test('grid piece hashes: data cut on the absolute 64 KiB grid, one chunk hash per piece', () => {
  const B = DEFAULT_BLOCK_SIZE;
  assert.equal(gridPieceCount(0, 0), 0);
  assert.equal(gridPieceCount(0, B), 1);
  assert.equal(gridPieceCount(B - 1, 2), 2);
  assert.equal(gridPieceCount(4096, 3 * B), 4);
  const data = randomBytes(2 * B + 100);
  const offset = 5 * B + 4096;
  const got = gridPieceHashes(offset, data);
  const cuts = [0, B - 4096, 2 * B - 4096, data.length];
  assert.equal(got.length, 3 * 16);
  for (let i = 0; i < 3; i += 1) assert.deepEqual(got.subarray(i * 16, (i + 1) * 16), chunkHash(data.subarray(cuts[i], cuts[i + 1])));
  // A whole non-zero block's piece hash is its block hash.
  const aligned = randomBytes(B);
  assert.deepEqual(gridPieceHashes(7 * B, aligned), blockHash(aligned));
});
