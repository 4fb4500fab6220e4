/**
 * The guest-layer data plane on a fake NBD export: block hashes, digests and
 * ReadRanges streams must be exactly what the same bytes give as a file,
 * whatever pieces the server answers block status in; zeros it vouches for
 * are not read, a hole it does not vouch for is; gaps in its answers are
 * refused; overlapping writes keep their order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { blockHash, DEFAULT_BLOCK_SIZE, HASH_BYTES, ImageDigest } from '../../shared/block-hash.js';
import { KvmcloneError } from '../../shared/errors.js';
import type { ReadRangesResponse } from '../../shared/generated/kvmclone/agent/v1/ReadRangesResponse.js';
import { checkChunk } from '../../agent/disk/chunk-check.js';
import { StreamDigester } from '../../agent/disk/stream-digest.js';
import type { ContextExtent, GuestReader, GuestWriter } from '../../agent/guest/guest-client.js';
import { contextExtents, flaggedSpans, guestExtents } from '../../agent/guest/guest-extents.js';
import { guestDigest, guestHashBatches } from '../../agent/guest/guest-hashes.js';
import { readGuestRanges } from '../../agent/guest/guest-reads.js';
import { GuestWrites } from '../../agent/guest/guest-writes.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const never = new AbortController().signal;

/** An export of `content` whose base:allocation is `map`; block status answers at most `perAnswer` extents, the last one running past the request. */
class FakeExport implements GuestReader {
  bytesRead = 0;
  readonly size: number;

  constructor(
    private readonly content: Buffer,
    private readonly map: ContextExtent[],
    private readonly perAnswer = 2,
  ) {
    this.size = content.length;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    assert.ok(offset >= 0 && offset + length <= this.size, `read ${offset}+${length} inside the export`);
    this.bytesRead += length;
    await new Promise((r) => setImmediate(r));
    return Buffer.from(this.content.subarray(offset, offset + length));
  }

  async *extents(_context: string, offset: number, length: number): AsyncGenerator<ContextExtent> {
    const from = this.map.findIndex((e) => e.offset + e.length > offset);
    for (const e of this.map.slice(from, from + this.perAnswer)) {
      if (e.offset >= offset + length) return;
      yield e;
    }
  }
}

/** 4 MiB + 12 KiB (the last block short): data, a vouched hole, allocated zeros, a hole NOT vouched for (holding data), data. */
function sample(): { content: Buffer; map: ContextExtent[]; vouched: number } {
  const size = 4 * MiB + 12 * KiB;
  const content = randomBytes(size);
  content.fill(0, 1 * MiB, 2 * MiB + 4 * KiB);
  const map: ContextExtent[] = [
    { offset: 0, length: MiB, flags: 0 },
    { offset: MiB, length: MiB, flags: 3 },
    { offset: 2 * MiB, length: 4 * KiB, flags: 2 },
    { offset: 2 * MiB + 4 * KiB, length: 508 * KiB, flags: 1 },
    { offset: 2.5 * MiB, length: size - 2.5 * MiB, flags: 0 },
  ];
  // Within one block, one zero block of data too (found by reading).
  content.fill(0, 3 * MiB, 3 * MiB + 64 * KiB);
  return { content, map, vouched: MiB + 4 * KiB };
}

function expectedHashes(content: Buffer, blockSize: number, from = 0, to = content.length): Buffer {
  const out: Buffer[] = [];
  for (let at = from; at < to; at += blockSize) out.push(blockHash(content.subarray(at, Math.min(to, at + blockSize))));
  return Buffer.concat(out);
}

test('guestHashBatches gives the file hashes, in batches, without reading vouched-for zeros', async () => {
  const { content, map, vouched } = sample();
  for (const blockSize of [4 * KiB, 64 * KiB, MiB]) {
    const fake = new FakeExport(content, map);
    const counters = { bytesRead: 0 };
    const batches = [];
    for await (const b of guestHashBatches(fake, { blockSize, offset: 0, length: 0, batchBlocks: 7 }, never, counters)) batches.push(b);
    assert.ok(batches.slice(0, -1).every((b) => b.blockCount === 7));
    assert.deepEqual(
      batches.map((b) => b.offset),
      batches.map((_, i) => i * 7 * blockSize),
    );
    assert.ok(Buffer.concat(batches.map((b) => b.hashes)).equals(expectedHashes(content, blockSize)), `block size ${blockSize}`);
    assert.equal(counters.bytesRead, fake.bytesRead);
    assert.ok(fake.bytesRead <= content.length - vouched + 2 * blockSize, `vouched zeros are not read (read ${fake.bytesRead})`);
  }
});

