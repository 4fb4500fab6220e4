/**
 * After a sync applies its changes in place, the destination agent keeps
 * the image's new block hashes (digestRemembering), so the next sync's
 * HashBlocks of it reads nothing: the hashes kept are exactly the image's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_BLOCK_SIZE } from '../../shared/block-hash.js';
import { digestFile, hashBlocks } from '../../agent/disk/block-hasher.js';
import { HashMemory, identityOf, racyMarginOf, RACY_MARGIN_NS } from '../../agent/disk/hash-memory.js';
import { digestRemembering } from '../../agent/transfer/applied-digest.js';
import { withTempDir } from '../support/temp-dir.js';

const B = DEFAULT_BLOCK_SIZE;
const never = new AbortController().signal;

/** Every block hash and the digest of the file at `path` as it is now, read afresh. */
async function readAfresh(path: string): Promise<{ hashes: Buffer; digest: string }> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const parts: Buffer[] = [];
    for await (const b of hashBlocks(fh, size, { blockSize: B, offset: 0, length: 0, batchBlocks: 1000 }, never)) parts.push(b.hashes);
    return { hashes: Buffer.concat(parts), digest: await digestFile(fh, size, never) };
  } finally {
    await fh.close();
  }
}

for (const known of [true, false]) {
  test(`after an apply ${known ? 'with the hashes from before it' : 'with nothing known'}, the digest is the image's and its hashes are remembered for its new state`, async () => {
    await withTempDir('kvmclone-applied-', async (dir) => {
      const path = join(dir, 'img');
      await writeFile(path, randomBytes(12 * B + 100));
      const before = await readAfresh(path);
      // the apply: blocks 2 and 7 rewritten, the file grown by a block and a half
      const fh = await open(path, 'r+');
      try {
        await fh.write(randomBytes(B), 0, B, 2 * B);
        await fh.write(randomBytes(B + 10), 0, B + 10, 7 * B + 5);
        await fh.write(randomBytes(B), 0, B, 12 * B + 100 + B / 2);
        const newSize = 13 * B + 100 + B / 2;
        const memory = new HashMemory();
        const change = {
          oldSize: 12 * B + 100,
          newSize,
          changed: [
            { offset: 2 * B, length: B },
            { offset: 7 * B + 5, length: B + 10 },
          ],
        };
        const digest = await digestRemembering(fh, path, memory, known ? before.hashes : undefined, change, never);
        const now = await readAfresh(path);
        assert.equal(digest, now.digest);
        const identity = identityOf(await fh.stat({ bigint: true }));
        const recalled = memory.recall(path, identity, B);
        if (racyMarginOf(identity) === RACY_MARGIN_NS) assert.equal(recalled, undefined, 'a filesystem with whole-second timestamps: nothing is remembered');
        else assert.deepEqual(recalled, now.hashes, 'the hashes remembered are those of the image as it now is');
      } finally {
        await fh.close();
      }
    });
  });
}
