/**
 * timeouts.no_progress: a pull that reports nothing for that long is
 * cancelled and fails with DEADLINE_EXCEEDED naming the disk, its target
 * and host, and the byte it stalled at — and it is not a failure a
 * reconnect retries.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { pullFile } from '../../controller/operations/clone/pull-file.js';
import { classifyFailure } from '../../controller/operations/retry/failure-class.js';
import { KvmcloneError } from '../../shared/errors.js';
import { RevertStack } from '../../shared/revert-stack.js';
import type { HostSession } from '../../controller/transport/host-session.js';
import type { Reporter } from '../../controller/cli/reporter.js';

/** A PullImage call that sends what the test says and then nothing; records its cancel. */
class FakeCall extends EventEmitter {
  cancelled = false;
  cancel(): void {
    this.cancelled = true;
  }
}

const quiet: Reporter = { phase() {}, progress() {}, itemDone() {}, info() {}, warn() {}, retry() {}, debug() {}, result() {}, close() {} };

test('a pull that stops moving is aborted with the disk and the offset it stalled at', async () => {
  const call = new FakeCall();
  const dst = { host: 'hostb', clients: { transfer: { pullImage: () => call } } } as unknown as HostSession;
  const interrupted: number[] = [];
  const started = Date.now();
  const pull = pullFile(
    dst,
    {},
    { label: 'vda', targetPath: '/var/lib/libvirt/images/copy.qcow2' },
    quiet,
    { noProgressMs: 300, onInterrupted: (n) => interrupted.push(n) },
    new RevertStack(),
    new AbortController().signal,
  );
  call.emit('data', { stagingId: '', stagingPath: '', bytesDone: 1_048_576, bytesTotal: 8_388_608, bytesTransferred: 1_048_576, done: false, phase: '' });
  await assert.rejects(pull, (err) => {
    assert.ok(err instanceof KvmcloneError);
    assert.equal(err.code, 'DEADLINE_EXCEEDED');
    assert.equal(err.message, 'vda (/var/lib/libvirt/images/copy.qcow2 on hostb) stalled at byte 1048576 of 8388608: no progress for 0 s; giving up');
    assert.equal(classifyFailure(err, { operationId: 'x', source: 'hosta', dest: 'hostb' }).transient, false);
    return true;
  });
  assert.ok(Date.now() - started >= 290, 'not before no_progress');
  assert.equal(call.cancelled, true);
  assert.deepEqual(interrupted, [1_048_576], 'the bytes it had sent still count on the wire');
});

test('progress keeps the watchdog away; a pull silent from the start stalls "before its first byte"', async () => {
  const call = new FakeCall();
  const dst = { host: 'hostb', clients: { transfer: { pullImage: () => call } } } as unknown as HostSession;
  const pull = pullFile(dst, {}, { label: 'vdb', targetPath: '/i/b.raw' }, quiet, { noProgressMs: 200 }, new RevertStack(), new AbortController().signal);
  await assert.rejects(pull, /^KvmcloneError: vdb \(\/i\/b\.raw on hostb\) stalled before its first byte: no progress/);
  const call2 = new FakeCall();
  const dst2 = { host: 'hostb', clients: { transfer: { pullImage: () => call2 } } } as unknown as HostSession;
  const moving = pullFile(dst2, {}, { label: 'vdc', targetPath: '/i/c.raw' }, quiet, { noProgressMs: 200 }, new RevertStack(), new AbortController().signal);
  for (let i = 1; i <= 4; i += 1) {
    await new Promise((r) => setTimeout(r, 100));
    call2.emit('data', { stagingId: '', stagingPath: '', bytesDone: i, bytesTotal: 4, bytesTransferred: i, done: i === 4, digest: 'blake3:x', phase: '' });
  }
  call2.emit('end');
  assert.equal((await moving).bytesDone, 4);
});

test('a call that reads a whole image gets a deadline for its size, a control call the plain one', async () => {
  const { readDeadlineMs } = await import('../../controller/transport/host-session.js');
  assert.equal(readDeadlineMs(0), 0);
  // 100 GiB at the slowest allowed 20 MB/s: about 90 minutes on top of the control call's deadline.
  assert.equal(readDeadlineMs(100 * 1024 ** 3), 5_368_710);
  assert.equal(readDeadlineMs(-5), 0);
});
