/**
 * Restore points between two real agent processes: in-place pulls with
 * keep_points leave undo records beside the image, ListRestorePoints shows
 * them, RestorePoint rolls the image back through them (each result equal,
 * byte for byte and by digest, to the source as it was then), and agents
 * SIGKILLed while a pull keeps its undo record, when its apply begins, or in
 * the middle of a restore settle consistently at their next start.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { createAgentClients, unaryCall, type AgentClients } from '../../shared/agent-clients.js';
import type { ByteRange } from '../../shared/generated/kvmclone/agent/v1/ByteRange.js';
import type { PullProgress__Output } from '../../shared/generated/kvmclone/agent/v1/PullProgress.js';
import type { RestorePointProgress__Output } from '../../shared/generated/kvmclone/agent/v1/RestorePointProgress.js';
import { journalPathFor } from '../../agent/transfer/journal-file.js';
import { undoNameFor } from '../../agent/transfer/restore-point-files.js';
import { rejectsWithStatus } from '../support/grpc-status.js';
import { PeerBroker } from '../support/peer-broker.js';
import { spawnAgent, waitForSocket, type AgentProcess } from '../support/agent-process.js';

const run = promisify(execFile);
const T = { deadlineMs: 60_000 };
const KiB = 1024;
const MiB = 1024 * 1024;
let dir: string;
let a: AgentClients;
let b: AgentClients;
let agentA: AgentProcess;
let agentB: AgentProcess;
let imagesA: string;
let imagesB: string;
let runB: string;
let peers: PeerBroker;

async function startAgent(name: string): Promise<{ agent: AgentProcess; clients: AgentClients }> {
  const runtime = join(dir, name, 'run');
  await mkdir(join(dir, name, 'images'), { recursive: true });
  const agent = spawnAgent(['--socket', join(runtime, 'agent.sock'), '--images-root', join(dir, name, 'images'), '--libvirt-uri', 'test:///default']);
  await waitForSocket(agent, join(runtime, 'agent.sock'));
  await waitForSocket(agent, join(runtime, 'peer.sock'));
  return { agent, clients: createAgentClients(`unix:${join(runtime, 'agent.sock')}`) };
}

/** SIGKILLs the destination agent (if still running) and starts a new one on the same directories. */
async function restartB(): Promise<void> {
  b.close();
  if (agentB.child.exitCode === null) agentB.child.kill('SIGKILL');
  await agentB.exited;
  ({ agent: agentB, clients: b } = await startAgent('b'));
  for (let i = 0; i < 300 && !agentB.output.some((l) => l.includes('agent ready')); i += 1) await sleep(50);
  assert.ok(
    agentB.output.some((l) => l.includes('agent ready')),
    `the restarted agent did not become ready:\n${agentB.output.join('\n')}`,
  );
}

/** A ticket on A for `paths` and a proxy of A's peer socket in B's runtime dir (test/support/peer-broker.ts). */
const broker = (...paths: string[]): Promise<{ peerSocket: string; ticket: string }> => peers.broker(...paths);

/** Runs an in-place pull of A's `name` into B's `name`; `onEvent` sees each message as it comes. */
async function pull(name: string, ranges: ByteRange[], extra: object, onEvent?: (e: PullProgress__Output) => void): Promise<PullProgress__Output[]> {
  const { peerSocket, ticket } = await broker(join(imagesA, name));
  const request = {
    peerSocket,
    ticket,
    sourcePath: join(imagesA, name),
    targetPath: join(imagesB, name),
    stagingId: '',
    operationId: randomUUID(),
    ranges,
    mode: 'PULL_MODE_IN_PLACE' as const,
    ...extra,
  };
  const call = b.transfer.pullImage(request, { deadline: Date.now() + 120_000 });
  const events: PullProgress__Output[] = [];
  return new Promise((resolve, reject) => {
    call.on('data', (e: PullProgress__Output) => {
      events.push(e);
      onEvent?.(e);
    });
    call.on('error', reject);
    call.on('end', () => resolve(events));
  });
}

