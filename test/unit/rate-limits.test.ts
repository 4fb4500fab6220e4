/**
 * --bwlimit pieces: rates as users write them, the token bucket's pacing
 * (a fake clock), shared buckets per operation, the paced sink counting only
 * data bytes, the controller's choice between a host pair's rate and the
 * default, and the flag replacing kvmctl.yaml's rates.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRate } from '../../shared/config/rate.js';
import { BURST_SECONDS, RateLimits, TokenBucket, pacedSink } from '../../agent/transfer/rate-limits.js';
import { rateLimitFor } from '../../controller/operations/transfer-rate.js';
import { withBwlimit } from '../../controller/cli/bwlimit-flag.js';
import { loadControllerOptions, type ControllerOptions } from '../../controller/config/controller-config.js';
import { ConfigError } from '../../shared/config/config-file.js';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReadRangesResponse } from '../../shared/generated/kvmclone/agent/v1/ReadRangesResponse.js';

const MiB = 1024 * 1024;

test('rates: K/M/G in 1024s as rsync, KB/MB/GB in 1000s, /s allowed; bare numbers and tiny rates refused', () => {
  assert.deepEqual(parseRate('50M'), { rate: 50 * MiB });
  assert.deepEqual(parseRate('800K'), { rate: 800 * 1024 });
  assert.deepEqual(parseRate('1.5G'), { rate: 1.5 * 1024 ** 3 });
  assert.deepEqual(parseRate('100MB/s'), { rate: 100_000_000 });
  assert.deepEqual(parseRate(' 2MiB '), { rate: 2 * MiB });
  assert.match((parseRate('5000') as { error: string }).error, /not a rate/);
  assert.match((parseRate('fast') as { error: string }).error, /not a rate/);
  assert.match((parseRate('10K') as { error: string }).error, /below the lowest rate, 64K/);
});

/** A bucket on a clock that advances only when it sleeps; records the sleeps. */
function fakeBucket(rate: number): { bucket: TokenBucket; sleeps: number[]; clock: { t: number } } {
  const clock = { t: 0 };
  const sleeps: number[] = [];
  const bucket = new TokenBucket(
    rate,
    () => clock.t,
    async (ms) => {
      sleeps.push(ms);
      clock.t += ms;
    },
  );
  return { bucket, sleeps, clock };
}

test('the bucket lets its burst go at once, then paces at the rate exactly', async () => {
  const { bucket, sleeps, clock } = fakeBucket(4 * MiB);
  const signal = new AbortController().signal;
  for (let i = 0; i < 10; i += 1) await bucket.take(MiB, signal);
  // 10 MiB at 4 MiB/s with 2 MiB banked: 2 s.
  assert.equal(clock.t, ((10 * MiB - 4 * MiB * BURST_SECONDS) / (4 * MiB)) * 1000);
  assert.equal(sleeps.length, 8, 'the first 2 MiB went without waiting');
});

test('idle time banks at most the burst', async () => {
  const { bucket, clock } = fakeBucket(4 * MiB);
  const signal = new AbortController().signal;
  clock.t += 60_000;
  const before = clock.t;
  for (let i = 0; i < 6; i += 1) await bucket.take(MiB, signal);
  assert.equal(clock.t - before, 1000, 'an idle minute saved 2 MiB, not 240');
});

test('a wait ends with the signal', async () => {
  const bucket = new TokenBucket(64 * 1024);
  const ac = new AbortController();
  await bucket.take(64 * 1024 * BURST_SECONDS, ac.signal);
  const waiting = bucket.take(10 * MiB, ac.signal);
  ac.abort(new Error('stop'));
  await assert.rejects(waiting, /stop/);
});

test('one bucket per operation at its lowest rate, dropped when its last stream ends; none without a rate', async () => {
  const limits = new RateLimits();
  const sent: number[] = [];
  const send = async (m: ReadRangesResponse): Promise<void> => {
    sent.push(m.data?.data?.length ?? 0);
  };
  const signal = new AbortController().signal;
  assert.equal(await limits.paced('op', 0, send, signal, async (s) => (s === send ? 'unpaced' : 'paced')), 'unpaced');
  let inner: unknown;
  await limits.paced('op', 8 * MiB, send, signal, async () => {
    await limits.paced('op', 4 * MiB, send, signal, async () => {
      inner = limits.size;
    });
  });
  assert.equal(inner, 1, 'both streams of the operation shared one bucket');
  assert.equal(limits.size, 0);
});

