/**
 * The reconnect loop: transient failures reconnect and call the phase again
 * (with a notice each time), permanent ones end it at once, a run of
 * failures without progress stops after `attempts`, a failed reconnect
 * counts as an attempt, and progress starts the count again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withReconnect, type ReconnectOptions } from '../../controller/operations/retry/with-reconnect.js';
import { KvmcloneError } from '../../shared/errors.js';
import type { RetryNotice } from '../../controller/cli/retry-notice.js';

const lost = (): KvmcloneError => new KvmcloneError('UNAVAILABLE', 'hostb: SSH connection lost: ssh exited with status 255');

function harness(overrides: Partial<ReconnectOptions> = {}): { options: ReconnectOptions; notices: RetryNotice[]; waits: number[]; reconnects: number[] } {
  const notices: RetryNotice[] = [];
  const waits: number[] = [];
  const reconnects: number[] = [];
  const options: ReconnectOptions = {
    phase: 'TRANSFER',
    policy: { attempts: 3, baseDelayMs: 1000, maxDelayMs: 4000 },
    context: { operationId: 'op-00000000', source: 'hosta', dest: 'hostb' },
    reconnect: async () => void reconnects.push(Date.now()),
    notify: (n) => notices.push(n),
    progressed: () => false,
    signal: new AbortController().signal,
    random: () => 0.5,
    wait: async (ms) => void waits.push(ms),
    ...overrides,
  };
  return { options, notices, waits, reconnects };
}

test('a transient failure reconnects and the phase is called again, told its attempt', async () => {
  const h = harness();
  const attempts: number[] = [];
  const result = await withReconnect(async (attempt) => {
    attempts.push(attempt);
    if (attempt < 2) throw lost();
    return 'done';
  }, h.options);
  assert.equal(result, 'done');
  assert.deepEqual(attempts, [0, 1, 2]);
  assert.equal(h.reconnects.length, 2);
  assert.deepEqual(h.waits, [750, 1500]);
  assert.deepEqual(
    h.notices.map((n) => [n.phase, n.host, n.attempt, n.attempts, n.delayMs]),
    [
      ['TRANSFER', 'hostb', 1, 3, 750],
      ['TRANSFER', 'hostb', 2, 3, 1500],
    ],
  );
});

test('a permanent failure is never retried', async () => {
  const h = harness();
  let calls = 0;
  const enospc = new KvmcloneError('RESOURCE_EXHAUSTED', 'hostb: no space left on device');
  await assert.rejects(
    withReconnect(async () => {
      calls += 1;
      throw enospc;
    }, h.options),
    (err) => err === enospc,
  );
  assert.equal(calls, 1);
  assert.equal(h.notices.length, 0);
  assert.equal(h.reconnects.length, 0);
});

test('more failures in a row than attempts: gives up with the last error, saying so', async () => {
  const h = harness();
  let calls = 0;
  await assert.rejects(
    withReconnect(async () => {
      calls += 1;
      throw lost();
    }, h.options),
    (err) => err instanceof KvmcloneError && err.code === 'UNAVAILABLE' && /gave up after 3 reconnect attempts/.test(err.message),
  );
  assert.equal(calls, 4);
  assert.equal(h.notices.length, 3);
});

test('a reconnect that fails counts as an attempt; a permanent one (host key) ends the run', async () => {
  let tries = 0;
  const h = harness({
    reconnect: async () => {
      tries += 1;
      if (tries === 1) throw lost();
      throw new KvmcloneError('FAILED_PRECONDITION', 'hostb: HOST KEY CHANGED');
    },
  });
  await assert.rejects(
    withReconnect(async () => {
      throw lost();
    }, h.options),
    /HOST KEY CHANGED/,
  );
  assert.equal(tries, 2);
  assert.deepEqual(
    h.notices.map((n) => n.attempt),
    [1, 2],
  );
});

test('progress between failures starts the count again', async () => {
  const h = harness({ progressed: () => true });
  let calls = 0;
  const result = await withReconnect(async () => {
    calls += 1;
    if (calls <= 5) throw lost();
    return calls;
  }, h.options);
  assert.equal(result, 6);
  assert.deepEqual(
    h.notices.map((n) => n.attempt),
    [1, 1, 1, 1, 1],
  );
});

test('an interrupt during the wait ends the run at once', async () => {
  const ac = new AbortController();
  const h = harness({
    signal: ac.signal,
    wait: async () => {
      ac.abort();
      ac.signal.throwIfAborted();
    },
  });
  await assert.rejects(
    withReconnect(async () => {
      throw lost();
    }, h.options),
    (err) => err instanceof Error && err.name === 'AbortError',
  );
  assert.equal(h.reconnects.length, 0);
});
