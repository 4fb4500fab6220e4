/** HashMemory keeps hashes only of provably unchanged files; digestAfterApply equals a full re-digest. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_BLOCK_SIZE, HASH_BYTES } from '../../shared/block-hash.js';
import { digestFile, hashBlocks } from '../../agent/disk/block-hasher.js';
import { FINE_RACY_MARGIN_NS, HashMemory, identityOf, pastFineRacyMargin, RACY_MARGIN_NS, racyMarginOf, type FileIdentity } from '../../agent/disk/hash-memory.js';
import { rememberedDigest, rememberedHashBlocks } from '../../agent/disk/remembered-hashes.js';
import { blockSpans, digestAfterApply, hashesAfterApply } from '../../agent/transfer/applied-digest.js';
import { withTempDir } from '../support/temp-dir.js';

const B = DEFAULT_BLOCK_SIZE;
const never = new AbortController().signal;
const id = (ctimeNs: bigint, size = 10n): FileIdentity => ({ dev: 1n, ino: 2n, size, mtimeNs: ctimeNs, ctimeNs });

const withDir = (body: (dir: string) => Promise<void>): Promise<void> => withTempDir('kvmclone-hash-memory-', body);

async function allHashes(path: string): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const parts: Buffer[] = [];
    for await (const b of hashBlocks(fh, (await fh.stat()).size, { blockSize: B, offset: 0, length: 0, batchBlocks: 1000 }, never)) parts.push(b.hashes);
    return Buffer.concat(parts);
  } finally {
    await fh.close();
  }
}

async function fullDigest(path: string): Promise<string> {
  const fh = await open(path, 'r');
  try {
    return await digestFile(fh, (await fh.stat()).size, never);
  } finally {
    await fh.close();
  }
}

test('HashMemory recalls only for the identical identity, and refuses files changed during or just before hashing', () => {
  const m = new HashMemory(1024);
  const old = id(1_000n);
  const hashes = Buffer.alloc(32, 1);
  assert.equal(m.remember('/a', old, old, old.ctimeNs + RACY_MARGIN_NS, B, hashes), true);
  assert.equal(m.recall('/a', old, B), hashes);
  assert.equal(m.recall('/a', { ...old, mtimeNs: 5n }, B), undefined, 'a changed mtime misses');
  assert.equal(m.recall('/a', old, B), undefined, 'and the stale entry is gone');
  assert.equal(m.remember('/a', old, id(2_000n), old.ctimeNs + RACY_MARGIN_NS, B, hashes), false, 'changed while hashing');
  assert.equal(m.remember('/a', old, old, old.ctimeNs + FINE_RACY_MARGIN_NS - 1n, B, hashes), false, 'changed too shortly before hashing (racy)');
  assert.equal(m.size, 0);
});

test('the racy margin is 50 ms where ctime has a sub-second part, a second where it falls on a whole second', () => {
  const fine = id(1_796_444_400_461_595_061n);
  const whole = id(1_796_444_400_000_000_000n);
  assert.equal(racyMarginOf(fine), 50_000_000n);
  assert.equal(racyMarginOf(whole), RACY_MARGIN_NS);
  const m = new HashMemory(1024);
  const hashes = Buffer.alloc(32, 1);
  assert.equal(m.remember('/fine', fine, fine, fine.ctimeNs + FINE_RACY_MARGIN_NS, B, hashes), true);
  assert.equal(m.remember('/whole', whole, whole, whole.ctimeNs + FINE_RACY_MARGIN_NS, B, hashes), false, 'whole seconds: 50 ms is too soon');
  assert.equal(m.remember('/whole', whole, whole, whole.ctimeNs + RACY_MARGIN_NS, B, hashes), true);
});

test('pastFineRacyMargin waits out the 50 ms after a sub-second change, and does not wait for a whole-second one', async () => {
  const now = BigInt(Date.now()) * 1_000_000n;
  const fine = id(now + 1n); // just changed, with a sub-second part
  const t0 = Date.now();
  assert.equal(await pastFineRacyMargin(fine, never), true);
  assert.ok(BigInt(Date.now()) * 1_000_000n >= fine.ctimeNs + FINE_RACY_MARGIN_NS, 'past the margin when it resolves');
  assert.ok(Date.now() - t0 < 1000, 'and not much later');
  const t1 = Date.now();
  assert.equal(await pastFineRacyMargin(id((now / 1_000_000_000n) * 1_000_000_000n), never), false);
  assert.ok(Date.now() - t1 < 500, 'a whole-second ctime is not waited for');
  const t2 = Date.now();
  assert.equal(await pastFineRacyMargin(id(now + 3_600_000_000_001n), never), false, 'a ctime an hour ahead of the clock');
  assert.ok(Date.now() - t2 < 500, 'is not waited for');
});

test('HashMemory stays within its cap, dropping the least recently used', () => {
  const m = new HashMemory(64);
  const f = id(0n);
  const at = RACY_MARGIN_NS;
  m.remember('/a', f, f, at, B, Buffer.alloc(32));
  m.remember('/b', f, f, at, B, Buffer.alloc(32));
  assert.ok(m.recall('/a', f, B));
  m.remember('/c', f, f, at, B, Buffer.alloc(32));
  assert.equal(m.size, 64);
  assert.equal(m.recall('/b', f, B), undefined, 'least recently used went');
  assert.ok(m.recall('/a', f, B));
  assert.equal(m.remember('/d', f, f, at, B, Buffer.alloc(65)), false, 'bigger than the cap');
});

test('rememberedDigest reads an old file once, then answers from memory until the file changes', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'img');
    await writeFile(path, randomBytes(3 * B + 100));
    const past = new Date(Date.now() - 10_000);
    await utimes(path, past, past); // mtime only; ctime is now, so remembering waits for the racy margin
    const m = new HashMemory();
    const fh = await open(path, 'r');
    try {
      const st = await fh.stat({ bigint: true });
      const first = await rememberedDigest(fh, path, Number(st.size), m, never);
      const endedNs = BigInt(Date.now()) * 1_000_000n;
      assert.equal(first, await fullDigest(path));
      // just changed: not remembered (judged only when this machine got here within the margin)
      if (endedNs < st.ctimeNs + racyMarginOf(identityOf(st))) assert.equal(m.size, 0, 'a file changed within the racy margin is not remembered');
    } finally {
      await fh.close();
    }
    // Pretend the hashing began well after the last change: remember, then recall.
    const st = await stat(path, { bigint: true });
    const now = identityOf(st);
    assert.equal(m.remember(path, now, now, st.ctimeNs + RACY_MARGIN_NS, B, await allHashes(path)), true);
    const fh2 = await open(path, 'r');
    try {
      assert.equal(await rememberedDigest(fh2, path, Number(st.size), m, never), await fullDigest(path));
      await truncate(path, 2 * B);
      assert.equal(m.recall(path, identityOf(await fh2.stat({ bigint: true })), B), undefined, 'a truncated file is not recalled');
    } finally {
      await fh2.close();
    }
  });
});

test('a whole-file HashBlocks pass is remembered as one list, and batches recalled from it are copies', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'img');
    await writeFile(path, randomBytes(9 * B + 100));
    const st = await stat(path, { bigint: true });
    await sleep(Number(racyMarginOf(identityOf(st)) / 1_000_000n) + 20); // past the racy margin: the pass is remembered
    const m = new HashMemory();
    const plan = { blockSize: B, offset: 0, length: 0, batchBlocks: 4 };
    const expected = await allHashes(path);
    const fh = await open(path, 'r');
    try {
      const collect = async (): Promise<Buffer[]> => {
        const batches: Buffer[] = [];
        for await (const batch of rememberedHashBlocks(fh, path, Number(st.size), plan, m, never)) batches.push(batch.hashes);
        return batches;
      };
      assert.deepEqual(Buffer.concat(await collect()), expected);
      assert.equal(m.size, expected.length, 'the list is held once, at its own size');
      const recalled = await collect();
      // An apply rewrites the remembered list in place (hashesAfterApply): batches already cut must not change with it.
      const held = m.recall(path, identityOf(await fh.stat({ bigint: true })), B);
      assert.ok(held !== undefined, 'the list is still remembered');
      held.fill(0xff);
      assert.deepEqual(Buffer.concat(recalled), expected);
    } finally {
      await fh.close();
    }
  });
});

test('hashesAfterApply rewrites the list it is given when the block count stays, so it is never held twice', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'img');
    await writeFile(path, randomBytes(6 * B + 10));
    const before = await allHashes(path);
    const fh = await open(path, 'r+');
    try {
      await fh.write(randomBytes(B), 0, B, 2 * B);
      await fh.truncate(6 * B + 900); // grown within its last block: the same count
      const change = { oldSize: 6 * B + 10, newSize: 6 * B + 900, changed: [{ offset: 2 * B, length: B }] };
      const after = await hashesAfterApply(fh, before, change, never);
      assert.equal(after, before, 'the same buffer, rewritten');
      assert.deepEqual(after, await allHashes(path));
    } finally {
      await fh.close();
    }
  });
});

test('blockSpans widens to blocks, clips to the file, merges neighbours', () => {
  assert.deepEqual(
    blockSpans(
      [
        { offset: 5 * B + 1, length: 10 },
        { offset: B, length: B },
        { offset: 2 * B - 1, length: 2 },
        { offset: 9 * B, length: 5 * B },
      ],
      10 * B - 7,
      B,
    ),
    [
      { offset: B, length: 2 * B },
      { offset: 5 * B, length: B },
      { offset: 9 * B, length: B - 7 },
    ],
  );
});

for (const [name, oldSize, newSize] of [
  ['same size', 8 * B + 300, 8 * B + 300],
  ['grown', 8 * B + 300, 11 * B + 5],
  ['shrunk', 8 * B + 300, 5 * B + 17],
] as const) {
  test(`digestAfterApply equals a full digest after changes in place (${name})`, async () => {
    await withDir(async (dir) => {
      const path = join(dir, 'img');
      await writeFile(path, randomBytes(oldSize));
      const before = await allHashes(path);
      assert.equal(before.length, Math.ceil(oldSize / B) * HASH_BYTES);
      const changed = [
        { offset: B + 10, length: 100 },
        { offset: 3 * B, length: 2 * B },
      ];
      const fh = await open(path, 'r+');
      try {
        await fh.truncate(newSize);
        for (const c of changed) await fh.write(randomBytes(c.length), 0, c.length, c.offset);
        await fh.write(Buffer.alloc(B), 0, B, 0); // a block that became zeros
        const digest = await digestAfterApply(fh, before, oldSize, newSize, [...changed, { offset: 0, length: B }], never);
        assert.equal(digest, await fullDigest(path));
      } finally {
        await fh.close();
      }
    });
  });
}