/** Runs RestorePoint on B; `onEvent` sees each message. */
function restore(name: string, pointId: string, onEvent?: (e: RestorePointProgress__Output) => void): Promise<RestorePointProgress__Output[]> {
  const call = b.transfer.restorePoint({ targetPath: join(imagesB, name), pointId, destVm: '', operationId: randomUUID() }, { deadline: Date.now() + 120_000 });
  const events: RestorePointProgress__Output[] = [];
  return new Promise((resolve, reject) => {
    call.on('data', (e: RestorePointProgress__Output) => {
      events.push(e);
      onEvent?.(e);
    });
    call.on('error', reject);
    call.on('end', () => resolve(events));
  });
}

async function points(name: string): Promise<{ id: string; digest: string; sizeBytes: number; imageSize: number; label: string }[]> {
  const res = await unaryCall(b.transfer, b.transfer.listRestorePoints, { targetPath: join(imagesB, name) }, T);
  return res.points.map((p) => ({ id: p.id, digest: p.digest, sizeBytes: Number(p.sizeBytes), imageSize: Number(p.imageSize), label: p.label }));
}

async function sha256(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

async function sourceDigest(name: string): Promise<string> {
  return (await unaryCall(a.disk, a.disk.digestImage, { path: join(imagesA, name) }, T)).digest;
}

async function gone(path: string): Promise<boolean> {
  return stat(path).then(
    () => false,
    () => true,
  );
}

/** Writes random bytes into A's `name` at each [offset, length]; returns the ranges to pull. */
async function change(name: string, spans: [number, number][], size?: number): Promise<ByteRange[]> {
  const fh = await open(join(imagesA, name), 'r+');
  if (size !== undefined) await fh.truncate(size);
  for (const [offset, length] of spans) await fh.write(randomBytes(length), 0, length, offset);
  await fh.close();
  return spans.map(([offset, length]) => ({ offset, length }));
}

/** A new image at A (random data) and its copy at B. */
async function twin(name: string, size: number): Promise<void> {
  await writeFile(join(imagesA, name), randomBytes(size));
  await run('cp', ['--sparse=always', join(imagesA, name), join(imagesB, name)]);
}

/** The state of A's `name` now: sha256 and digest. */
async function sourceState(name: string): Promise<{ sha: string; digest: string }> {
  return { sha: await sha256(join(imagesA, name)), digest: await sourceDigest(name) };
}

/** Three syncs of known changes with keep 3 (one grows the image, one shrinks it); the source's states before each. */
async function threeSyncs(name: string): Promise<{ sha: string; digest: string }[]> {
  await twin(name, 8 * MiB);
  const states = [await sourceState(name)];
  const changes: [[number, number][], number | undefined][] = [
    [
      [
        [0, 64 * KiB],
        [3 * MiB, 200 * KiB],
      ],
      undefined,
    ],
    [
      [
        [5 * MiB, MiB],
        [9 * MiB, 512 * KiB],
      ],
      10 * MiB,
    ],
    [[[64 * KiB, 64 * KiB]], 6 * MiB],
  ];
  for (const [i, [spans, size]] of changes.entries()) {
    let ranges = await change(name, spans, size);
    // A resize comes with the changed tail: a grown tail is pulled, a shrink needs no range.
    if (size !== undefined && size > 8 * MiB) ranges = [...ranges.filter((r) => Number(r.offset) + Number(r.length) <= 8 * MiB), { offset: 8 * MiB, length: size - 8 * MiB }];
    if (size !== undefined && size < 8 * MiB) ranges = ranges.filter((r) => Number(r.offset) < size);
    const events = await pull(name, ranges, { keepPoints: 3, pointLabel: `sync ${i + 1}` });
    const last = events.at(-1);
    assert.ok(last?.done);
    assert.match(last.pointId, /^[0-9]+$/, 'the final message names the point kept');
    await run('cmp', [join(imagesA, name), join(imagesB, name)]);
    states.push(await sourceState(name));
  }
  return states;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvmclone-points-'));
  ({ agent: agentA, clients: a } = await startAgent('a'));
  ({ agent: agentB, clients: b } = await startAgent('b'));
  imagesA = join(dir, 'a', 'images');
  imagesB = join(dir, 'b', 'images');
  runB = join(dir, 'b', 'run');
  peers = new PeerBroker(() => a, runB);
});

after(async () => {
  peers?.close();
  a?.close();
  b?.close();
  for (const agent of [agentA, agentB]) if (agent && agent.child.exitCode === null) agent.child.kill('SIGTERM');
  await Promise.all([agentA?.exited, agentB?.exited]);
  await rm(dir, { recursive: true, force: true });
});

