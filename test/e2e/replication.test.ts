/**
 * Replication on the testbed: a replica every 20 s driven by `kvmctl
 * replicate --due` — the first run clones, a later one syncs only what
 * changed; status shows lag and next run and its exit code follows the RPO
 * (with `replication.grace` 5 s); replicate skips a replica another live
 * process has claimed; the destination's agent stopped counts failures, backs
 * off and fires the webhook (a local HTTP listener) once, and the run after
 * it is back fires `recovered`; `replica rm --delete-copy` refuses a running
 * copy and removes a shut-off one.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { kvmctl, writeKvmctlConfig } from '../support/kvmctl.js';
import { OperationStore } from '../../controller/history/operation-store.js';
import { currentProcess } from '../../controller/replication/process-identity.js';
import { ReplicaStore } from '../../controller/replication/replica-store.js';
import { hostAgent, hostDown, hostExec, hostImagesDir, hostUp, IMAGES } from '../support/testbed.js';
import { makeTwoDiskVm } from '../support/two-disk-vm.js';

const run = promisify(execFile);
const VM = 'vm12';
let state: string;
let server: Server;
const hooks: { event: string; replica: string; consecutiveFailures: number; lastError: string | null; lagSeconds: number }[] = [];

const ctl = (args: string[]) => kvmctl(['--json', ...args], { stateDir: state });
const statusOf = (out: { result?: Record<string, unknown> | undefined }) => (out.result?.replicas as Record<string, unknown>[] | undefined)?.[0] ?? {};

before(async () => {
  await Promise.all(['hosta', 'hostb'].map(hostDown));
  await hostUp('hosta', 1);
  await hostUp('hostb', 2);
  state = await mkdtemp(join(tmpdir(), 'kvmclone-replication-e2e-'));
  server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8').on('data', (s: string) => (text += s));
    req.on('end', () => {
      hooks.push(JSON.parse(text) as (typeof hooks)[number]);
      res.writeHead(204).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/kvmclone`;
  // A stopped agent does not come back within a run: one quick reconnect, then the failure.
  await writeKvmctlConfig(state, `retry:\n  attempts: 1\n  base_delay: 100ms\n  max_delay: 100ms\nreplication:\n  grace: 5s\nnotify:\n  webhook: ${url}\n  timeout: 3s\n`);
  await makeTwoDiskVm('hosta', VM, { rawGiB: 1, dataMiB: 24 });
});

after(async () => {
  await Promise.all(['hosta', 'hostb'].map(hostDown));
  server.close();
  await rm(state, { recursive: true, force: true });
});

async function changeSource(seed: number): Promise<void> {
  await hostExec('hosta', [
    'bash',
    '-c',
    `set -e; cd ${IMAGES}; for i in 0 1 2 3; do dd if=/dev/urandom of=${VM}-data.raw bs=64K count=1 seek=$(( (${seed} + i * 977) % 16000 )) conv=notrunc status=none; done; sync`,
  ]);
}

/** Adds the replica; its first due run is a clone, and the copy is equal. */
async function addAndClone(): Promise<Record<string, unknown> | undefined> {
  const add = await ctl(['replica', 'add', 'r12', '--vm', VM, '--from', 'hosta', '--to', 'hostb', '--every', '20s', '--keep', '2']);
  assert.equal(add.code, 0, add.stdout + add.stderr);

  // First run: a clone.
  const first = await ctl(['replicate', '--due']);
  assert.equal(first.code, 0, first.stdout.slice(-3000) + first.stderr);
  const [clone] = first.result?.runs as Record<string, unknown>[];
  assert.equal(clone?.kind, 'clone');
  assert.equal(clone?.outcome, 'succeeded');
  assert.equal(clone?.delta, 'full');
  await run('cmp', [join(hostImagesDir('hosta'), `${VM}-data.raw`), join(hostImagesDir('hostb'), `${VM}-data.raw`)]);
  return clone;
}

