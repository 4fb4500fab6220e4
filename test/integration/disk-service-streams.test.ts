/**
 * DiskService's streams cut short over real gRPC on a unix socket: ReadRanges
 * refusals (and overlapping ranges merged), batches of scattered blocks, an oversized WriteRanges message,
 * a cancelled WriteRanges that removes its staging file, and a ReadRanges
 * cancelled mid-stream that stops on the server and closes the image.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { chunkHash } from '../../shared/block-hash.js';
import type { ReadRangesRequest } from '../../shared/generated/kvmclone/agent/v1/ReadRangesRequest.js';
import type { ReadRangesResponse__Output } from '../../shared/generated/kvmclone/agent/v1/ReadRangesResponse.js';
import { allocated, collect, eventually, fdsOpenOn, sparseFile, stagingFiles, statusOf, writeAll } from './disk-harness.js';
import { KiB, MiB, useDiskHarness } from './support/disk-service-fixture.js';

const h = useDiskHarness();

describe('refusals', () => {
  test('ReadRanges refuses a bad chunk_size and ranges past the end', async () => {
    const path = join(h.root, 'small.raw');
    await sparseFile(path, MiB, [{ offset: 0, data: randomBytes(4096) }]);
    const cases: [ReadRangesRequest, grpc.status, string][] = [
      [{ chunkSize: 100_000 }, grpc.status.INVALID_ARGUMENT, 'chunk_size'],
      [{ chunkSize: 8 * MiB }, grpc.status.INVALID_ARGUMENT, 'chunk_size'],
      [{ ranges: [{ offset: MiB - 10, length: 11 }] }, grpc.status.OUT_OF_RANGE, 'ranges\\[0\\]'],
      [{ ranges: [{ offset: 0, length: 0 }] }, grpc.status.INVALID_ARGUMENT, 'length'],
      [{ batchBytes: 4096 }, grpc.status.INVALID_ARGUMENT, 'batch_bytes'],
      [{ batchBytes: 8 * MiB }, grpc.status.INVALID_ARGUMENT, 'batch_bytes'],
    ];
    for (const [req, code, field] of cases) {
      const s = await statusOf(collect(h.client.ReadRanges({ path, ...req })));
      assert.equal(s.code, code, JSON.stringify(req));
      assert.match(s.details, new RegExp(field));
    }
    // Ranges in any order, overlapping, come back merged and sorted.
    const got = await collect<ReadRangesResponse__Output>(
      h.client.ReadRanges({
        path,
        ranges: [
          { offset: 8192, length: 4096 },
          { offset: 0, length: 6000 },
          { offset: 4096, length: 100 },
        ],
      }),
    );
    assert.deepEqual(
      got.map((m) => (m.payload === 'data' ? ['data', m.data?.offset, m.data?.data.length] : ['zero', m.zero?.offset, m.zero?.length])),
      [
        ['data', 0, 4096],
        ['zero', 4096, 1904],
        ['zero', 8192, 4096],
      ],
    );
  });

  test('an oversized message (9 MiB chunk) is RESOURCE_EXHAUSTED and the staging file is removed', async () => {
    const target = join(h.root, 'oversized.raw');
    const client = h.newClient({ 'grpc.max_send_message_length': 16 * MiB });
    const big = randomBytes(9 * MiB);
    const s = await statusOf(writeAll(client, [{ open: { targetPath: target, size: 16 * MiB } }, { data: { offset: 0, data: big, hash: chunkHash(big) } }]));
    assert.equal(s.code, grpc.status.RESOURCE_EXHAUSTED);
    await eventually(async () => (await stagingFiles(h.root)).length === 0, 'the staging file is removed');
  });

  test('a cancelled WriteRanges removes its new staging file', async () => {
    const target = join(h.root, 'cancelled-write.raw');
    const stream = h.client.WriteRanges(() => undefined);
    stream.write({ open: { targetPath: target, size: 8 * MiB } });
    const data = randomBytes(MiB);
    stream.write({ data: { offset: 0, data, hash: chunkHash(data) } });
    await eventually(async () => (await stagingFiles(h.root)).length === 1, 'the staging file exists');
    await eventually(async () => (await allocated(join(h.root, (await stagingFiles(h.root))[0])).catch(() => 0)) > 0, 'the chunk is written');
    stream.cancel();
    await eventually(async () => (await stagingFiles(h.root)).length === 0, 'the staging file is removed');
  });
});

describe('cancellation', () => {
  test('a ReadRanges cancelled mid-stream stops on the server and closes the image', async () => {
    const path = join(h.root, 'cancel.raw');
    await sparseFile(path, 96 * MiB, [{ offset: 0, data: randomBytes(96 * MiB) }]);
    const stream = h.client.ReadRanges({ path, chunkSize: 64 * KiB });
    let received = 0;
    stream.on('data', () => {
      received += 1;
      // Stop reading: the server fills the 16 MiB window and waits for 'drain'.
      if (received === 3) stream.pause();
    });
    const ended = new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve));
    stream.on('error', () => undefined);
    await eventually(async () => received >= 3, 'the first chunks arrive');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await fdsOpenOn(path), 1, 'the server holds the image open while it waits on the slow client');
    const started = Date.now();
    stream.cancel();
    const status = await ended;
    assert.equal(status.code, grpc.status.CANCELLED);
    await eventually(async () => (await fdsOpenOn(path)) === 0, 'the server closes the image', 1000);
    assert.ok(Date.now() - started < 1000);
    assert.ok(received < (96 * 16) / 2, `received ${received} of 1536 chunks before the cancel`);
  });
});

describe('batches', () => {
  test('with batch_bytes, scattered blocks come several to a message: the same pieces, bytes and hashes, in order', async () => {
    const path = join(h.root, 'scattered.raw');
    const blocks = Array.from({ length: 48 }, (_, i) => ({ offset: i * 5 * 64 * KiB, data: randomBytes(64 * KiB) }));
    await sparseFile(path, 16 * MiB, blocks);
    // Each block, and beside every third the hole after it: data and zero pieces interleaved.
    const ranges = blocks.flatMap((b, i) => [{ offset: b.offset, length: 64 * KiB }, ...(i % 3 === 0 ? [{ offset: b.offset + 2 * 64 * KiB, length: 64 * KiB }] : [])]);
    const piecesOf = (messages: ReadRangesResponse__Output[]): string[] =>
      messages
        .flatMap((m) => (m.batch ? m.batch.pieces : [m]))
        .map((p) => (p.data ? `data ${p.data.offset} ${chunkHash(p.data.data).toString('hex')} ${p.data.hash.toString('hex')}` : `zero ${p.zero?.offset} ${p.zero?.length}`));
    const one = await collect<ReadRangesResponse__Output>(h.client.ReadRanges({ path, ranges }));
    const batched = await collect<ReadRangesResponse__Output>(h.client.ReadRanges({ path, ranges, batchBytes: 512 * KiB }));
    assert.equal(one.length, 48 + 16);
    assert.ok(batched.length <= 7, `${batched.length} messages`);
    assert.ok(batched.every((m) => m.batch === null || m.batch === undefined || m.batch.pieces.every((p) => p.batch === null || p.batch === undefined)));
    assert.deepEqual(piecesOf(batched), piecesOf(one));
    assert.deepEqual(
      piecesOf(one).filter((p) => p.startsWith('data')),
      blocks.map((b) => `data ${b.offset} ${chunkHash(b.data).toString('hex')} ${chunkHash(b.data).toString('hex')}`),
    );
  });
});