test('three syncs with keep 3 keep three points; restoring to each in turn gives that state of the source, byte for byte and by digest', async () => {
  const name = 'three.raw';
  const states = await threeSyncs(name);
  const listed = await points(name);
  assert.equal(listed.length, 3);
  assert.deepEqual(
    listed.map((p) => p.digest),
    [states[2]?.digest, states[1]?.digest, states[0]?.digest],
    "each point's digest is the source's before that sync",
  );
  assert.deepEqual(
    listed.map((p) => p.label),
    ['sync 3', 'sync 2', 'sync 1'],
  );
  assert.deepEqual(
    listed.map((p) => p.imageSize),
    [10 * MiB, 8 * MiB, 8 * MiB],
  );
  // Each point costs about what its sync overwrote, far less than the image.
  assert.ok(
    listed.every((p) => p.sizeBytes < 3 * MiB),
    `points take ${listed.map((p) => p.sizeBytes).join(', ')} bytes`,
  );
  for (const [i, point] of listed.entries()) {
    const events = await restore(name, point.id);
    const last = events.at(-1);
    assert.ok(last?.done);
    assert.equal(last.pointsTotal, 1);
    const state = states[2 - i];
    assert.equal(last.digest, state?.digest, 'the restored digest is the point’s');
    assert.equal(await sha256(join(imagesB, name)), state?.sha, `restored to point ${i + 1} from the newest: equal to the source then`);
    assert.equal((await points(name)).length, 2 - i, 'the point restored to is consumed');
  }
  assert.ok(await gone(journalPathFor(join(imagesB, name))), 'no journal is left');
});

test('restoring straight to the oldest point rolls back through the newer ones and discards them; a fourth sync prunes to keep', async () => {
  const name = 'oldest.raw';
  const states = await threeSyncs(name);
  const listed = await points(name);
  const events = await restore(name, listed[2]?.id ?? '');
  assert.deepEqual(
    events.filter((e) => e.phase === 'apply').map((e) => e.pointId),
    listed.map((p) => p.id),
    'applied newest first',
  );
  assert.equal(await sha256(join(imagesB, name)), states[0]?.sha);
  assert.deepEqual(await points(name), [], 'the newer points are gone (like zfs rollback -r)');

  // Synced forward again four times with keep 3: the oldest goes.
  for (let i = 0; i < 4; i += 1) {
    const ranges = i === 0 ? [{ offset: 0, length: 6 * MiB }] : await change(name, [[i * MiB, 64 * KiB]]);
    await pull(name, ranges, { keepPoints: 3 });
  }
  assert.equal((await points(name)).length, 3);
});

test('a sync without keep_points removes the points', async () => {
  const name = 'nokeep.raw';
  await twin(name, 4 * MiB);
  await pull(name, await change(name, [[0, 64 * KiB]]), { keepPoints: 2 });
  await pull(name, await change(name, [[2 * MiB, 64 * KiB]]), { keepPoints: 2 });
  const two = await points(name);
  assert.equal(two.length, 2);
  const removed = await unaryCall(b.transfer, b.transfer.removeRestorePoints, { targetPath: join(imagesB, name), keep: 1 }, T);
  assert.deepEqual(removed.removed, [two[1]?.id], 'RemoveRestorePoints drops the oldest beyond keep');
  assert.deepEqual(
    (await points(name)).map((p) => p.id),
    [two[0]?.id],
  );
  await pull(name, await change(name, [[MiB, 64 * KiB]]), {});
  assert.deepEqual(await points(name), [], 'a change without an undo record breaks the chain: the points are removed');
});

test('a restore is refused, nothing changed, when the image changed after the newest point; points are no leftovers', async () => {
  const name = 'changed.raw';
  await twin(name, 4 * MiB);
  await pull(name, await change(name, [[0, 64 * KiB]]), { keepPoints: 2 });
  const [point] = await points(name);
  assert.ok(point);
  const leftovers = await unaryCall(b.transfer, b.transfer.removeLeftovers, { minAgeSeconds: 0, dryRun: false }, T);
  assert.ok(![...leftovers.removed, ...leftovers.kept].some((l) => l.path.includes('kvmclone-point')), 'gc neither removes nor lists a point');
  assert.equal((await points(name)).length, 1);
  const fh = await open(join(imagesB, name), 'r+');
  await fh.write(Buffer.from('written after the sync'), 0, 22, 2 * MiB);
  await fh.close();
  const before = await sha256(join(imagesB, name));
  const details = await rejectsWithStatus(restore(name, point.id), 'FAILED_PRECONDITION');
  assert.match(details, /changed after the sync that kept restore point/);
  assert.equal(await sha256(join(imagesB, name)), before, 'the image is untouched');
  await rejectsWithStatus(restore(name, '42'), 'NOT_FOUND');
});

