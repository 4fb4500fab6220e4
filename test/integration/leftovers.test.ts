/**
 * Leftovers with a real agent process (libvirt's test driver): a WriteRanges
 * cut off by SIGKILL of its agent leaves a staging file that names its
 * operation; the restarted agent keeps it (a rerun resumes from it) but
 * sweeps a dead peer socket; ListLeftovers (read-only socket) lists it with
 * its operation id and age beside planted journals, a peer socket, a scratch
 * file and a held lock, each marked running or not; RemoveLeftovers with
 * dry_run changes nothing, with an age limit keeps the young, and then
 * removes only what belongs to operations that are not running — never the
 * open WriteRanges' staging file, a committed journal or the lock.
 *
 * Starts agents: run under the testbed lock
 * (flock /tmp/kvmclone-testbed.lock node --test dist/test/integration/leftovers.test.js).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { access, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { createAgentClients, unaryCall, type AgentClients } from '../../shared/agent-clients.js';
import { chunkHash } from '../../shared/block-hash.js';
import type { Leftover__Output } from '../../shared/generated/kvmclone/agent/v1/Leftover.js';
import type { WriteRangesRequest } from '../../shared/generated/kvmclone/agent/v1/WriteRangesRequest.js';
import { JournalWriter } from '../../agent/transfer/journal-writer.js';
import { spawnAgent, waitForSocket, type AgentProcess } from '../support/agent-process.js';
import { rejectsWithStatus } from '../support/grpc-status.js';

const KILLED = 'op-killed-00000001';
const RUNNING = 'op-running-0000002';
const LOCKER = 'op-locker-00000003';
const DEADLINE = { deadlineMs: 15_000 };

let dir: string;
let images: string;
let socket: string;
let roSocket: string;
let forward: string;
let agent: AgentProcess | undefined;
const open: grpc.ClientWritableStream<WriteRangesRequest>[] = [];
const streams: grpc.ClientReadableStream<unknown>[] = [];
const clients: AgentClients[] = [];

async function startAgent(): Promise<AgentProcess> {
  const a = spawnAgent(['--socket', socket, '--ro-socket', roSocket, '--images-root', images, '--libvirt-uri', 'test:///default', '--audit-file', join(dir, 'audit.log')]);
  await waitForSocket(a, socket);
  await waitForSocket(a, roSocket);
  // The forward directory is made (and swept) after the sockets are bound, before the agent says it is ready.
  for (let i = 0; i < 300 && !a.output.some((l) => l.includes('"agent ready"')); i += 1) await sleep(50);
  return a;
}

function client(path: string, operationId?: string): AgentClients {
  const c = createAgentClients(`unix:${path}`, {}, operationId);
  clients.push(c);
  return c;
}

/** Opens a WriteRanges of `operationId` into `target`, sends one chunk, and leaves the stream open. */
async function openWrite(operationId: string, target: string): Promise<void> {
  const c = client(socket, operationId);
  const call = c.disk.writeRanges(new grpc.Metadata(), { deadline: Date.now() + 120_000 }, () => undefined);
  call.on('error', () => undefined);
  open.push(call);
  const data = Buffer.alloc(65536, 7);
  call.write({ open: { targetPath: target, size: 1 << 20 } });
  call.write({ data: { offset: 0, data, hash: chunkHash(data) } });
  // Returns once the staging file exists and holds the first block (the agent wrote it), so a kill after this
  // leaves a staging file with data in it.
  for (let i = 0; i < 200; i += 1) {
    const name = (await readdir(images)).find((n) => n.startsWith(`.${target.split('/').pop() as string}.`) && n.endsWith('.kvmclone-staging'));
    if (name !== undefined && (await stat(join(images, name))).blocks * 512 >= data.length) return;
    await sleep(25);
  }
  throw new Error(`no staging file with its first block for ${target}`);
}

/** A unix socket file nobody listens on (bound, never listened, process gone): what a dead sshd leaves. */
function deadSocket(path: string): void {
  execFileSync('python3', ['-c', 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])', path]);
}

async function list(): Promise<Leftover__Output[]> {
  const c = client(roSocket);
  return (await unaryCall(c.transfer, c.transfer.listLeftovers, {}, DEADLINE)).leftovers;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

function byPath(all: Leftover__Output[], path: string): Leftover__Output {
  const l = all.find((x) => x.path === path);
  assert.ok(l, `${path} is listed: ${JSON.stringify(all.map((x) => x.path))}`);
  return l;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvmclone-leftovers-'));
  images = join(dir, 'images');
  socket = join(dir, 'run', 'agent.sock');
  roSocket = join(dir, 'run', 'agent-ro.sock');
  forward = join(dir, 'run', 'forward');
  await mkdir(images);
});

after(async () => {
  for (const s of open) s.cancel();
  for (const s of streams) s.cancel();
  for (const c of clients) c.close();
  if (agent !== undefined && agent.child.exitCode === null) {
    agent.child.kill('SIGTERM');
    await agent.exited;
  }
  await rm(dir, { recursive: true, force: true });
});

