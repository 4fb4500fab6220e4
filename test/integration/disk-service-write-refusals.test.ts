/**
 * DiskService's WriteRanges refusals over real gRPC on a unix socket: block
 * hashes that do not match or do not fit, and every protocol error, each with
 * its status code, none leaving a staging file behind.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { chunkHash, gridPieceHashes } from '../../shared/block-hash.js';
import type { DataChunk } from '../../shared/generated/kvmclone/agent/v1/DataChunk.js';
import type { WriteRangesRequest } from '../../shared/generated/kvmclone/agent/v1/WriteRangesRequest.js';
import { stagingFiles, statusOf, writeAll } from './disk-harness.js';
import { KiB, MiB, useDiskHarness } from './support/disk-service-fixture.js';

const h = useDiskHarness();

describe('ReadRanges → WriteRanges → CommitStaging', () => {
  test('WriteRanges refuses block hashes that do not match (DATA_LOSS), are the wrong length, or come with a chunk hash (INVALID_ARGUMENT)', async () => {
    const target = join(h.root, 'bad-pieces.raw');
    const data = randomBytes(100 * KiB);
    const offset = 32 * KiB;
    const pieces = gridPieceHashes(offset, data);
    assert.equal(pieces.length, 3 * 16, 'bytes 32 KiB to 132 KiB lie in three 64 KiB blocks');
    const damaged = Buffer.from(data);
    damaged[70 * KiB] ^= 1;
    const cases: [DataChunk, grpc.status, RegExp][] = [
      [{ offset, data: damaged, blockHashes: pieces }, grpc.status.DATA_LOSS, /does not match its block hashes/],
      [{ offset, data, blockHashes: pieces.subarray(16) }, grpc.status.INVALID_ARGUMENT, /covers 3 block piece\(s\) but carries 32 bytes/],
      [{ offset, data, blockHashes: pieces, hash: chunkHash(data) }, grpc.status.INVALID_ARGUMENT, /both hash and block_hashes/],
    ];
    for (const [chunk, code, message] of cases) {
      const s = await statusOf(writeAll(h.client, [{ open: { targetPath: target, size: MiB } }, { data: chunk }]));
      assert.equal(s.code, code, s.details);
      assert.match(s.details, message);
    }
    assert.deepEqual(await stagingFiles(h.root), []);
  });
});

describe('refusals', () => {
  test('WriteRanges protocol errors, each with its code, leave no staging file behind', async () => {
    const target = join(h.root, 'refused.raw');
    const good = randomBytes(64 * KiB);
    const cases: [string, WriteRangesRequest[], grpc.status, RegExp][] = [
      ['data before open', [{ data: { offset: 0, data: good, hash: chunkHash(good) } }], grpc.status.INVALID_ARGUMENT, /first message.*open/],
      ['no messages at all', [], grpc.status.INVALID_ARGUMENT, /open/],
      ['second open', [{ open: { targetPath: target, size: MiB } }, { open: { targetPath: target, size: MiB } }], grpc.status.INVALID_ARGUMENT, /second/],
      ['size 0', [{ open: { targetPath: target, size: 0 } }], grpc.status.INVALID_ARGUMENT, /open\.size/],
      ['absurd size', [{ open: { targetPath: target, size: 65 * 1024 ** 4 } }], grpc.status.INVALID_ARGUMENT, /64 TiB/],
      ['bad staging id', [{ open: { targetPath: target, size: MiB, stagingId: '../../etc' } }], grpc.status.INVALID_ARGUMENT, /staging_id/],
      ['unknown staging id', [{ open: { targetPath: target, size: MiB, stagingId: '0f0f0f0f-aaaa-bbbb-cccc-000000000000' } }], grpc.status.NOT_FOUND, /staging_id/],
      [
        'hash mismatch',
        [{ open: { targetPath: target, size: MiB } }, { data: { offset: 64 * KiB, data: good, hash: chunkHash(randomBytes(8)) } }],
        grpc.status.DATA_LOSS,
        /offset 65536/,
      ],
      ['short hash', [{ open: { targetPath: target, size: MiB } }, { data: { offset: 0, data: good, hash: Buffer.alloc(3) } }], grpc.status.INVALID_ARGUMENT, /hash/],
      [
        'empty data',
        [{ open: { targetPath: target, size: MiB } }, { data: { offset: 0, data: Buffer.alloc(0), hash: chunkHash(Buffer.alloc(0)) } }],
        grpc.status.INVALID_ARGUMENT,
        /empty/,
      ],
      [
        'data past the size',
        [{ open: { targetPath: target, size: MiB } }, { data: { offset: MiB - 4096, data: good, hash: chunkHash(good) } }],
        grpc.status.OUT_OF_RANGE,
        /past the declared/,
      ],
      ['zero past the size', [{ open: { targetPath: target, size: MiB } }, { zero: { offset: MiB, length: 4096 } }], grpc.status.OUT_OF_RANGE, /past the end/],
      [
        'offset beyond 2^53',
        [{ open: { targetPath: target, size: MiB } }, { data: { offset: '18446744073709551615', data: good, hash: chunkHash(good) } }],
        grpc.status.INVALID_ARGUMENT,
        /data\.offset/,
      ],
    ];
    for (const [name, messages, code, details] of cases) {
      const s = await statusOf(writeAll(h.client, messages));
      assert.equal(s.code, code, `${name}: ${s.details}`);
      assert.match(s.details, details, name);
      assert.deepEqual(await stagingFiles(h.root), [], `${name} left a staging file`);
    }
    await assert.rejects(stat(target));
  });
});