test('an agent killed when the apply of a keep pull begins rolls it forward at its start, and the point is there', async () => {
  const name = 'kill-apply.raw';
  await twin(name, 64 * MiB);
  const before = await sourceState(name);
  const ranges = await change(name, [[0, 48 * MiB]]);
  const killed = agentB;
  await assert.rejects(
    pull(name, ranges, { keepPoints: 2 }, (e) => {
      if (e.phase === 'apply' && !e.done) killed.child.kill('SIGKILL');
    }),
  );
  assert.equal(await killed.exited, 'SIGKILL');
  await restartB();
  await run('cmp', [join(imagesA, name), join(imagesB, name)]);
  const listed = await points(name);
  assert.equal(listed.length, 1, 'the point outlived the kill');
  assert.equal(listed[0]?.digest, before.digest);
  await restore(name, listed[0]?.id ?? '');
  assert.equal(await sha256(join(imagesB, name)), before.sha);
});

test('an agent killed while its pull writes or has just sealed the undo record leaves the image and the points consistent', async () => {
  const name = 'kill-undo.raw';
  await twin(name, 64 * MiB);
  await pull(name, await change(name, [[0, 64 * KiB]]), { keepPoints: 3 });
  const before = await sha256(join(imagesB, name));
  const ranges = await change(name, [[0, 40 * MiB]]);
  const after = await sha256(join(imagesA, name));
  const undo = join(imagesB, undoNameFor(name));
  const killed = agentB;
  let seen = false;
  const watching = (async () => {
    while (!seen && killed.child.exitCode === null) {
      if (!(await gone(undo))) {
        seen = true;
        killed.child.kill('SIGKILL');
      }
      await sleep(1);
    }
  })();
  await pull(name, ranges, { keepPoints: 3 }).catch(() => undefined);
  seen = true;
  await watching;
  await restartB();
  const now = await sha256(join(imagesB, name));
  const listed = await points(name);
  assert.ok(await gone(undo), 'no pending undo record is left');
  assert.ok(await gone(journalPathFor(join(imagesB, name))), 'no journal is left');
  if (now === before) assert.equal(listed.length, 1, 'not committed: no new point');
  else {
    assert.equal(now, after, 'committed: rolled forward');
    assert.equal(listed.length, 2, 'committed: the new point is kept');
  }
  // Either way the oldest point still restores the first state.
  await restore(name, listed.at(-1)?.id ?? '');
  assert.equal((await points(name)).length, 0);
});

test('an agent killed in the middle of a restore finishes that point at its start; the older points still restore', async () => {
  const name = 'kill-restore.raw';
  await twin(name, 128 * MiB);
  const states = [await sourceState(name)];
  await pull(name, await change(name, [[0, 64 * KiB]]), { keepPoints: 3 });
  states.push(await sourceState(name));
  await pull(name, await change(name, [[MiB, 96 * MiB]]), { keepPoints: 3 });
  const listed = await points(name);
  const killed = agentB;
  await assert.rejects(
    restore(name, listed[1]?.id ?? '', (e) => {
      if (e.phase === 'apply' && e.pointsDone === 0) killed.child.kill('SIGKILL');
    }),
  );
  await restartB();
  assert.ok(await gone(journalPathFor(join(imagesB, name))));
  assert.ok(
    agentB.output.some((l) => l.includes('sync journal rolled forward into the image') && l.includes(name)) || (await points(name)).length === 2,
    'the point being applied was rolled forward at the start (or the kill came before its rename)',
  );
  const left = await points(name);
  if (left.length === 1) assert.equal(await sha256(join(imagesB, name)), states[1]?.sha, 'at the state of the point being applied');
  await restore(name, listed[1]?.id ?? '');
  assert.equal(await sha256(join(imagesB, name)), states[0]?.sha);
  assert.deepEqual(await readdir(imagesB).then((names) => names.filter((n) => n.includes(name) && n !== name)), [], 'nothing is left beside the image');
});
