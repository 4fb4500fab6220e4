/**
 * Status: lag from the last success's start (or the creation), late past
 * interval plus grace, state precedence, the exit rule; the prometheus text
 * (names, labels escaped, no sample without a sync) and its atomic write.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { escapeLabel, prometheusText, writeAtomically } from '../../controller/replication/prometheus-text.js';
import type { Replica, ReplicaRun } from '../../controller/replication/replica-store.js';
import { allWithinRpo, replicaStatus } from '../../controller/replication/replica-status.js';
import { sampleReplicaSpec } from './support/sample-replica.js';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const iso = (ms: number): string => new Date(ms).toISOString();
const replica = (over: Partial<Replica> = {}): Replica => ({
  ...sampleReplicaSpec({ everySeconds: 600 }),
  paused: false,
  direction: 'forward',
  lifecycle: 'active',
  createdAt: iso(T0),
  updatedAt: iso(T0),
  seededAt: iso(T0),
  consecutiveFailures: 0,
  nextAttemptAt: null,
  lastError: null,
  alerts: { failing: false, breached: false },
  claim: null,
  ...over,
});
const run = (startMs: number): ReplicaRun => ({
  replica: 'web1',
  operationId: 'op-9',
  kind: 'sync',
  startedAt: iso(startMs),
  finishedAt: iso(startMs + 30_000),
  seconds: 30,
  bytesOnWire: 1_048_576,
  delta: 'hash',
  outcome: 'succeeded',
  errorCode: null,
  errorMessage: null,
});
const GRACE = 120_000;

test('lag, RPO, state and next run', () => {
  const last = run(T0 + 60_000);
  const ok = replicaStatus(replica(), last, T0 + 60_000 + 700_000, GRACE);
  assert.equal(ok.lagSeconds, 700);
  assert.equal(ok.withinRpo, true, '700 s <= 600 s + 120 s grace');
  assert.equal(ok.state, 'ok');
  assert.equal(ok.nextRunAt, iso(T0 + 60_000 + 600_000));
  assert.deepEqual(ok.lastSync, { at: iso(T0 + 60_000), operationId: 'op-9', kind: 'sync', seconds: 30, bytesOnWire: 1_048_576, delta: 'hash' });
  const late = replicaStatus(replica(), last, T0 + 60_000 + 721_000, GRACE);
  assert.equal(late.state, 'late');
  assert.equal(late.withinRpo, false);
  const never = replicaStatus(replica({ seededAt: null }), undefined, T0 + 30_000, GRACE);
  assert.equal(never.lagSeconds, 30, 'never synced: lag since the replica was added');
  assert.equal(never.lastSync, null);
  assert.equal(never.nextRunAt, iso(T0));
  const failing = replicaStatus(replica({ consecutiveFailures: 2, nextAttemptAt: iso(T0 + 999_000), lastError: 'boom' }), last, T0 + 2_000_000, GRACE);
  assert.equal(failing.state, 'failing', 'failing is said before late');
  assert.equal(failing.withinRpo, false);
  assert.equal(failing.nextRunAt, iso(T0 + 999_000), 'the backoff decides the next run');
  const paused = replicaStatus(replica({ paused: true }), last, T0 + 9_000_000, GRACE);
  assert.equal(paused.state, 'paused');
  assert.equal(paused.nextRunAt, null);
  assert.equal(replicaStatus(replica({ lifecycle: 'failed-over', paused: true }), last, T0, GRACE).state, 'failed-over');
  assert.equal(allWithinRpo([ok, paused]), true, 'a paused replica does not count');
  assert.equal(allWithinRpo([ok, late]), false);
  assert.equal(allWithinRpo([]), true);
});

test('prometheus text: gauges with HELP/TYPE, escaped labels, no sample without a value', () => {
  const a = replicaStatus(replica({ name: 'web"1\\x' }), run(T0), T0 + 10_000, GRACE);
  const b = replicaStatus(replica({ name: 'db1', seededAt: null }), undefined, T0 + 5_000, GRACE);
  const text = prometheusText([a, b]);
  assert.equal(escapeLabel('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
  assert.match(text, /^# HELP kvmclone_replica_lag_seconds /m);
  assert.match(text, /^# TYPE kvmclone_replica_lag_seconds gauge$/m);
  assert.match(text, /^kvmclone_replica_lag_seconds\{replica="web\\"1\\\\x",vm="web1",to="hostb"\} 10$/m);
  assert.match(text, /^kvmclone_replica_lag_seconds\{replica="db1",vm="web1",to="hostb"\} 5$/m);
  assert.match(text, /^kvmclone_replica_last_duration_seconds\{replica="web\\"1\\\\x",[^}]*\} 30$/m);
  assert.match(text, /^kvmclone_replica_last_bytes\{replica="web\\"1\\\\x",[^}]*\} 1048576$/m);
  assert.match(text, /^kvmclone_replica_rpo_seconds\{replica="db1",[^}]*\} 600$/m);
  assert.match(text, /^kvmclone_replica_consecutive_failures\{replica="db1",[^}]*\} 0$/m);
  assert.match(text, /^kvmclone_replica_state\{replica="db1",vm="web1",to="hostb",state="ok"\} 1$/m);
  assert.doesNotMatch(text, /kvmclone_replica_last_bytes\{replica="db1"/, 'no sync yet: no sample');
  for (const line of text.trimEnd().split('\n')) assert.match(line, /^(# (HELP|TYPE) \S+ .+|[a-z_]+\{[^}]*\} -?[0-9.e+]+)$/, line);
});

test('the textfile is replaced atomically and no temporary file stays', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'prom-'));
  try {
    const file = join(dir, 'kvmclone.prom');
    await writeAtomically(file, 'a 1\n');
    await writeAtomically(file, 'a 2\n');
    assert.equal(await readFile(file, 'utf8'), 'a 2\n');
    assert.deepEqual(await readdir(dir), ['kvmclone.prom']);
    await assert.rejects(writeAtomically(join(dir, 'missing', 'x.prom'), 'a 1\n'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