/** Not due again yet (unless the clone itself took the whole interval); returns when the next run is due. */
async function notDueYet(clone: Record<string, unknown> | undefined): Promise<number> {
  const due = Date.parse(String(clone?.startedAt)) + 20_000;
  if (Date.now() < due - 3000) {
    const early = await ctl(['replicate', '--due']);
    assert.equal(early.code, 0);
    assert.deepEqual(early.result?.runs, []);
    assert.equal((early.result?.skipped as { reason: string }[])[0]?.reason, 'not-due');
  }
  return due;
}

/** A change, then the next due run syncs only it. */
async function syncTheChange(due: number): Promise<Record<string, unknown> | undefined> {
  await changeSource(101);
  await sleep(Math.max(0, due - Date.now() + 200));
  const second = await ctl(['replicate', '--due']);
  assert.equal(second.code, 0, second.stdout.slice(-3000) + second.stderr);
  const [sync] = second.result?.runs as Record<string, unknown>[];
  assert.equal(sync?.kind, 'sync');
  assert.equal(sync?.delta, 'hash');
  assert.ok(Number(sync?.bytesOnWire) > 0 && Number(sync?.bytesOnWire) <= 8 * 65536, `only the changed blocks: ${String(sync?.bytesOnWire)}`);
  assert.match(String(sync?.operationId), /^[0-9a-f-]{36}$/);
  await run('cmp', [join(hostImagesDir('hosta'), `${VM}-data.raw`), join(hostImagesDir('hostb'), `${VM}-data.raw`)]);
  return sync;
}

/** Status: within the RPO now (exit 0), with the figures; the prometheus file is written. */
async function statusWithinRpo(sync: Record<string, unknown> | undefined): Promise<void> {
  const prom = join(state, 'kvmclone.prom');
  const fresh = await ctl(['status', '--prometheus', prom]);
  assert.equal(fresh.code, 0, fresh.stdout);
  const s = statusOf(fresh);
  assert.equal(s.state, 'ok');
  assert.ok(Number(s.lagSeconds) < 25);
  assert.equal(s.rpoSeconds, 20);
  assert.equal((s.lastSync as { operationId?: string }).operationId, sync?.operationId);
  assert.equal(s.nextRunAt, new Date(Date.parse(String(sync?.startedAt)) + 20_000).toISOString());
  assert.match(await readFile(prom, 'utf8'), /^kvmclone_replica_lag_seconds\{replica="r12",vm="vm12",to="hostb"\} \d+$/m);
  assert.equal(hooks.length, 0, 'nothing to tell yet');
}

/** Past 20 s + 5 s grace with no run: late, exit 1, rpo-breached notified once. */
async function lateAndNotified(sync: Record<string, unknown> | undefined): Promise<void> {
  await sleep(Math.max(0, Date.parse(String(sync?.startedAt)) + 26_000 - Date.now()));
  const late = await ctl(['status']);
  assert.equal(late.code, 1, late.stdout);
  assert.equal(statusOf(late).state, 'late');
  assert.equal((await ctl(['status'])).code, 1);
  assert.deepEqual(
    hooks.map((h) => h.event),
    ['rpo-breached'],
  );
}

/** Another kvmctl holding the replica (this test process, as its claim says): replicate skips it, rm refuses it. */
async function busySkipped(): Promise<void> {
  const db = new OperationStore(join(state, 'kvmclone', 'history.sqlite'));
  try {
    const replicas = new ReplicaStore(db.database);
    assert.deepEqual(replicas.claim('r12', currentProcess()), { claimed: true });
    const skipped = await ctl(['replicate', 'r12']);
    assert.equal(skipped.code, 0, skipped.stdout);
    assert.deepEqual(skipped.result?.runs, []);
    assert.equal((skipped.result?.skipped as { reason: string }[])[0]?.reason, 'busy');
    const rmBusy = await ctl(['replica', 'rm', 'r12']);
    assert.equal(rmBusy.code, 3, rmBusy.stdout);
    replicas.release('r12', currentProcess());
  } finally {
    db.close();
  }
}

