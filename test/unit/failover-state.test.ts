/**
 * Failover, failback and test failover without hosts: the split-brain
 * decision for every state the source can be found in; the warning failback
 * gives and when it must ask; the roles and records a failover leaves and
 * failback --switch clears; refusals that come before any host is reached
 * (already failed over, never copied, not failed over, a drill already up);
 * flag combinations that mean nothing; a nested operation's error keeps its code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KvmcloneError } from '../../shared/errors.js';
import { OperationStore } from '../../controller/history/operation-store.js';
import { FailoverStore } from '../../controller/replication/failover-store.js';
import { ReplicaStore, type ReplicaSpec } from '../../controller/replication/replica-store.js';
import { decideFailover, type SourceProbe } from '../../controller/replication/split-brain.js';
import { overwriteWarning, runFailback } from '../../controller/replication/failback.js';
import { runFailover, type RecoveryDeps } from '../../controller/replication/failover.js';
import { drillName, runDrill } from '../../controller/replication/failover-drill.js';
import { flagConflict } from '../../controller/commands/failover.js';
import { nestedError } from '../../controller/replication/nested-reporter.js';
import type { ControllerOptions } from '../../controller/config/controller-config.js';
import type { Reporter } from '../../controller/cli/reporter.js';
import type { SshEngine } from '../../controller/transport/ssh-engine.js';

const names = { vm: 'web1', from: 'hosta', replica: 'r1' };
const spec: ReplicaSpec = { name: 'r1', vm: 'web1', from: 'hosta', to: 'hostb', destVm: 'web1', targetDir: null, everySeconds: 900, keep: null, live: false };
const refusal = (pattern: RegExp) => (e: unknown) => e instanceof KvmcloneError && e.code === 'FAILED_PRECONDITION' && pattern.test(e.message);

test('split brain: a running (or paused, or shutting down) source is refused, --force or not', () => {
  for (const state of ['running', 'paused', 'blocked', 'pmsuspended', 'unspecified']) {
    assert.throws(() => decideFailover({ kind: 'state', state }, false, names), refusal(new RegExp(`web1 on hosta is ${state}: .*split brain`)));
    assert.throws(() => decideFailover({ kind: 'state', state }, true, names), refusal(/--force only overrides a host that cannot be reached/));
  }
  assert.throws(() => decideFailover({ kind: 'state', state: 'shutdown' }, false, names), refusal(/is shutting down/));
});

test('split brain: shut off, crashed and absent sources are allowed, and what was found is recorded', () => {
  assert.equal(decideFailover({ kind: 'state', state: 'shutoff' }, false, names).source, 'shutoff');
  const crashed = decideFailover({ kind: 'state', state: 'crashed' }, false, names);
  assert.equal(crashed.source, 'crashed');
  assert.match(crashed.note, /writes the copy never saw/);
  assert.equal(decideFailover({ kind: 'absent' }, false, names).source, 'absent');
});

test('split brain: an unreachable source is refused unless --force, which is recorded as unreachable', () => {
  const probe: SourceProbe = { kind: 'unreachable', reason: 'hosta: connection refused' };
  assert.throws(() => decideFailover(probe, false, names), refusal(/hosta cannot be reached \(hosta: connection refused\).*kvmctl failover r1 --force/));
  const forced = decideFailover(probe, true, names);
  assert.equal(forced.source, 'unreachable');
  assert.match(forced.note, /on --force/);
});

test('failback asks before overwriting an original that crashed, was unreachable, or whose failover is unknown', () => {
  const replica = { vm: 'web1', from: 'hosta', destVm: 'web1', to: 'hostb' };
  const at = '2025-05-01T10:00:00.000Z';
  const base = { replica: 'r1', operationId: 'op', at, point: null, pausedBefore: false, checkpoint: null, noCheckpoint: '' };
  assert.equal(overwriteWarning(replica, { ...base, source: 'shutoff' }, at).ask, false);
  assert.match(overwriteWarning(replica, { ...base, source: 'shutoff' }, at).text, /anything it wrote after the copy's last sync \(2025-05-01T10:00:00.000Z\) is lost/);
  assert.equal(overwriteWarning(replica, { ...base, source: 'absent' }, undefined).ask, false);
  for (const source of ['crashed', 'unreachable'] as const) {
    const w = overwriteWarning(replica, { ...base, source }, at);
    assert.equal(w.ask, true);
    assert.match(w.text, /may hold writes web1 never saw/);
  }
  assert.match(overwriteWarning(replica, undefined, undefined).text, /how the failover left it is not recorded/);
  assert.equal(overwriteWarning(replica, undefined, undefined).ask, true);
});

async function withStores(body: (s: { ops: OperationStore; replicas: ReplicaStore; failovers: FailoverStore }) => Promise<void> | void): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'failover-state-'));
  const ops = new OperationStore(join(dir, 'history.sqlite'));
  try {
    await body({ ops, replicas: new ReplicaStore(ops.database), failovers: new FailoverStore(ops.database) });
  } finally {
    ops.close();
    await rm(dir, { recursive: true, force: true });
  }
}

test('roles: failover sets reverse, failed-over, paused; failback restores them; the records come and go (a stale one is replaced); the tables open again', () =>
  withStores(({ ops, replicas, failovers }) => {
    replicas.add(spec);
    const failedOver = replicas.setRoles('r1', { direction: 'reverse', lifecycle: 'failed-over', paused: true });
    assert.deepEqual([failedOver.direction, failedOver.lifecycle, failedOver.paused], ['reverse', 'failed-over', true]);
    failovers.recordFailover({
      replica: 'r1',
      operationId: 'op0',
      at: 'before',
      source: 'shutoff',
      point: null,
      pausedBefore: false,
      checkpoint: 'kvmclone.r0123456789abcd.1',
      noCheckpoint: '',
    });
    assert.equal(failovers.failover('r1')?.checkpoint, 'kvmclone.r0123456789abcd.1');
    const noCheckpoint = 'the failover made no checkpoint: the source could not be reached';
    failovers.recordFailover({ replica: 'r1', operationId: 'op1', at: 'now', source: 'unreachable', point: 'p1', pausedBefore: true, checkpoint: null, noCheckpoint });
    assert.deepEqual(new FailoverStore(ops.database).failover('r1'), {
      replica: 'r1',
      operationId: 'op1',
      at: 'now',
      source: 'unreachable',
      point: 'p1',
      pausedBefore: true,
      checkpoint: null,
      noCheckpoint,
    });
    const back = replicas.setRoles('r1', { direction: 'forward', lifecycle: 'active', paused: false });
    assert.deepEqual([back.direction, back.lifecycle, back.paused], ['forward', 'active', false]);
    failovers.clearFailover('r1');
    assert.equal(failovers.failover('r1'), undefined);
    failovers.recordDrill({ replica: 'r1', operationId: 'op3', at: 'now', host: 'hostb', vm: 'web1-drill', uuid: 'u' });
    assert.equal(failovers.drill('r1')?.uuid, 'u');
    failovers.clearDrill('r1');
    assert.equal(failovers.drill('r1'), undefined);
  }));

/** Deps whose hosts must never be reached: the refusals below come first. */
function offlineDeps(ops: OperationStore, replicas: ReplicaStore, failovers: FailoverStore): RecoveryDeps {
  const engine = new Proxy({}, { get: () => () => assert.fail('a host was reached') }) as SshEngine;
  const reporter = new Proxy({}, { get: () => () => undefined }) as Reporter;
  return { engine, options: {} as ControllerOptions, reporter, store: ops, signal: new AbortController().signal, replicas, failovers, yes: true, json: true };
}

