/**
 * A striped pull (PullImageRequest.streams): stripes dealt round-robin
 * cover the file exactly once, and the streams' pieces merge back into file
 * order whatever their pace; a piece out of order is DATA_LOSS, and ending
 * the merge early ends every stream. Also the request field's bounds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { mergeInOrder, stripeRanges, STRIPE_BYTES } from '../../agent/transfer/striped-read.js';
import { checkStreams, MAX_PULL_STREAMS } from '../../agent/disk/request-limits.js';
import type { ReadRangesResponse__Output } from '../../shared/generated/kvmclone/agent/v1/ReadRangesResponse.js';

const data = (offset: number, length: number): ReadRangesResponse__Output => ({
  payload: 'data',
  data: { offset, data: Buffer.alloc(length, offset % 251), hash: Buffer.alloc(0), blockHashes: Buffer.alloc(0), compression: 'COMPRESSION_NONE', plainLength: 0 },
});
const zero = (offset: number, length: number): ReadRangesResponse__Output => ({ payload: 'zero', zero: { offset, length } });
const at = (m: ReadRangesResponse__Output): number => m.data?.offset ?? m.zero?.offset ?? -1;

test('stripes cover the file once, round-robin, the last one short', () => {
  const size = 5 * STRIPE_BYTES + 4096;
  const parts = stripeRanges(size, 3);
  assert.equal(parts.length, 3);
  assert.deepEqual(
    parts.map((p) => p.map((r) => r.offset / STRIPE_BYTES)),
    [
      [0, 3],
      [1, 4],
      [2, 5],
    ],
  );
  const all = parts.flat().sort((a, b) => a.offset - b.offset);
  let end = 0;
  for (const r of all) {
    assert.equal(r.offset, end);
    end += r.length;
  }
  assert.equal(end, size);
  assert.deepEqual(stripeRanges(100, 4), [[{ offset: 0, length: 100 }], [], [], []]);
});

/** A stream that gives `pieces` with a delay before each (a slower or faster connection). */
async function* paced(pieces: ReadRangesResponse__Output[], ms: number, ended: { n: number }): AsyncGenerator<ReadRangesResponse__Output> {
  try {
    for (const p of pieces) {
      await sleep(ms);
      yield p;
    }
  } finally {
    ended.n += 1;
  }
}

test('pieces of streams at different paces come out in file order, every one once', async () => {
  const S = 1000;
  const ended = { n: 0 };
  // stream 0: stripes 0 and 2 (a data piece and a zero piece each); stream 1: stripes 1 and 3
  const s0 = [data(0, 600), zero(600, 400), data(2 * S, 1000)];
  const s1 = [zero(S, 1000), data(3 * S, 300), zero(3 * S + 300, 700)];
  const merged: number[] = [];
  for await (const m of mergeInOrder([paced(s0, 1, ended), paced(s1, 7, ended)])) merged.push(at(m));
  assert.deepEqual(merged, [0, 600, S, 2 * S, 3 * S, 3 * S + 300]);
  assert.equal(ended.n, 2);
});

test('a piece behind one already given is DATA_LOSS, and every stream is ended', async () => {
  const ended = { n: 0 };
  const bad = [data(0, 10), data(5, 10)];
  await assert.rejects(
    async () => {
      for await (const _ of mergeInOrder([paced(bad, 0, ended), paced([data(100, 10)], 0, ended)])) void _;
    },
    (e: unknown) => e instanceof Error && /after one that ended at 10/.test(e.message) && (e as { code?: string }).code === 'DATA_LOSS',
  );
  assert.equal(ended.n, 2);
});

test('the consumer stopping early ends every stream', async () => {
  const ended = { n: 0 };
  for await (const m of mergeInOrder([paced([data(0, 1), data(2, 1)], 0, ended), paced([data(1, 1), data(3, 1)], 0, ended)])) {
    if (at(m) === 1) break;
  }
  assert.equal(ended.n, 2);
});

test('streams: 0 and 1 are one; more up to the limit; anything else refused', () => {
  assert.equal(checkStreams(0), 1);
  assert.equal(checkStreams(1), 1);
  assert.equal(checkStreams(MAX_PULL_STREAMS), MAX_PULL_STREAMS);
  assert.throws(() => checkStreams(MAX_PULL_STREAMS + 1), /streams: 9 is not a number of streams from 1 to 8/);
  assert.throws(() => checkStreams(-1), /streams/);
});
