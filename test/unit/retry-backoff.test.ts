/**
 * The reconnect schedule: exponential, capped, with seeded equal jitter;
 * the defaults ride out a 30 s outage; the notices as the user sees them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelayMs, guaranteedWaitMs } from '../../controller/operations/retry/backoff.js';
import { formatRetryLine, retryEvent } from '../../controller/cli/retry-notice.js';
import { JsonReporter } from '../../controller/cli/reporter.js';
import { DEFAULT_RETRY, loadControllerOptions } from '../../controller/config/controller-config.js';
import { Prng } from '../support/fuzz/prng.js';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const seeded = (seed: number): (() => number) => {
  const prng = new Prng(seed);
  return () => prng.u32() / 0x1_0000_0000;
};

test('the schedule doubles from the base, stops at the cap, and each delay lies in [half, all] of its step', () => {
  const policy = { attempts: 6, baseDelayMs: 2000, maxDelayMs: 20_000 };
  const steps = [2000, 4000, 8000, 16_000, 20_000, 20_000];
  const random = seeded(42);
  const delays = steps.map((_, i) => backoffDelayMs(i + 1, policy, random));
  delays.forEach((d, i) => {
    const step = steps[i];
    assert.ok(d >= step / 2 && d <= step, `attempt ${i + 1}: ${d} ms outside [${step / 2}, ${step}]`);
  });
  // Seeded: the same seed gives the same schedule, another seed another one.
  const again = seeded(42);
  assert.deepEqual(
    steps.map((_, i) => backoffDelayMs(i + 1, policy, again)),
    delays,
  );
  const other = seeded(7);
  assert.notDeepEqual(
    steps.map((_, i) => backoffDelayMs(i + 1, policy, other)),
    delays,
  );
  assert.equal(
    backoffDelayMs(1, policy, () => 0),
    1000,
  );
  assert.equal(
    backoffDelayMs(3, policy, () => 0.999999),
    8000,
  );
  assert.equal(
    backoffDelayMs(9, policy, () => 0.5),
    15_000,
  );
});

test('the defaults wait at least 35 s in all: a 30 s outage is ridden out', async () => {
  // No config file at all (an empty XDG_CONFIG_HOME): the compiled defaults.
  process.env.XDG_CONFIG_HOME = await mkdtemp(join(tmpdir(), 'kvmctl-retry-'));
  const { retry } = await loadControllerOptions({});
  assert.deepEqual(retry, { ...DEFAULT_RETRY });
  assert.deepEqual(retry, { attempts: 6, baseDelayMs: 2000, maxDelayMs: 20_000 });
  assert.ok(guaranteedWaitMs(retry) >= 30_000, `only ${guaranteedWaitMs(retry)} ms`);
  assert.equal(guaranteedWaitMs(retry), 35_000);
});

test('a retry is one terminal line and one NDJSON event', () => {
  const notice = { phase: 'TRANSFER', host: 'hostb', attempt: 2, attempts: 6, delayMs: 3100, reason: 'hostb: SSH connection lost: ssh exited with status 255' };
  assert.equal(formatRetryLine(notice), 'connection to hostb lost (hostb: SSH connection lost: ssh exited with status 255); retry 2/6 in 3.1 s');
  assert.equal(formatRetryLine({ ...notice, host: undefined, reason: 'x'.repeat(400) }).length < 220, true);
  assert.match(formatRetryLine({ ...notice, host: undefined }), /^connection lost \(/);
  const lines: string[] = [];
  new JsonReporter((l) => lines.push(l)).retry(notice);
  const event = JSON.parse(lines[0]) as Record<string, unknown>;
  assert.equal(typeof event.at, 'string');
  delete event.at;
  assert.deepEqual(event, { type: 'retry', phase: 'TRANSFER', host: 'hostb', attempt: 2, attempts: 6, delayMs: 3100, reason: notice.reason });
  assert.deepEqual(retryEvent(notice), event);
});