test('refusals before any host: failover of a copy never made or already failed over, failback of an active replica, a second drill', () =>
  withStores(async ({ ops, replicas, failovers }) => {
    const deps = offlineDeps(ops, replicas, failovers);
    replicas.add(spec);
    await assert.rejects(runFailover({ replica: 'r1', force: false }, deps), refusal(/has no copy yet/));
    await assert.rejects(runDrill({ replica: 'r1', network: false }, deps), refusal(/has no copy yet/));
    await assert.rejects(runFailback({ replica: 'r1', switchBack: false, shutdownSeconds: 1 }, deps), refusal(/is not failed over/));
    replicas.recordRun(
      {
        replica: 'r1',
        operationId: null,
        kind: 'clone',
        startedAt: 'a',
        finishedAt: 'b',
        seconds: 1,
        bytesOnWire: 0,
        delta: 'full',
        outcome: 'succeeded',
        errorCode: null,
        errorMessage: null,
      },
      { consecutiveFailures: 0, nextAttemptAt: null, lastError: null, seededAt: 'a' },
    );
    failovers.recordDrill({ replica: 'r1', operationId: 'op', at: 'then', host: 'hostb', vm: 'web1-drill', uuid: 'u' });
    await assert.rejects(
      runDrill({ replica: 'r1', network: false }, deps),
      (e: unknown) => e instanceof KvmcloneError && e.code === 'FAILED_PRECONDITION' && /--test --cleanup/.test(e.message),
    );
    replicas.setRoles('r1', { direction: 'reverse', lifecycle: 'failed-over', paused: true });
    await assert.rejects(runFailover({ replica: 'r1', force: true }, deps), refusal(/failed over already: .*kvmctl failback r1/));
    await assert.rejects(runFailover({ replica: 'nope', force: true }, deps), (e: unknown) => e instanceof KvmcloneError && e.code === 'NOT_FOUND');
    assert.deepEqual(ops.list(), [], 'nothing was recorded as an operation');
    assert.equal(replicas.get('r1').claim, null, 'no claim is left behind');
  }));

test('drill name, flag combinations, nested errors', () => {
  assert.equal(drillName('web1'), 'web1-drill');
  assert.equal(flagConflict({ test: true, network: true }), undefined);
  assert.equal(flagConflict({ test: true, cleanup: true }), undefined);
  assert.equal(flagConflict({ point: 'abcd', force: true }), undefined);
  assert.match(flagConflict({ test: true, point: 'abcd' }) ?? '', /--point and --force do not apply/);
  assert.match(flagConflict({ test: true, cleanup: true, network: true }) ?? '', /--network does not apply/);
  assert.match(flagConflict({ cleanup: true }) ?? '', /go with --test/);
  const refused = nestedError({ ok: false, error: { code: 'FAILED_PRECONDITION', message: 'web1 runs' } }, 'x');
  assert.deepEqual([refused.code, refused.message], ['FAILED_PRECONDITION', 'web1 runs']);
  assert.deepEqual([nestedError(undefined, 'sync failed').code, nestedError({ error: { code: 'BOGUS' } }, 'y').message], ['INTERNAL', 'y']);
});
