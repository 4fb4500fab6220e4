/**
 * DiskService's WriteRanges into a staging file over real gRPC on a unix
 * socket: a resumed staging file keeps its data and takes zero ranges as
 * holes, and a zero range over bytes the same stream wrote zeroes them again.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chunkHash } from '../../shared/block-hash.js';
import { allocated, call, statusOf, writeAll } from './disk-harness.js';
import { KiB, MiB, useDiskHarness } from './support/disk-service-fixture.js';

const h = useDiskHarness();

describe('ReadRanges → WriteRanges → CommitStaging', () => {
  test('resume: a reopened staging file keeps its data, and zero ranges are punched into it', async () => {
    const target = join(h.root, 'resumed.raw');
    const a = randomBytes(1 * MiB);
    const b = randomBytes(1 * MiB);
    const first = await writeAll(h.client, [{ open: { targetPath: target, size: 4 * MiB } }, { data: { offset: 0, data: a, hash: chunkHash(a) } }]);
    const wrongSize = await statusOf(writeAll(h.client, [{ open: { targetPath: target, size: 5 * MiB, stagingId: first.stagingId } }]));
    assert.equal(wrongSize.code, grpc.status.FAILED_PRECONDITION);
    const second = await writeAll(h.client, [
      { open: { targetPath: target, size: 4 * MiB, stagingId: first.stagingId } },
      { data: { offset: 2 * MiB, data: b, hash: chunkHash(b) } },
      { zero: { offset: 0, length: 512 * KiB } },
    ]);
    assert.equal(second.stagingId, first.stagingId);
    assert.equal(second.zeroBytes, 512 * KiB);
    // A failure of a resumed write keeps the file (and its earlier progress).
    const bad = await statusOf(writeAll(h.client, [{ open: { targetPath: target, size: 4 * MiB, stagingId: first.stagingId } }, { zero: { offset: 4 * MiB, length: 1 } }]));
    assert.equal(bad.code, grpc.status.OUT_OF_RANGE);
    assert.equal(await allocated(second.stagingPath), 1.5 * MiB);
    await call((cb) => h.client.CommitStaging({ targetPath: target, stagingId: first.stagingId }, cb));
    const expected = Buffer.alloc(4 * MiB);
    a.copy(expected, 0);
    expected.fill(0, 0, 512 * KiB);
    b.copy(expected, 2 * MiB);
    assert.ok((await readFile(target)).equals(expected));
  });

  test('a zero range over bytes this stream wrote makes them zero again', async () => {
    const target = join(h.root, 'rezeroed.raw');
    const a = randomBytes(128 * KiB);
    const res = await writeAll(h.client, [
      { open: { targetPath: target, size: 1 * MiB } },
      { data: { offset: 0, data: a, hash: chunkHash(a) } },
      { zero: { offset: 0, length: 64 * KiB } },
      { zero: { offset: 512 * KiB, length: 64 * KiB } },
    ]);
    await call((cb) => h.client.CommitStaging({ targetPath: target, stagingId: res.stagingId }, cb));
    const got = await readFile(target);
    assert.ok(got.subarray(0, 64 * KiB).equals(Buffer.alloc(64 * KiB)));
    assert.ok(got.subarray(64 * KiB, 128 * KiB).equals(a.subarray(64 * KiB)));
    assert.equal(await allocated(target), 64 * KiB);
  });
});
