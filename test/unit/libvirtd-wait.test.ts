import { test } from 'node:test';
import assert from 'node:assert/strict';
import { whileLibvirtdRestarts } from '../../agent/libvirt/libvirtd-wait.js';
import { libvirtFailure } from '../../agent/libvirt/libvirt-errors.js';
import { KvmcloneError } from '../../shared/errors.js';

/** What the binding throws on a connection libvirtd dropped. */
function gone(): Error {
  return Object.assign(new Error('Cannot write data: Broken pipe'), { name: 'LibvirtError', code: 38 });
}

test('a call that meets a gone libvirtd is tried again until it answers', async () => {
  let calls = 0;
  const retries: number[] = [];
  const value = await whileLibvirtdRestarts(
    async () => {
      calls += 1;
      if (calls < 4) throw libvirtFailure(gone(), 'list domains');
      return 'ok';
    },
    { waitMs: 10_000, onRetry: (_err, pauseMs) => retries.push(pauseMs) },
  );
  assert.equal(value, 'ok');
  assert.equal(calls, 4);
  assert.deepEqual(retries, [0, 250, 500], 'at once, then growing pauses');
});

test('it gives up after waitMs with the last failure, UNAVAILABLE', async () => {
  let calls = 0;
  const started = Date.now();
  const err = await whileLibvirtdRestarts(
    async () => {
      calls += 1;
      throw libvirtFailure(gone(), 'list domains');
    },
    { waitMs: 600 },
  ).catch((e: unknown) => e);
  assert.ok(err instanceof KvmcloneError && err.code === 'UNAVAILABLE', String(err));
  assert.ok(Date.now() - started < 2000);
  assert.equal(calls, 3, 'at once, after 250 ms; 500 ms more would pass the limit');
});

test('waitMs 0 is one retry at once', async () => {
  let calls = 0;
  await assert.rejects(
    whileLibvirtdRestarts(
      async () => {
        calls += 1;
        throw gone();
      },
      { waitMs: 0 },
    ),
  );
  assert.equal(calls, 2);
});

test('any other failure is not retried', async () => {
  let calls = 0;
  await assert.rejects(
    whileLibvirtdRestarts(
      async () => {
        calls += 1;
        throw new KvmcloneError('NOT_FOUND', 'no such domain');
      },
      { waitMs: 10_000 },
    ),
    /no such domain/,
  );
  assert.equal(calls, 1);
});

test('an abort ends the wait', async () => {
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  await assert.rejects(
    whileLibvirtdRestarts(
      async () => {
        throw gone();
      },
      { waitMs: 60_000, signal: ac.signal },
    ),
    { name: 'AbortError' },
  );
});
