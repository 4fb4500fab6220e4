/**
 * In-place pulls (PULL_MODE_IN_PLACE) between two real agent processes, the
 * source's peer socket re-exposed in the destination's runtime directory by a
 * byte proxy that the tests can stall. Covers the sync itself (changed
 * blocks, zeroed regions becoming holes, growth), the lock, cancels, a kill
 * at the start of the apply, and journals left beside images for the next
 * start or the next pull to settle.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { ClientReadableStream } from '@grpc/grpc-js';
import { createAgentClients, unaryCall, type AgentClients } from '../../shared/agent-clients.js';
import { chunkHash } from '../../shared/block-hash.js';
import type { ByteRange } from '../../shared/generated/kvmclone/agent/v1/ByteRange.js';
import type { PullProgress__Output } from '../../shared/generated/kvmclone/agent/v1/PullProgress.js';
import type { TicketEvent__Output } from '../../shared/generated/kvmclone/agent/v1/TicketEvent.js';
import { fileExtents } from '../../agent/disk/extent-map.js';
import { HEADER_BYTES, RECORD_HEAD_BYTES, TRAILER_BYTES } from '../../agent/transfer/journal-format.js';
import { journalPathFor } from '../../agent/transfer/journal-file.js';
import { JournalWriter } from '../../agent/transfer/journal-writer.js';
import { rejectsWithStatus } from '../support/grpc-status.js';
import { spawnAgent, waitForSocket, type AgentProcess } from '../support/agent-process.js';

const run = promisify(execFile);
const T = { deadlineMs: 30_000 };
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
const proxies: Server[] = [];
const tickets: ClientReadableStream<TicketEvent__Output>[] = [];

async function startAgent(name: string): Promise<{ agent: AgentProcess; clients: AgentClients }> {
  const runtime = join(dir, name, 'run');
  await mkdir(join(dir, name, 'images'), { recursive: true });
  const agent = spawnAgent(['--socket', join(runtime, 'agent.sock'), '--images-root', join(dir, name, 'images'), '--libvirt-uri', 'test:///default']);
  await waitForSocket(agent, join(runtime, 'agent.sock'));
  await waitForSocket(agent, join(runtime, 'peer.sock'));
  return { agent, clients: createAgentClients(`unix:${join(runtime, 'agent.sock')}`) };
}

/** Stops the destination agent (SIGKILL: no cleanup at all) and starts a new one on the same directories. */
async function restartB(): Promise<void> {
  b.close();
  if (agentB.child.exitCode === null) agentB.child.kill('SIGKILL');
  await agentB.exited;
  ({ agent: agentB, clients: b } = await startAgent('b'));
  // The killed agent's socket files are still there: wait for the new one to say it serves.
  for (let i = 0; i < 300 && !agentB.output.some((l) => l.includes('agent ready')); i += 1) await sleep(50);
  assert.ok(
    agentB.output.some((l) => l.includes('agent ready')),
    `the restarted agent did not become ready:\n${agentB.output.join('\n')}`,
  );
}

/** Holds back the source-to-destination bytes of a proxy while paused (back-pressure reaches the source). */
class Gate {
  private paused = false;
  private readonly held: (() => void)[] = [];

  stream(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _encoding, callback) => (this.paused ? this.held.push(() => callback(null, chunk)) : callback(null, chunk)),
    });
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    for (const release of this.held.splice(0)) release();
  }
}