test('the paced sink counts data bytes only: zero runs pass at once', async () => {
  const { bucket, clock } = fakeBucket(64 * 1024);
  const seen: ReadRangesResponse[] = [];
  const sink = pacedSink(bucket, async (m) => void seen.push(m), new AbortController().signal);
  await sink({ zero: { offset: 0, length: 1024 ** 3 } });
  assert.equal(clock.t, 0);
  await sink({ data: { offset: 0, data: Buffer.alloc(64 * 1024 * 2) } });
  assert.ok(clock.t > 0);
  assert.equal(seen.length, 2);
});

test('the paced sink counts a batch by the data bytes of its pieces', async () => {
  const { bucket, clock } = fakeBucket(MiB);
  const sink = pacedSink(bucket, async () => undefined, new AbortController().signal);
  await sink({ batch: { pieces: [{ zero: { offset: 0, length: 1024 ** 3 } }] } });
  assert.equal(clock.t, 0, 'zero ranges in a batch are free');
  const data = (offset: number): ReadRangesResponse => ({ data: { offset, data: Buffer.alloc(MiB) } });
  await sink({ batch: { pieces: [data(0), data(MiB), data(2 * MiB)] } });
  assert.equal(clock.t, (3 - BURST_SECONDS) * 1000, '3 MiB at 1 MiB/s, less the burst the bucket starts with');
});

const TRANSFER: ControllerOptions['transfer'] = { concurrency: 2, bwlimit: 10 * MiB, links: [{ from: 'hosta', to: 'dr', bwlimit: 2 * MiB }], compress: 'off', streams: 1 };

test("a host pair's rate wins over the default, one way only", () => {
  assert.equal(rateLimitFor(TRANSFER, 'hosta', 'dr'), 2 * MiB);
  assert.equal(rateLimitFor(TRANSFER, 'dr', 'hosta'), 10 * MiB);
  assert.equal(rateLimitFor({ ...TRANSFER, bwlimit: 0, links: [] }, 'a', 'b'), 0);
});

test("--bwlimit replaces kvmctl.yaml's rates for the run; a bad one is INVALID_ARGUMENT", () => {
  const options = { transfer: TRANSFER } as ControllerOptions;
  assert.equal(withBwlimit(options, {}), options);
  assert.deepEqual(withBwlimit(options, { bwlimit: '50M' }).transfer, { concurrency: 2, bwlimit: 50 * MiB, links: [], compress: 'off', streams: 1 });
  assert.throws(
    () => withBwlimit(options, { bwlimit: '50' }),
    (err: Error & { code?: string }) => err.code === 'INVALID_ARGUMENT' && /--bwlimit: "50" is not a rate/.test(err.message),
  );
});

test('kvmctl.yaml: transfer.bwlimit and links compiled to bytes per second; bad rates and keys named', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kvmctl-bwlimit-'));
  const config = join(dir, 'kvmctl.yaml');
  await writeFile(config, 'transfer:\n  bwlimit: 50M\n  links:\n    - { from: hosta, to: dr, bwlimit: 800K }\n');
  assert.deepEqual((await loadControllerOptions({ config })).transfer, {
    concurrency: 2,
    bwlimit: 50 * MiB,
    links: [{ from: 'hosta', to: 'dr', bwlimit: 800 * 1024 }],
    compress: 'off',
    streams: 1,
  });
  await writeFile(config, '{}\n');
  assert.deepEqual((await loadControllerOptions({ config })).transfer, { concurrency: 2, bwlimit: 0, links: [], compress: 'off', streams: 1 });
  await writeFile(config, 'transfer:\n  bwlimit: 50\n  links:\n    - { from: hosta, bwlimit: 1M }\n');
  await assert.rejects(loadControllerOptions({ config }), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    const text = err.problems.join('\n');
    assert.match(text, /transfer\.bwlimit: .*not a rate|transfer\.bwlimit: /);
    assert.match(text, /transfer\.links\.0\.to: /);
    return true;
  });
});