test('a WriteRanges killed with its agent leaves a staging file naming its operation; the restarted agent keeps it and sweeps dead sockets', async () => {
  agent = await startAgent();
  await openWrite(KILLED, join(images, 'killed.img'));
  agent.child.kill('SIGKILL');
  await agent.exited;
  open.splice(0).forEach((s) => s.cancel());
  const staging = (await readdir(images)).filter((n) => n.endsWith('.kvmclone-staging'));
  assert.equal(staging.length, 1);
  deadSocket(join(forward, `peer-${KILLED}.sock`));

  agent = await startAgent();
  // Start-up: the staging file stays (the same rerun resumes from it), the dead peer socket goes.
  assert.deepEqual(
    (await readdir(images)).filter((n) => n.endsWith('.kvmclone-staging')),
    staging,
  );
  assert.equal(await exists(join(forward, `peer-${KILLED}.sock`)), false);
  assert.ok(
    agent.output.some((line) => line.includes('kept at start-up') && line.includes(KILLED)),
    'start-up says what it kept and whose it is',
  );
  const l = byPath(await list(), join(images, staging[0]));
  assert.equal(l.kind, 'LEFTOVER_KIND_STAGING');
  assert.equal(l.operationId, KILLED);
  assert.equal(l.running, false);
  assert.equal(l.keepReason, '');
  assert.ok(l.sizeBytes >= 65536, `allocated ${l.sizeBytes}`);
});

/** What plantLeftovers left, by path. */
interface Planted {
  killedStaging: string;
  runningStaging: string;
  deadPeer: string;
  runningPeer: string;
  scratch: string;
  half: string;
  done: string;
  unrelated: string;
}

/** The leftovers of the listing test: the killed write's staging file, a running write, a held lock, and planted ones. */
async function plantLeftovers(): Promise<Planted> {
  const killedStaging = join(images, (await readdir(images)).find((n) => n.endsWith('.kvmclone-staging')) as string);
  // A running operation: its WriteRanges stays open, and its own dead-looking peer socket is its too.
  await openWrite(RUNNING, join(images, 'running.img'));
  const runningStaging = join(images, (await readdir(images)).find((n) => n.startsWith('.running.img.')) as string);
  // A held lock.
  const lc = client(socket, LOCKER);
  const lock = lc.transfer.holdLock({ vmName: 'web', operationId: LOCKER, purpose: 'test' }, { deadline: Date.now() + 120_000 });
  lock.on('error', () => undefined);
  streams.push(lock);
  await new Promise((resolve) => lock.once('data', resolve));
  // Planted: a dead peer socket of a dead operation and one of the running operation, a scratch file, journals.
  const deadPeer = join(forward, 'peer-op-dead-000000004.sock');
  const runningPeer = join(forward, `peer-${RUNNING}.sock`);
  deadSocket(deadPeer);
  deadSocket(runningPeer);
  const scratch = join(images, '.kvmclone-scratch.op-live-00000005.vda.qcow2');
  await writeFile(scratch, 'scratch');
  await writeFile(join(images, 'half.img'), Buffer.alloc(4096));
  const half = join(images, '.half.img.kvmclone-journal');
  await writeFile(half, 'KVMCJNL\0 torn');
  await writeFile(join(images, 'done.img'), Buffer.alloc(4096));
  const committed = await JournalWriter.create(join(images, '.done.img.kvmclone-journal'), join(images, 'done.img'));
  const st = await stat(join(images, 'done.img'), { bigint: true });
  await committed.begin({ dev: st.dev, ino: st.ino, size: 4096 });
  await committed.addData(0, Buffer.alloc(4096, 1), chunkHash(Buffer.alloc(4096, 1)));
  await committed.commit();
  await committed.close();
  const done = join(images, '.done.img.kvmclone-journal');
  const unrelated = join(images, 'keep-me.img');
  await writeFile(unrelated, 'an image');
  return { killedStaging, runningStaging, deadPeer, runningPeer, scratch, half, done, unrelated };
}