/** A ticket on A for `source` and a proxy of A's peer socket at a fresh path in B's runtime dir; `cut` breaks its connections. */
async function broker(source: string): Promise<{ peerSocket: string; ticket: string; gate: Gate; cut(): void }> {
  const call = a.transfer.openTicket({ paths: [source], operationId: randomUUID() });
  tickets.push(call);
  const ticket = await new Promise<TicketEvent__Output>((resolve, reject) => {
    call.once('data', resolve);
    call.once('error', reject);
  });
  const gate = new Gate();
  const peerSocket = join(runB, `peer-${randomUUID()}.sock`);
  const open: Socket[] = [];
  const server = createServer((socket) => {
    const upstream = createConnection(ticket.peerSocket);
    open.push(socket, upstream);
    socket.pipe(upstream);
    upstream.pipe(gate.stream()).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  proxies.push(server);
  await new Promise<void>((resolve) => server.listen(peerSocket, resolve));
  return { peerSocket, ticket: ticket.ticket, gate, cut: () => open.forEach((sock) => sock.destroy()) };
}

/** A running PullImage call on B: its events so far, its end, and a way to wait for one event. */
interface Pull {
  readonly call: ClientReadableStream<PullProgress__Output>;
  readonly events: PullProgress__Output[];
  readonly ended: Promise<PullProgress__Output[]>;
  waitFor(match: (e: PullProgress__Output) => boolean): Promise<PullProgress__Output>;
}

function startPull(request: object, onEvent?: (e: PullProgress__Output) => void): Pull {
  const call = b.transfer.pullImage(request, { deadline: Date.now() + 120_000 });
  const events: PullProgress__Output[] = [];
  const ended = new Promise<PullProgress__Output[]>((resolve, reject) => {
    call.on('data', (e: PullProgress__Output) => {
      events.push(e);
      onEvent?.(e);
    });
    call.on('error', reject);
    call.on('end', () => resolve(events));
  });
  ended.catch(() => undefined);
  const waitFor = (match: (e: PullProgress__Output) => boolean): Promise<PullProgress__Output> =>
    new Promise((resolve, reject) => {
      const found = events.find(match);
      if (found) return resolve(found);
      const onData = (e: PullProgress__Output): void => {
        if (!match(e)) return;
        call.off('data', onData);
        resolve(e);
      };
      call.on('data', onData);
      ended.then(() => reject(new Error('the pull ended before the awaited event')), reject);
    });
  return { call, events, ended, waitFor };
}

/** An IN_PLACE request from A's `name` into B's `name`. */
async function inPlace(name: string, ranges: ByteRange[], extra: object = {}): Promise<{ request: { operationId: string }; gate: Gate; cut(): void }> {
  const { peerSocket, ticket, gate, cut } = await broker(join(imagesA, name));
  const request = {
    peerSocket,
    ticket,
    sourcePath: join(imagesA, name),
    targetPath: join(imagesB, name),
    stagingId: '',
    operationId: randomUUID(),
    ranges,
    mode: 'PULL_MODE_IN_PLACE',
    ...extra,
  };
  return { request, gate, cut };
}

async function sha256(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

/** Kinds of the extents of [from, to) of a file. */
async function extentKinds(path: string, from: number, to: number): Promise<string[]> {
  const fh = await open(path, 'r');
  try {
    const kinds: string[] = [];
    for await (const e of fileExtents(fh.fd, from, to)) kinds.push(e.kind);
    return kinds;
  } finally {
    await fh.close();
  }
}

async function gone(path: string): Promise<boolean> {
  return stat(path).then(
    () => false,
    () => true,
  );
}

/** A file of `size` bytes: random data over `dataSpans`, holes elsewhere. */
async function makeImage(path: string, size: number, dataSpans: [number, number][]): Promise<void> {
  const fh = await open(path, 'w');
  await fh.truncate(size);
  for (const [offset, length] of dataSpans) await fh.write(randomBytes(length), 0, length, offset);
  await fh.close();
}

/** A same-content copy of A's `name` at B (the clone a sync starts from). */
async function cloneToB(name: string): Promise<void> {
  await run('cp', ['--sparse=always', join(imagesA, name), join(imagesB, name)]);
}

/** Leaves a journal beside `image` as a pull would: committed, then optionally cut, damaged or aimed at another inode. */
async function leaveJournal(image: string, writes: { offset: number; data: Buffer }[], flaw?: 'truncated' | 'corrupt' | 'foreign'): Promise<string> {
  const st = await stat(image, { bigint: true });
  const path = journalPathFor(image);
  const writer = await JournalWriter.create(path, image);
  await writer.begin({ dev: st.dev, ino: flaw === 'foreign' ? st.ino + 1n : st.ino, size: Number(st.size) });
  for (const w of writes) await writer.addData(w.offset, w.data, chunkHash(w.data));
  await writer.commit();
  await writer.close();
  const size = (await stat(path)).size;
  if (flaw === 'truncated') await truncate(path, size - TRAILER_BYTES - 1000);
  if (flaw === 'corrupt') {
    const fh = await open(path, 'r+');
    const at = HEADER_BYTES + RECORD_HEAD_BYTES + 16 + 123;
    const byte = Buffer.alloc(1);
    await fh.read(byte, 0, 1, at);
    await fh.write(Buffer.from([byte[0] ^ 0xff]), 0, 1, at);
    await fh.close();
  }
  return path;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvmclone-inplace-'));
  ({ agent: agentA, clients: a } = await startAgent('a'));
  ({ agent: agentB, clients: b } = await startAgent('b'));
  imagesA = join(dir, 'a', 'images');
  imagesB = join(dir, 'b', 'images');
  runB = join(dir, 'b', 'run');
});

after(async () => {
  for (const t of tickets) t.cancel();
  a?.close();
  b?.close();
  for (const p of proxies) p.close();
  for (const agent of [agentA, agentB]) if (agent && agent.child.exitCode === null) agent.child.kill('SIGTERM');
  await Promise.all([agentA?.exited, agentB?.exited]);
  await rm(dir, { recursive: true, force: true });
});

test('a sync moves changed blocks, turns a zeroed region into holes, grows the image, and ends byte-identical with the source digest', async () => {
  const name = 'sync.raw';
  const source = join(imagesA, name);
  const target = join(imagesB, name);
  await makeImage(source, 32 * MiB, [[0, 24 * MiB]]);
  await cloneToB(name);
  // At the source: 40 random 64 KiB blocks rewritten, 2 MiB zeroed, 4 MiB appended (1 MiB of it data).
  const blocks = new Set<number>();
  while (blocks.size < 40) {
    const block = Math.floor(Math.random() * 384);
    if (block < 128 || block >= 160) blocks.add(block);
  }
  const fh = await open(source, 'r+');
  for (const block of blocks) await fh.write(randomBytes(64 * KiB), 0, 64 * KiB, block * 64 * KiB);
  await fh.write(Buffer.alloc(2 * MiB), 0, 2 * MiB, 8 * MiB);
  await fh.truncate(36 * MiB);
  await fh.write(randomBytes(MiB), 0, MiB, 33 * MiB);
  await fh.close();
  assert.deepEqual(await extentKinds(target, 8 * MiB, 10 * MiB), ['data'], 'the destination holds data where the source was zeroed');
  const ranges = [...[...blocks].map((block) => ({ offset: block * 64 * KiB, length: 64 * KiB })), { offset: 8 * MiB, length: 2 * MiB }, { offset: 32 * MiB, length: 4 * MiB }];
  const { request } = await inPlace(name, ranges);
  const events = await startPull(request).ended;

  const last = events.at(-1);
  assert.ok(last?.done, 'the last event is the final one');
  assert.equal(last.bytesTotal, 40 * 64 * KiB + 6 * MiB);
  assert.equal(last.bytesDone, last.bytesTotal);
  assert.equal(last.bytesTransferred, 40 * 64 * KiB + MiB, 'zeros and holes are not sent');
  assert.deepEqual([...new Set(events.map((e) => e.phase))], ['transfer', 'apply'], 'transfer, then apply');
  assert.equal(events.filter((e) => e.phase === 'apply' && !e.done).length, 1, 'one apply notice before the final message');
  await run('cmp', [source, target]);
  assert.equal((await stat(target)).size, 36 * MiB);
  assert.deepEqual(await extentKinds(target, 8 * MiB, 10 * MiB), ['hole'], 'the zeroed region became a hole');
  assert.deepEqual(await extentKinds(target, 32 * MiB, 33 * MiB), ['hole'], 'the grown region is sparse where the source has no data');
  const digestA = await unaryCall(a.disk, a.disk.digestImage, { path: source }, T);
  assert.equal(last.digest, digestA.digest);
  assert.ok(await gone(journalPathFor(target)), 'the journal is removed');
});

test('empty ranges only resize the image: grown with holes, then shrunk', async () => {
  const name = 'resize.raw';
  const source = join(imagesA, name);
  const target = join(imagesB, name);
  await makeImage(source, 4 * MiB, [[0, 4 * MiB]]);
  await cloneToB(name);
  for (const size of [6 * MiB, 3 * MiB]) {
    await truncate(source, size);
    const { request } = await inPlace(name, []);
    const last = (await startPull(request).ended).at(-1);
    assert.ok(last?.done);
    assert.equal(last.bytesTotal, 0);
    assert.equal((await stat(target)).size, size);
    await run('cmp', [source, target]);
    assert.equal(last.digest, (await unaryCall(a.disk, a.disk.digestImage, { path: source }, T)).digest);
  }
});

test('a second pull into the same image while one runs is ABORTED; the first still completes', async () => {
  const name = 'busy.raw';
  await makeImage(join(imagesA, name), 64 * MiB, [[0, 64 * MiB]]);
  await makeImage(join(imagesB, name), 64 * MiB, [[0, 64 * MiB]]);
  const first = await inPlace(name, [{ offset: 0, length: 64 * MiB }]);
  const pull = startPull(first.request);
  await pull.waitFor((e) => e.phase === 'transfer');
  first.gate.pause();
  const second = await inPlace(name, [{ offset: 0, length: MiB }]);
  const details = await rejectsWithStatus(startPull(second.request).ended, 'ABORTED');
  assert.match(details, /another pull into .*busy\.raw is running/);
  first.gate.resume();
  assert.ok((await pull.ended).at(-1)?.done);
  await run('cmp', [join(imagesA, name), join(imagesB, name)]);
});

/** Starts an in-place pull of all of `name` and interrupts it (`how`) once its journal holds records; resolves with what the journal holds. */
async function interrupted(name: string, how: 'cancel' | 'cut'): Promise<{ request: { operationId: string }; kept: number }> {
  const target = join(imagesB, name);
  const { request, gate, cut } = await inPlace(name, [{ offset: 0, length: 64 * MiB }]);
  const pull = startPull(request);
  await pull.waitFor((e) => e.phase === 'transfer' && e.bytesDone >= 8 * MiB);
  gate.pause();
  const journal = journalPathFor(target);
  // Appends run a few deep behind the progress messages: give those already received time to land.
  for (let i = 0; i < 100 && (await stat(journal)).size <= HEADER_BYTES; i += 1) await sleep(20);
  assert.ok((await stat(journal)).size > HEADER_BYTES, 'records are in the journal when the connection goes');
  if (how === 'cancel') {
    pull.call.cancel();
    await rejectsWithStatus(pull.ended, 'CANCELLED');
  } else {
    cut();
    gate.resume();
    await rejectsWithStatus(pull.ended, 'UNAVAILABLE');
  }
  gate.resume();
  return { request, kept: pull.events.at(-1)?.bytesDone ?? 0 };
}

test("a cancel during the transfer (kvmctl's connection dropped) leaves the image as it was; a pull of another operation drops the kept journal and completes", async () => {
  const name = 'cancel.raw';
  const target = join(imagesB, name);
  await makeImage(join(imagesA, name), 64 * MiB, [[0, 64 * MiB]]);
  await makeImage(target, 32 * MiB, [[0, 32 * MiB]]);
  const before = await sha256(target);
  await interrupted(name, 'cancel');
  assert.equal(await sha256(target), before, 'the image is unchanged');
  assert.equal((await stat(target)).size, 32 * MiB);
  assert.ok(!(await gone(journalPathFor(target))), 'the journal is kept for the retry of the same operation');
  // A rerun (a new operation) must not wait for it: the kept journal is dropped and the pull starts over.
  const { request } = await inPlace(name, [{ offset: 0, length: 64 * MiB }]);
  const events = await startPull(request).ended;
  assert.equal(events[0]?.bytesDone, 0, 'another operation starts from nothing');
  assert.equal(events.at(-1)?.bytesTransferred, 64 * MiB);
  await run('cmp', [join(imagesA, name), target]);
  assert.ok(await gone(journalPathFor(target)), 'no journal is left');
});

for (const how of ['cancel', 'cut'] as const) {
  test(`the same operation's retry after ${how === 'cancel' ? "kvmctl's call was cancelled" : 'the path to the source broke'} continues its journal: only the missing bytes cross the wire`, async () => {
    const name = `resume-${how}.raw`;
    const target = join(imagesB, name);
    await makeImage(join(imagesA, name), 64 * MiB, [[0, 64 * MiB]]);
    await makeImage(target, 64 * MiB, [[0, 64 * MiB]]);
    const before = await sha256(target);
    const first = await interrupted(name, how);
    assert.ok(first.kept >= 8 * MiB && first.kept < 64 * MiB, `the first attempt got part of the way (${first.kept})`);
    assert.equal(await sha256(target), before, 'the image is untouched until the commit');
    // The retry: a new ticket and peer path, the same operation and ranges.
    const retry = await inPlace(name, [{ offset: 0, length: 64 * MiB }], { operationId: first.request.operationId });
    const events = await startPull(retry.request).ended;
    const kept = events[0]?.bytesDone ?? 0;
    assert.ok(kept >= first.kept, `the retry's first message counts what the journal kept (${kept} >= ${first.kept})`);
    assert.equal(events.at(-1)?.bytesTransferred, 64 * MiB - kept, 'only the missing bytes are fetched');
    assert.ok(events.at(-1)?.done);
    await run('cmp', [join(imagesA, name), target]);
    assert.ok(await gone(journalPathFor(target)), 'no journal is left');
  });
}

test('an agent killed when the apply begins rolls the sync forward at its next start', async () => {
  const name = 'kill.raw';
  const source = join(imagesA, name);
  const target = join(imagesB, name);
  await makeImage(source, 128 * MiB, [[0, 128 * MiB]]);
  await cloneToB(name);
  // 96 MiB of new data: the apply outlasts the kill by a wide margin.
  await makeImage(join(dir, 'new-data'), 96 * MiB, [[0, 96 * MiB]]);
  const fh = await open(source, 'r+');
  await fh.write(await readFile(join(dir, 'new-data')), 0, 96 * MiB, 16 * MiB);
  await fh.write(Buffer.alloc(4 * MiB), 0, 4 * MiB, 120 * MiB);
  await fh.close();
  const { request } = await inPlace(name, [{ offset: 16 * MiB, length: 108 * MiB }]);
  const killed = agentB;
  const pull = startPull(request, (e) => {
    if (e.phase === 'apply' && !e.done) killed.child.kill('SIGKILL');
  });
  await assert.rejects(pull.ended);
  assert.equal(await killed.exited, 'SIGKILL');
  assert.ok(
    pull.events.some((e) => e.phase === 'apply'),
    'the kill came with the apply notice',
  );
  const journal = journalPathFor(target);
  assert.ok(!(await gone(journal)), 'the committed journal outlived the agent');
  await restartB();
  assert.ok(await gone(journal), 'the journal is gone after the start');
  assert.ok(
    agentB.output.some((l) => l.includes('sync journal rolled forward into the image') && l.includes(name)),
    'the start rolled it forward',
  );
  await run('cmp', [source, target]);
});

test('at start, journals cut before their trailer, damaged, or for another inode are removed and their images untouched', async () => {
  await mkdir(join(imagesB, 'vm2'), { recursive: true });
  const cases = [
    { image: join(imagesB, 'cut.raw'), flaw: 'truncated' as const },
    { image: join(imagesB, 'vm2', 'damaged.raw'), flaw: 'corrupt' as const },
    { image: join(imagesB, 'vm2', 'moved.raw'), flaw: 'foreign' as const },
  ];
  const hashes: string[] = [];
  const journals: string[] = [];
  for (const c of cases) {
    await makeImage(c.image, 8 * MiB, [[0, 8 * MiB]]);
    hashes.push(await sha256(c.image));
    journals.push(
      await leaveJournal(
        c.image,
        [
          { offset: MiB, data: randomBytes(2 * MiB) },
          { offset: 5 * MiB, data: Buffer.alloc(64 * KiB, 0xee) },
        ],
        c.flaw,
      ),
    );
  }
  await restartB();
  for (const [i, c] of cases.entries()) {
    assert.ok(await gone(journals[i]), `${c.flaw}: journal removed`);
    assert.equal(await sha256(c.image), hashes[i], `${c.flaw}: image untouched`);
  }
  assert.ok(agentB.output.some((l) => l.includes('sync journal incomplete or damaged: discarded') && l.includes('cut.raw')));
  assert.ok(agentB.output.some((l) => l.includes('sync journal incomplete or damaged: discarded') && l.includes('damaged.raw') && l.includes('corrupt')));
  assert.ok(agentB.output.some((l) => l.includes('does not belong to this image') && l.includes('moved.raw')));
});

test('the next pull settles a journal first: a committed one is applied, a damaged one discarded', async () => {
  const name = 'next.raw';
  const target = join(imagesB, name);
  await makeImage(join(imagesA, name), 8 * MiB, [[0, 8 * MiB]]);
  await cloneToB(name);
  await run('cmp', [join(imagesA, name), target]);
  const old = await readFile(target);
  // Committed: its 0xee block lands, though the pull itself never touches that region.
  await leaveJournal(target, [{ offset: 4 * MiB, data: Buffer.alloc(64 * KiB, 0xee) }]);
  const fh = await open(join(imagesA, name), 'r+');
  await fh.write(randomBytes(64 * KiB), 0, 64 * KiB, 0);
  await fh.close();
  const first = await inPlace(name, [{ offset: 0, length: 64 * KiB }]);
  assert.ok((await startPull(first.request).ended).at(-1)?.done);
  let now = await readFile(target);
  assert.ok(now.subarray(4 * MiB, 4 * MiB + 64 * KiB).equals(Buffer.alloc(64 * KiB, 0xee)), 'the committed journal was applied');
  assert.ok(now.subarray(0, 64 * KiB).equals((await readFile(join(imagesA, name))).subarray(0, 64 * KiB)), 'then the pull itself');
  // Damaged: its block must not land.
  await leaveJournal(target, [{ offset: 6 * MiB, data: Buffer.alloc(64 * KiB, 0xdd) }], 'corrupt');
  const second = await inPlace(name, [{ offset: 0, length: 64 * KiB }]);
  assert.ok((await startPull(second.request).ended).at(-1)?.done);
  now = await readFile(target);
  assert.ok(now.subarray(6 * MiB, 6 * MiB + 64 * KiB).equals(old.subarray(6 * MiB, 6 * MiB + 64 * KiB)), 'the damaged journal was not applied');
  assert.ok(await gone(journalPathFor(target)));
  assert.ok(agentB.output.some((l) => l.includes('sync journal incomplete or damaged: discarded') && l.includes(name)));
});

test('in-place pulls refuse a missing target, a staging id, a target outside the roots or not a file, and ranges past the source', async () => {
  const name = 'refuse.raw';
  await makeImage(join(imagesA, name), 4 * MiB, [[0, 4 * MiB]]);
  await cloneToB(name);
  const outside = join(dir, 'outside.raw');
  await writeFile(outside, Buffer.alloc(4096));
  await mkdir(join(imagesB, 'adir'), { recursive: true });
  const base = {
    peerSocket: join(runB, `peer-${randomUUID()}.sock`),
    ticket: 'a'.repeat(64),
    sourcePath: join(imagesA, name),
    stagingId: '',
    operationId: randomUUID(),
    ranges: [],
    mode: 'PULL_MODE_IN_PLACE',
  };
  await rejectsWithStatus(startPull({ ...base, targetPath: join(imagesB, 'missing.raw') }).ended, 'NOT_FOUND');
  await rejectsWithStatus(startPull({ ...base, targetPath: join(imagesB, name), stagingId: randomUUID() }).ended, 'INVALID_ARGUMENT');
  await rejectsWithStatus(startPull({ ...base, targetPath: outside }).ended, 'PERMISSION_DENIED');
  await rejectsWithStatus(startPull({ ...base, targetPath: join(imagesB, 'adir') }).ended, 'FAILED_PRECONDITION');
  const before = await sha256(join(imagesB, name));
  const { request } = await inPlace(name, [{ offset: 3 * MiB, length: 2 * MiB }]);
  await rejectsWithStatus(startPull(request).ended, 'OUT_OF_RANGE');
  assert.ok(await gone(journalPathFor(join(imagesB, name))), 'no journal is left');
  assert.equal(await sha256(join(imagesB, name)), before);
});

test('an in-place pull refuses a hard-linked target (issue 10, hole 4): the other name, here outside the roots, is not written', async () => {
  const name = 'linked.raw';
  await makeImage(join(imagesA, name), 4 * MiB, [[0, 4 * MiB]]);
  await cloneToB(name);
  const other = join(dir, 'other-name-of-linked.raw');
  await run('ln', [join(imagesB, name), other]);
  const before = await sha256(other);
  const { request } = await inPlace(name, [{ offset: 0, length: 1 * MiB }]);
  const details = await rejectsWithStatus(startPull(request).ended, 'FAILED_PRECONDITION');
  assert.match(details, /2 hard links/);
  assert.equal(await sha256(other), before, 'the file behind the other name is unchanged');
  assert.ok(await gone(journalPathFor(join(imagesB, name))), 'no journal is left');
});