test('guestHashBatches of a span: offset and length as HashBlocks takes them, checked the same way', async () => {
  const { content, map } = sample();
  const fake = new FakeExport(content, map);
  const plan = { blockSize: 64 * KiB, offset: 960 * KiB, length: 2 * MiB, batchBlocks: 1024 };
  const got = [];
  for await (const b of guestHashBatches(fake, plan, never)) got.push(b);
  assert.equal(got.length, 1);
  assert.equal(got[0]?.offset, 960 * KiB);
  assert.ok(got[0]?.hashes.equals(expectedHashes(content, 64 * KiB, 960 * KiB, 960 * KiB + 2 * MiB)));
  await assert.rejects(
    async () => {
      for await (const b of guestHashBatches(fake, { ...plan, offset: 1000 }, never)) void b;
    },
    (err: unknown) => err instanceof KvmcloneError && err.code === 'INVALID_ARGUMENT',
  );
  await assert.rejects(
    async () => {
      for await (const b of guestHashBatches(fake, { ...plan, length: 8 * MiB }, never)) void b;
    },
    (err: unknown) => err instanceof KvmcloneError && err.code === 'OUT_OF_RANGE',
  );
});

test('guestDigest is the DigestImage of the same bytes', async () => {
  const { content, map } = sample();
  const digest = new ImageDigest(content.length);
  digest.update(expectedHashes(content, DEFAULT_BLOCK_SIZE));
  assert.equal(await guestDigest(new FakeExport(content, map), never), digest.digest());
});

async function collectRead(
  fake: FakeExport,
  ranges: { offset: number; length: number }[],
  blockHashes: boolean,
): Promise<{ messages: ReadRangesResponse[]; digest: string | undefined }> {
  const messages: ReadRangesResponse[] = [];
  const whole = ranges.length === 1 && ranges[0]?.offset === 0 && ranges[0].length === fake.size;
  const digester = whole ? new StreamDigester(fake.size) : undefined;
  await readGuestRanges(fake, ranges, MiB, async (m) => void messages.push(m), never, { blockHashes, digester });
  return { messages, digest: digester?.finish()?.digest };
}

test('readGuestRanges: chunks with their hashes or block hashes, zeros announced, exactly the ranges covered', async () => {
  const { content, map } = sample();
  for (const blockHashes of [false, true]) {
    for (const ranges of [
      [{ offset: 0, length: content.length }],
      [
        { offset: 4 * KiB, length: 1.5 * MiB },
        { offset: 2 * MiB, length: 1.25 * MiB + 8 * KiB },
      ],
    ]) {
      const { messages, digest } = await collectRead(new FakeExport(content, map), ranges, blockHashes);
      const rebuilt = Buffer.alloc(content.length, 0xff);
      const covered: { offset: number; length: number }[] = [];
      let lastZeroEnd = -1;
      for (const m of messages) {
        if (m.data) {
          const data = m.data.data as Buffer;
          const offset = m.data.offset as number;
          checkChunk({ offset, data, hash: (m.data.hash as Buffer | undefined) ?? Buffer.alloc(0), blockHashes: (m.data.blockHashes as Buffer | undefined) ?? Buffer.alloc(0) });
          assert.ok(data.length <= MiB && Math.floor(offset / MiB) === Math.floor((offset + data.length - 1) / MiB), 'chunks are cut on the chunk grid');
          data.copy(rebuilt, offset);
          covered.push({ offset, length: data.length });
        } else if (m.zero) {
          const offset = m.zero.offset as number;
          const length = m.zero.length as number;
          assert.notEqual(offset, lastZeroEnd, 'adjacent zero ranges are merged');
          lastZeroEnd = offset + length;
          rebuilt.fill(0, offset, offset + length);
          covered.push({ offset, length });
        }
      }
      covered.sort((a, b) => a.offset - b.offset);
      const merged: { offset: number; length: number }[] = [];
      for (const c of covered) {
        const last = merged.at(-1);
        assert.ok(last === undefined || c.offset >= last.offset + last.length, 'no byte twice');
        if (last !== undefined && last.offset + last.length === c.offset) last.length += c.length;
        else merged.push({ ...c });
      }
      assert.deepEqual(merged, ranges, 'the ranges are covered exactly');
      for (const r of ranges) assert.ok(rebuilt.subarray(r.offset, r.offset + r.length).equals(content.subarray(r.offset, r.offset + r.length)));
      const sent = messages.filter((m) => m.data).map((m) => m.data?.data as Buffer);
      assert.ok(!sent.some((d) => d.length >= 64 * KiB && d.subarray(0, 64 * KiB).equals(Buffer.alloc(64 * KiB))), 'all-zero blocks are not sent');
      if (digest !== undefined) assert.equal(digest, await guestDigest(new FakeExport(content, map), never), 'the stream digests like the export');
    }
  }
});

