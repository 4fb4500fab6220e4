/**
 * The replica store: add refuses a taken name and a copy another replica
 * keeps; settings change in place; a run's record moves the failure count
 * and backoff; claims exclude a second live process and give way to a dead
 * one; alerts persist; the schema opens again on an existing database.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { OperationStore } from '../../controller/history/operation-store.js';
import { currentProcess, processStartTicks } from '../../controller/replication/process-identity.js';
import { ReplicaStore } from '../../controller/replication/replica-store.js';
import { runEffect } from '../../controller/replication/run-replica.js';
import { sampleReplicaSpec } from './support/sample-replica.js';

async function withStore(body: (store: ReplicaStore, path: string) => Promise<void> | void): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'replica-store-'));
  const ops = new OperationStore(join(dir, 'history.sqlite'));
  try {
    await body(new ReplicaStore(ops.database), join(dir, 'history.sqlite'));
  } finally {
    ops.close();
    await rm(dir, { recursive: true, force: true });
  }
}

test('add, get, list, update, pause, remove', () =>
  withStore((store) => {
    const added = store.add(sampleReplicaSpec({ keep: 3, live: true }));
    assert.equal(added.seededAt, null);
    assert.equal(added.direction, 'forward');
    assert.equal(added.lifecycle, 'active');
    assert.equal(added.keep, 3);
    assert.equal(added.live, true);
    assert.throws(
      () => store.add(sampleReplicaSpec()),
      (e: Error & { code?: string }) => e.code === 'ALREADY_EXISTS',
    );
    assert.throws(() => store.add(sampleReplicaSpec({ name: 'other' })), /replica web1 already keeps web1 on hostb/);
    store.add(sampleReplicaSpec({ name: 'db1', vm: 'db1', destVm: 'db1' }));
    assert.deepEqual(
      store.list().map((r) => r.name),
      ['db1', 'web1'],
    );
    const updated = store.update('web1', { everySeconds: 60, keep: null, live: false });
    assert.equal(updated.everySeconds, 60);
    assert.equal(updated.keep, null);
    assert.equal(store.setPaused('web1', true).paused, true);
    assert.equal(store.setPaused('web1', false).paused, false);
    store.remove('db1');
    assert.equal(store.find('db1'), undefined);
    assert.throws(
      () => store.get('db1'),
      (e: Error & { code?: string }) => e.code === 'NOT_FOUND',
    );
  }));

test('runs: a failure counts and backs off, a success resets and seeds, an interruption changes nothing', () =>
  withStore((store) => {
    store.add(sampleReplicaSpec());
    const base = {
      replica: 'web1',
      operationId: 'op-1',
      kind: 'clone' as const,
      seconds: 1,
      bytesOnWire: 0,
      delta: null,
      errorCode: 'UNAVAILABLE',
      errorMessage: 'hostb: agent down',
    };
    const record = (outcome: 'succeeded' | 'failed' | 'interrupted', startedAt: string, finishedAt: string): void => {
      const run = { ...base, outcome, startedAt, finishedAt, ...(outcome === 'succeeded' && { errorCode: null, errorMessage: null, delta: 'full' as const, bytesOnWire: 42 }) };
      store.recordRun(run, runEffect(store.get('web1'), run));
    };
    record('failed', '2030-01-01T00:00:00.000Z', '2030-01-01T00:00:10.000Z');
    let r = store.get('web1');
    assert.equal(r.consecutiveFailures, 1);
    assert.equal(r.nextAttemptAt, '2030-01-01T00:01:10.000Z');
    assert.equal(r.lastError, 'hostb: agent down');
    record('failed', '2030-01-01T00:01:10.000Z', '2030-01-01T00:01:20.000Z');
    r = store.get('web1');
    assert.equal(r.consecutiveFailures, 2);
    assert.equal(r.nextAttemptAt, '2030-01-01T00:03:20.000Z', 'second failure: 2 minutes');
    record('interrupted', '2030-01-01T00:03:20.000Z', '2030-01-01T00:03:25.000Z');
    assert.equal(store.get('web1').consecutiveFailures, 2, 'an interruption is not a failure');
    assert.equal(store.lastSuccess('web1'), undefined);
    record('succeeded', '2030-01-01T00:04:00.000Z', '2030-01-01T00:05:00.000Z');
    r = store.get('web1');
    assert.equal(r.consecutiveFailures, 0);
    assert.equal(r.nextAttemptAt, null);
    assert.equal(r.lastError, null);
    assert.equal(r.seededAt, '2030-01-01T00:04:00.000Z');
    assert.equal(store.lastSuccess('web1')?.bytesOnWire, 42);
    assert.deepEqual(
      store.runs('web1').map((x) => x.outcome),
      ['succeeded', 'interrupted', 'failed', 'failed'],
    );
    store.remove('web1');
    store.add(sampleReplicaSpec());
    assert.equal(store.runs('web1').length, 0, 'a replica added again starts without the old runs');
  }));

test('claims: one live holder at a time; a dead holder gives way; release only by the holder', async () =>
  withStore(async (store) => {
    store.add(sampleReplicaSpec());
    const me = currentProcess();
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    await once(child, 'spawn');
    try {
      const other = { host: hostname(), pid: child.pid ?? 0, startTicks: processStartTicks(child.pid ?? 0) ?? '' };
      assert.deepEqual(store.claim('web1', other), { claimed: true });
      const busy = store.claim('web1', me);
      assert.equal(busy.claimed, false);
      assert.equal(store.busyWith('web1')?.pid, child.pid);
      store.release('web1', me);
      assert.equal(store.busyWith('web1')?.pid, child.pid, 'only the holder releases');
      child.kill('SIGKILL');
      await once(child, 'exit');
      assert.equal(store.busyWith('web1'), undefined, 'a dead holder does not count');
      assert.deepEqual(store.claim('web1', me), { claimed: true });
      // the same pid with another start time is another process
      store.release('web1', me);
      assert.deepEqual(store.claim('web1', { ...me, startTicks: '1' }), { claimed: true });
      assert.equal(store.busyWith('web1'), undefined, 'a reused pid is not the holder');
      assert.deepEqual(store.claim('web1', { ...me, host: 'elsewhere' }), { claimed: true });
      assert.equal(store.busyWith('web1'), undefined, "another machine's claim is not live here");
    } finally {
      child.kill('SIGKILL');
    }
  }));

test('alerts are remembered; the tables open again on an existing database', () =>
  withStore((store, path) => {
    store.add(sampleReplicaSpec());
    const sent = store.transitionAlerts('web1', (r) => ({ alerts: { failing: true, breached: r.alerts.breached }, value: 'x' }));
    assert.equal(sent, 'x');
    const again = new OperationStore(path);
    try {
      const reopened = new ReplicaStore(again.database);
      assert.deepEqual(reopened.get('web1').alerts, { failing: true, breached: false });
    } finally {
      again.close();
    }
  }));
