/**
 * ReadRanges batches (agent/disk/batching-sink.ts): what goes in comes out in
 * order with the same bytes, batches stay within batch_bytes, a big chunk
 * goes alone, read buffers are given back as soon as their bytes are copied,
 * a batch buffer only once its message is written, and 0 changes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { batchingSink, MAX_BATCH_PIECES, unpackBatch } from '../../agent/disk/batching-sink.js';
import type { ReadRangesResponse } from '../../shared/generated/kvmclone/agent/v1/ReadRangesResponse.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A sink that records each message with a copy of its bytes and runs `written` when told to. */
function recorder(): { sent: ReadRangesResponse[]; writtenLater: (() => void)[]; send: (m: ReadRangesResponse, w?: () => void) => Promise<void> } {
  const sent: ReadRangesResponse[] = [];
  const writtenLater: (() => void)[] = [];
  return {
    sent,
    writtenLater,
    send: async (m, w) => {
      sent.push(structuredClone(m));
      if (w) writtenLater.push(w);
    },
  };
}

/** The pieces of what was sent, as offset/length/bytes (zero ranges with no bytes). */
function flatten(sent: ReadRangesResponse[]): { offset: number; length: number; bytes?: string }[] {
  return sent.flatMap((m) =>
    unpackBatch(m).map((p) =>
      p.data
        ? { offset: Number(p.data.offset), length: (p.data.data as Uint8Array).length, bytes: Buffer.from(p.data.data as Uint8Array).toString('hex') }
        : { offset: Number(p.zero?.offset), length: Number(p.zero?.length) },
    ),
  );
}

function dataBytes(m: ReadRangesResponse): number {
  return unpackBatch(m).reduce((n, p) => n + ((p.data?.data as Uint8Array | undefined)?.length ?? 0), 0);
}

test('scattered 64 KiB blocks and zero ranges: packed up to batch_bytes, in order, the same bytes', async () => {
  const r = recorder();
  const sink = batchingSink(MiB, r.send);
  const input: ReadRangesResponse[] = [];
  for (let i = 0; i < 40; i++) {
    input.push({ data: { offset: i * 10 * 64 * KiB, data: randomBytes(64 * KiB), hash: randomBytes(16) } });
    if (i % 7 === 0) input.push({ zero: { offset: i * 10 * 64 * KiB + 64 * KiB, length: 128 * KiB } });
  }
  let released = 0;
  for (const m of input) await sink.send(m, () => (released += 1));
  await sink.flush();
  assert.equal(released, input.length, 'every piece let go of its read buffer once packed');
  assert.deepEqual(flatten(r.sent), flatten(input));
  assert.ok(r.sent.length <= Math.ceil((40 * 64 * KiB) / MiB) + 1, `${r.sent.length} messages for 40 blocks`);
  for (const m of r.sent) assert.ok(dataBytes(m) <= MiB);
  // Hashes travel with their pieces.
  const hashes = r.sent.flatMap((m) => unpackBatch(m)).flatMap((p) => (p.data ? [Buffer.from(p.data.hash as Uint8Array).toString('hex')] : []));
  assert.deepEqual(
    hashes,
    input.flatMap((p) => (p.data ? [Buffer.from(p.data.hash as Uint8Array).toString('hex')] : [])),
  );
});

test('a chunk of more than half a batch goes alone and unchanged, after the batch before it', async () => {
  const r = recorder();
  const sink = batchingSink(MiB, r.send);
  const small = { data: { offset: 0, data: randomBytes(64 * KiB) } };
  const big = { data: { offset: MiB, data: randomBytes(MiB) } };
  let bigWritten = false;
  await sink.send(small);
  await sink.send(big, () => (bigWritten = true));
  await sink.flush();
  assert.equal(r.sent.length, 2);
  assert.equal(r.sent[0]?.batch, undefined, 'one piece is sent as it is, not wrapped');
  assert.deepEqual(flatten(r.sent), flatten([small, big]));
  assert.equal(bigWritten, false, "the big chunk's buffer is the sink's to give back once written");
  for (const w of r.writtenLater) w();
  assert.equal(bigWritten, true);
});

test('a batch buffer is reused only after its message was written', async () => {
  const held: Buffer[] = [];
  const writes: (() => void)[] = [];
  const sink = batchingSink(128 * KiB, async (m, w) => {
    const piece = unpackBatch(m)[0]?.data?.data as Buffer;
    held.push(piece);
    if (w) writes.push(w);
  });
  const a = randomBytes(64 * KiB);
  const b = randomBytes(64 * KiB);
  await sink.send({ data: { offset: 0, data: a } });
  await sink.send({ data: { offset: 64 * KiB, data: a } }); // fills the first batch: sent
  await sink.send({ data: { offset: 128 * KiB, data: b } });
  await sink.send({ data: { offset: 192 * KiB, data: b } }); // the second batch, while the first is unwritten
  assert.equal(held.length, 2);
  assert.ok(held[0]?.buffer !== held[1]?.buffer, 'an unwritten batch keeps its buffer');
  assert.ok(held[0]?.equals(a), 'the first batch still holds its bytes');
  for (const w of writes.splice(0)) w();
  await sink.send({ data: { offset: 256 * KiB, data: a } });
  await sink.flush();
  assert.ok(held[2]?.buffer === held[0]?.buffer || held[2]?.buffer === held[1]?.buffer, 'a written batch buffer is used again');
});

test('zero ranges alone are bounded by count; batch_bytes 0 passes every message through', async () => {
  const r = recorder();
  const sink = batchingSink(MiB, r.send);
  for (let i = 0; i < MAX_BATCH_PIECES + 5; i++) await sink.send({ zero: { offset: i * 2 * 64 * KiB, length: 64 * KiB } });
  await sink.flush();
  assert.deepEqual(
    r.sent.map((m) => unpackBatch(m).length),
    [MAX_BATCH_PIECES, 5],
  );
  const plain = recorder();
  const through = batchingSink(0, plain.send);
  const m = { data: { offset: 0, data: randomBytes(64 * KiB) } };
  await through.send(m);
  await through.flush();
  assert.equal(plain.sent.length, 1);
  assert.equal(plain.sent[0]?.batch, undefined);
});