test('extents: clipped to the span, merged for the guest map, gaps refused', async () => {
  const { content, map } = sample();
  const fake = new FakeExport(content, map, 1);
  const kinds = [];
  for await (const e of guestExtents(fake, never)) kinds.push([e.offset, e.length, e.kind]);
  assert.deepEqual(kinds, [
    [0, MiB, 'data'],
    [MiB, MiB, 'hole'],
    [2 * MiB, 4 * KiB, 'zero'],
    [2 * MiB + 4 * KiB, content.length - 2 * MiB - 4 * KiB, 'data'],
  ]);
  const clipped = [];
  for await (const e of contextExtents(fake, 'base:allocation', MiB / 2, MiB, never)) clipped.push([e.offset, e.length]);
  assert.deepEqual(clipped, [
    [MiB / 2, MiB / 2],
    [MiB, MiB / 2],
  ]);
  const gappy = new FakeExport(content, [map[0], map[2]]);
  await assert.rejects(
    async () => {
      for await (const e of contextExtents(gappy, 'base:allocation', 0, content.length, never)) void e;
    },
    (err: unknown) => err instanceof KvmcloneError && err.code === 'DATA_LOSS',
  );
  const dirty = [];
  for await (const s of flaggedSpans(fake, 'base:allocation', 1, never)) dirty.push([s.offset, s.length]);
  assert.deepEqual(dirty, [
    [MiB, MiB],
    [2 * MiB + 4 * KiB, 508 * KiB],
  ]);
});

test('GuestWrites keeps overlapping requests in order and reports a failure at drain', async () => {
  const log: string[] = [];
  const writer: GuestWriter = {
    size: MiB,
    read: async () => Buffer.alloc(0),
    extents: async function* () {},
    write: async (offset, data) => {
      await new Promise((r) => setTimeout(r, offset === 0 ? 20 : 1));
      if (data.length === 3) throw new Error('boom');
      log.push(`w${offset}`);
    },
    writeZeroes: async (offset) => void log.push(`z${offset}`),
    flush: async () => undefined,
  };
  const writes = new GuestWrites(writer, 4);
  await writes.write(0, Buffer.alloc(HASH_BYTES));
  await writes.write(4096, Buffer.alloc(16));
  await writes.zero(8, 8);
  await writes.drain();
  assert.deepEqual(log, ['w4096', 'w0', 'z8'], 'the zeroing waited for the write it overlaps; the other write did not');
  await writes.write(100, Buffer.alloc(3));
  await assert.rejects(writes.drain(), /boom/);
});

test('many scattered ranges are read with one allocation walk, and stream exactly what a range-by-range read does', async () => {
  const { content, map } = sample();
  const ranges = Array.from({ length: 40 }, (_, i) => ({ offset: i * 100 * KiB - ((i * 100 * KiB) % (64 * KiB)), length: 64 * KiB })).filter(
    (r, i, all) => r.offset + r.length <= content.length && (i === 0 || r.offset >= (all[i - 1] as { offset: number }).offset + 64 * KiB),
  );
  assert.ok(ranges.length > 8, 'enough ranges for one walk');
  let asked = 0;
  const exp = new FakeExport(content, map);
  const counting: GuestReader = {
    size: exp.size,
    read: (o, l) => exp.read(o, l),
    extents: (c, o, l) => {
      asked += 1;
      return exp.extents(c, o, l);
    },
  };
  const sent: ReadRangesResponse[] = [];
  await readGuestRanges(counting, ranges, MiB, async (m) => void sent.push(m), never);
  assert.ok(asked < ranges.length, `${asked} block-status requests for ${ranges.length} ranges`);
  const single: ReadRangesResponse[] = [];
  for (const r of ranges) await readGuestRanges(new FakeExport(content, map), [r], MiB, async (m) => void single.push(m), never);
  const bytes = (ms: ReadRangesResponse[]): string =>
    ms
      .map((m) =>
        m.data
          ? `d${String(m.data.offset)}:${Buffer.from(m.data.data as Uint8Array)
              .toString('base64')
              .slice(0, 16)}:${(m.data.data as Uint8Array).length}`
          : `z${String(m.zero?.offset)}+${String(m.zero?.length)}`,
      )
      .join(',');
  const covered = (ms: ReadRangesResponse[]): number => ms.reduce((n, m) => n + (m.data ? (m.data.data as Uint8Array).length : Number(m.zero?.length ?? 0)), 0);
  assert.equal(covered(sent), covered(single));
  assert.equal(
    covered(sent),
    ranges.reduce((n, r) => n + r.length, 0),
  );
  // Adjacent zero announcements may merge across ranges; the data chunks are the same.
  assert.deepEqual(bytes(sent.filter((m) => m.data)), bytes(single.filter((m) => m.data)));
});
