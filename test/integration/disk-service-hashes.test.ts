/**
 * DiskService's HashBlocks over real gRPC on a unix socket, on a real sparse
 * file: batches of block hashes (holes and zero blocks hashed as zeros, a
 * short last block, a part, one big block), and every refused plan with its
 * status code.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { blockHash, ZERO_HASH } from '../../shared/block-hash.js';
import type { HashBlocksResponse__Output } from '../../shared/generated/kvmclone/agent/v1/HashBlocksResponse.js';
import { collect, sparseFile, statusOf } from './disk-harness.js';
import { KiB, MiB, useDiskHarness } from './support/disk-service-fixture.js';

const h = useDiskHarness();

describe('HashBlocks and DigestImage', () => {
  test('batches of block hashes; holes and zero blocks get ZERO_HASH; the last block may be short', async () => {
    const path = join(h.root, 'hash.raw');
    const block = 64 * KiB;
    const a = randomBytes(block);
    const b = randomBytes(block);
    const tail = randomBytes(1000);
    // Blocks: 0 data, 1 hole, 2 written zeros, 3 data, 4..9 hole, 10 short data.
    await sparseFile(path, 10 * block + 1000, [
      { offset: 0, data: a },
      { offset: 2 * block, data: Buffer.alloc(block) },
      { offset: 3 * block, data: b },
      { offset: 10 * block, data: tail },
    ]);
    const batches = await collect<HashBlocksResponse__Output>(h.client.HashBlocks({ path, batchBlocks: 4 }));
    assert.deepEqual(
      batches.map((x) => [x.offset, x.blockCount, x.blockSize, x.fileSize]),
      [
        [0, 4, block, 10 * block + 1000],
        [4 * block, 4, block, 10 * block + 1000],
        [8 * block, 3, block, 10 * block + 1000],
      ],
    );
    const all = Buffer.concat(batches.map((x) => x.hashes));
    const expected = [blockHash(a), ZERO_HASH, ZERO_HASH, blockHash(b), ...Array<Buffer>(6).fill(ZERO_HASH), blockHash(tail)];
    assert.deepEqual(all, Buffer.concat(expected));
    assert.notDeepEqual(blockHash(a), ZERO_HASH);

    const part = await collect<HashBlocksResponse__Output>(h.client.HashBlocks({ path, offset: 2 * block, length: 2 * block }));
    assert.deepEqual(
      part.map((x) => [x.offset, x.blockCount]),
      [[2 * block, 2]],
    );
    assert.deepEqual(part[0]?.hashes, Buffer.concat([ZERO_HASH, blockHash(b)]));

    const big = await collect<HashBlocksResponse__Output>(h.client.HashBlocks({ path, blockSize: 4 * MiB }));
    assert.equal(big[0]?.blockCount, 1);
    assert.deepEqual(big[0]?.hashes, blockHash(await readFile(path)));
  });

  test('refuses bad block_size, batch_blocks, unaligned offset and offsets past the end', async () => {
    const path = join(h.root, 'hash.raw');
    for (const [req, code, field] of [
      [{ blockSize: 3000 }, grpc.status.INVALID_ARGUMENT, 'block_size'],
      [{ blockSize: 8 * MiB }, grpc.status.INVALID_ARGUMENT, 'block_size'],
      [{ batchBlocks: 70_000 }, grpc.status.INVALID_ARGUMENT, 'batch_blocks'],
      [{ offset: 4096 }, grpc.status.INVALID_ARGUMENT, 'offset'],
      [{ offset: 64 * MiB }, grpc.status.OUT_OF_RANGE, 'offset'],
      [{ length: 100 * 64 * KiB }, grpc.status.OUT_OF_RANGE, 'length'],
    ] as const) {
      const s = await statusOf(collect(h.client.HashBlocks({ path, ...req })));
      assert.equal(s.code, code, JSON.stringify(req));
      assert.match(s.details, new RegExp(field));
    }
  });
});
