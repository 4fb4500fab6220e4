/** StreamDigester gives the digest DigestImage would, whatever the piece boundaries, and refuses streams that do not cover the file in order. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_BLOCK_SIZE, gridPieceHashes } from '../../shared/block-hash.js';
import { digestFile } from '../../agent/disk/block-hasher.js';
import { StreamDigester } from '../../agent/disk/stream-digest.js';

const B = DEFAULT_BLOCK_SIZE;

async function fileDigest(bytes: Buffer): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kvmclone-stream-digest-'));
  try {
    const path = join(dir, 'img');
    await writeFile(path, bytes);
    const fh = await open(path, 'r');
    try {
      return await digestFile(fh, bytes.length, new AbortController().signal);
    } finally {
      await fh.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A file of `size` bytes: random data with zero stretches at odd offsets. */
function image(size: number, seed: number): Buffer {
  const b = randomBytes(size);
  let s = seed;
  for (let i = 0; i < 6; i += 1) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const at = s % size;
    b.fill(0, at, Math.min(size, at + (s % (3 * B))));
  }
  return b;
}

/**
 * Cuts `bytes` into pieces at pseudo-random points; runs of zeros become zero
 * pieces. With `withPieceHashes`, data comes with its grid piece hashes, as
 * ReadRanges sends it when asked for block hashes.
 */
function feed(d: StreamDigester, bytes: Buffer, seed: number, withPieceHashes = false): void {
  let s = seed;
  for (let at = 0; at < bytes.length;) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const n = Math.min(bytes.length - at, 1 + (s % (2 * B + 333)));
    const piece = bytes.subarray(at, at + n);
    if (piece.every((x) => x === 0) && s % 3 !== 0) d.zero(at, n);
    else d.data(at, piece, withPieceHashes ? gridPieceHashes(at, piece) : undefined);
    at += n;
  }
}

for (const size of [1, B - 1, B, 3 * B + 17, 10 * B]) {
  test(`a ${size}-byte file cut anywhere digests as DigestImage does`, async () => {
    for (const seed of [1, 2, 3]) {
      const bytes = image(size, seed);
      const d = new StreamDigester(size, true);
      feed(d, bytes, seed);
      const got = d.finish();
      assert.ok(got);
      assert.equal(got.digest, await fileDigest(bytes));
      assert.equal(got.hashes?.length, Math.ceil(size / B) * 16);
      const hashed = new StreamDigester(size, true);
      feed(hashed, bytes, seed, true);
      assert.deepEqual(hashed.finish(), got, "the same with the sender's piece hashes standing in for whole blocks");
    }
  });
}

test('zero blocks sent as data with piece hashes still digest as zero blocks (a short last one too)', async () => {
  for (const size of [3 * B, 2 * B + 100]) {
    const bytes = Buffer.alloc(size);
    bytes.fill(7, B, 2 * B);
    const d = new StreamDigester(size);
    d.data(0, bytes, gridPieceHashes(0, bytes));
    assert.equal(d.finish()?.digest, await fileDigest(bytes));
  }
});

test('an all-zero file sent as one zero range digests like the file', async () => {
  const d = new StreamDigester(5 * B + 9);
  d.zero(0, 5 * B + 9);
  assert.equal(d.finish()?.digest, await fileDigest(Buffer.alloc(5 * B + 9)));
});

test('gaps, overlaps, disorder and short streams give no digest', () => {
  const gap = new StreamDigester(3 * B);
  gap.data(0, randomBytes(B));
  gap.zero(2 * B, B);
  assert.equal(gap.finish(), undefined);

  const overlap = new StreamDigester(2 * B);
  overlap.data(0, randomBytes(B + 1));
  overlap.zero(B, B);
  assert.equal(overlap.finish(), undefined);

  const short = new StreamDigester(2 * B);
  short.data(0, randomBytes(B));
  assert.equal(short.finish(), undefined);

  const past = new StreamDigester(B);
  past.zero(0, B + 1);
  assert.equal(past.finish(), undefined);
});