/** The destination's agent stopped: the run fails (exit 1), is counted and backs off; `failed` fires once. */
async function failuresBackOff(): Promise<void> {
  await hostAgent('hostb', 'stop');
  try {
    const failing = await ctl(['replicate', 'r12']);
    assert.equal(failing.code, 1, failing.stdout.slice(-2000));
    const [failed] = failing.result?.runs as Record<string, unknown>[];
    assert.equal(failed?.outcome, 'failed');
    assert.equal(failed?.consecutiveFailures, 1);
    const backoff = Date.parse(String(failed?.nextAttemptAt)) - Date.parse(String(failed?.finishedAt));
    assert.equal(backoff, 60_000, 'the first failure waits a minute');
    const waiting = await ctl(['replicate', '--due']);
    assert.equal(waiting.code, 0);
    assert.deepEqual(waiting.result?.runs, [], 'backing off: not due');
    assert.match(String((waiting.result?.skipped as { detail: string }[])[0]?.detail), /backing off after 1 failure/);
    const again = await ctl(['replicate', 'r12']);
    assert.equal(again.code, 1);
    const st = await ctl(['status']);
    assert.equal(statusOf(st).state, 'failing');
    assert.equal(statusOf(st).consecutiveFailures, 2);
    assert.ok(String(statusOf(st).lastError).length > 0);
  } finally {
    await hostAgent('hostb', 'start');
  }
  assert.deepEqual(
    hooks.map((h) => h.event),
    ['rpo-breached', 'failed'],
    'failed fires once for the streak; the breach was told already',
  );
  assert.equal(hooks[1]?.consecutiveFailures, 1);
  assert.ok(hooks[1]?.lastError);
}

/** Back: the next run succeeds and `recovered` fires. */
async function recovers(): Promise<void> {
  const back = await ctl(['replicate', 'r12']);
  assert.equal(back.code, 0, back.stdout.slice(-2000));
  assert.deepEqual(
    hooks.map((h) => h.event),
    ['rpo-breached', 'failed', 'recovered'],
  );
  const ok = await ctl(['status']);
  assert.equal(ok.code, 0);
  assert.equal(statusOf(ok).consecutiveFailures, 0);
  await run('cmp', [join(hostImagesDir('hosta'), `${VM}-data.raw`), join(hostImagesDir('hostb'), `${VM}-data.raw`)]);
}

/** rm --delete-copy: refused while the copy runs, then removes it. */
async function removeWithCopy(): Promise<void> {
  await hostExec('hostb', ['virsh', '-c', 'qemu:///system', 'start', VM]);
  try {
    const refused = await ctl(['replica', 'rm', 'r12', '--delete-copy']);
    assert.equal(refused.code, 3, refused.stdout);
    assert.match(String((refused.result?.error as { message?: string }).message), /is running: a running copy is not deleted/);
  } finally {
    await hostExec('hostb', ['virsh', '-c', 'qemu:///system', 'destroy', VM]);
  }
  const removed = await ctl(['replica', 'rm', 'r12', '--delete-copy']);
  assert.equal(removed.code, 0, removed.stdout);
  assert.ok((removed.result?.copy as { removedPaths: string[] }).removedPaths.includes(`${IMAGES}/${VM}-data.raw`));
  await assert.rejects(access(join(hostImagesDir('hostb'), `${VM}-data.raw`)), "the copy's disk is gone");
  assert.doesNotMatch(await hostExec('hostb', ['virsh', '-c', 'qemu:///system', 'list', '--all', '--name']), /^vm12$/m, 'the copy is undefined');
  const list = await ctl(['replica', 'list']);
  assert.deepEqual(list.result?.replicas, []);
}

test('a replica on a schedule: clone, sync, status and RPO, busy skip, failures, webhook, recovery, rm --delete-copy', async () => {
  const clone = await addAndClone();
  const due = await notDueYet(clone);
  const sync = await syncTheChange(due);
  await statusWithinRpo(sync);
  await lateAndNotified(sync);
  await busySkipped();
  await failuresBackOff();
  await recovers();
  await removeWithCopy();
});
