import { test } from 'node:test';
import assert from 'node:assert/strict';
import { whileLibvirtdRestarts } from '../../agent/libvirt/libvirtd-wait.js';
import { libvirtFailure } from '../../agent/libvirt/libvirt-errors.js';
import { KvmcloneError } from '../../shared/errors.js';

/** What the binding throws on a connection libvirtd dropped. */
function gone(): Error {
  return Object.assign(new Error('Cannot write data: Broken pipe'), { name: 'LibvirtError', code: 38 });
}

/** whileLibvirtdRestarts over a call that always throws `failure()`: asserts it rejects; with what, after how many calls. */
async function rejectionOf(failure: () => unknown, waitMs: number): Promise<{ err: unknown; calls: number }> {
  let calls = 0;
  let err: unknown;
  await assert.rejects(
    whileLibvirtdRestarts(
      async () => {
        calls += 1;
        throw failure();
      },
      { waitMs },
    ),
    (e: unknown) => {
      err = e;
      return true;
    },
  );
  return { err, calls };
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
  const started = Date.now();
  const { err, calls } = await rejectionOf(() => libvirtFailure(gone(), 'list domains'), 600);
  assert.ok(err instanceof KvmcloneError && err.code === 'UNAVAILABLE', String(err));
  assert.ok(Date.now() - started < 2000);
  assert.equal(calls, 3, 'at once, after 250 ms; 500 ms more would pass the limit');
});

test('waitMs 0 is one retry at once', async () => {
  const { calls } = await rejectionOf(gone, 0);
  assert.equal(calls, 2);
});

test('any other failure is not retried', async () => {
  const { err, calls } = await rejectionOf(() => new KvmcloneError('NOT_FOUND', 'no such domain'), 10_000);
  assert.match(String(err), /no such domain/);
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