/** The listing of what plantLeftovers left: images never, each leftover with its kind, operation, running state and age. */
async function checkListing(planted: Planted): Promise<void> {
  const { runningStaging, deadPeer, runningPeer, scratch, half, done, unrelated } = planted;
  const all = await list();
  assert.equal(
    all.some((l) => l.path === unrelated || l.path.endsWith('half.img') || l.path.endsWith('done.img')),
    false,
    'images are never listed',
  );
  assert.deepEqual(
    { kind: byPath(all, runningStaging).kind, op: byPath(all, runningStaging).operationId, running: byPath(all, runningStaging).running },
    { kind: 'LEFTOVER_KIND_STAGING', op: RUNNING, running: true },
  );
  assert.match(byPath(all, runningStaging).keepReason, new RegExp(`operation ${RUNNING} is still running`));
  assert.equal(byPath(all, runningPeer).running, true);
  assert.equal(byPath(all, deadPeer).kind, 'LEFTOVER_KIND_PEER_SOCKET');
  assert.equal(byPath(all, deadPeer).operationId, 'op-dead-000000004');
  assert.equal(byPath(all, deadPeer).running, false);
  assert.equal(byPath(all, scratch).kind, 'LEFTOVER_KIND_SCRATCH');
  assert.equal(byPath(all, half).committed, false);
  assert.equal(byPath(all, done).committed, true);
  assert.match(byPath(all, done).keepReason, /will be applied at the next sync or agent start/);
  const held = byPath(all, 'web');
  assert.deepEqual({ kind: held.kind, op: held.operationId, running: held.running }, { kind: 'LEFTOVER_KIND_LOCK', op: LOCKER, running: true });
  for (const l of all) assert.ok(l.ageSeconds >= 0 && l.ageSeconds < 600, `${l.path} age ${l.ageSeconds}`);
}

test('listed with kind, operation, age and running; dry run and age limit remove nothing; then only what is not running goes', async () => {
  const planted = await plantLeftovers();
  await checkListing(planted);
  const { killedStaging, runningStaging, deadPeer, runningPeer, scratch, half, done, unrelated } = planted;

  const admin = client(socket);
  const removable = [killedStaging, deadPeer, scratch, half].sort();
  const dry = await unaryCall(admin.transfer, admin.transfer.removeLeftovers, { dryRun: true }, DEADLINE);
  assert.deepEqual(dry.removed.map((l) => l.path).sort(), removable);
  for (const p of [...removable, runningStaging, runningPeer, done]) assert.equal(await exists(p), true, `dry run left ${p}`);

  const young = await unaryCall(admin.transfer, admin.transfer.removeLeftovers, { minAgeSeconds: 3600 }, DEADLINE);
  assert.deepEqual(young.removed, []);
  assert.match(young.kept.find((l) => l.path === killedStaging)?.keepReason ?? '', /younger than the age limit/);
  for (const p of removable) assert.equal(await exists(p), true);

  // The read-only socket lists but never removes.
  const ro = client(roSocket);
  await rejectsWithStatus(unaryCall(ro.transfer, ro.transfer.removeLeftovers, {}, DEADLINE), 'PERMISSION_DENIED');

  const res = await unaryCall(admin.transfer, admin.transfer.removeLeftovers, {}, DEADLINE);
  assert.deepEqual(res.removed.map((l) => l.path).sort(), removable);
  for (const p of removable) assert.equal(await exists(p), false, `${p} removed`);
  for (const p of [runningStaging, runningPeer, done, unrelated, join(images, 'half.img')]) assert.equal(await exists(p), true, `${p} kept`);
  assert.deepEqual(res.kept.map((l) => l.path).sort(), [done, runningPeer, runningStaging, 'web'].sort());

  // The running write is unharmed: it still commits its stream.
  const last = await list();
  assert.deepEqual(last.map((l) => l.path).sort(), [done, runningPeer, runningStaging, 'web'].sort());
});

test('a negative age limit is refused and removes nothing', async () => {
  const admin = client(socket);
  const msg = await rejectsWithStatus(unaryCall(admin.transfer, admin.transfer.removeLeftovers, { minAgeSeconds: -1 }, DEADLINE), 'INVALID_ARGUMENT');
  assert.match(msg, /min_age_seconds/);
  assert.equal((await list()).length, 4);
});

/** A whole WriteRanges of `operationId` (open and one chunk), ended; resolves with the staging id. */
function writeOnce(operationId: string, target: string, stagingId = ''): Promise<string> {
  const c = client(socket, operationId);
  return new Promise((resolve, reject) => {
    const call = c.disk.writeRanges(new grpc.Metadata(), { deadline: Date.now() + 30_000 }, (err, res) =>
      err ? reject(err) : res ? resolve(res.stagingId) : reject(new Error('WriteRanges answered nothing')),
    );
    const data = Buffer.alloc(65536, 9);
    call.write({ open: { targetPath: target, size: 1 << 20, stagingId } });
    call.write({ data: { offset: 65536, data, hash: chunkHash(data) } });
    call.end();
  });
}

test('a resumed staging file names the operation that resumed it', async () => {
  const target = join(images, 'resumed.img');
  const id = await writeOnce('op-first-00000006', target);
  const path = join(images, `.resumed.img.${id}.kvmclone-staging`);
  assert.equal(byPath(await list(), path).operationId, 'op-first-00000006');
  assert.equal(await writeOnce('op-second-0000007', target, id), id);
  assert.equal(byPath(await list(), path).operationId, 'op-second-0000007');
  const admin = client(socket);
  const res = await unaryCall(admin.transfer, admin.transfer.removeLeftovers, {}, DEADLINE);
  assert.deepEqual(
    res.removed.map((l) => l.path),
    [path],
  );
});
