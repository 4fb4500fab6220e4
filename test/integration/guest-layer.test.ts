/**
 * The guest layer with real qemu-img and qemu-nbd, on two in-process agents
 * (the source's peer socket re-exposed in the destination's runtime
 * directory by a byte proxy, as the controller's SSH forwards do). A raw
 * file stands in for the source's live view: a raw file's FILE layer is its
 * guest view, byte for byte. Covers guest HashBlocks/DigestImage of qcow2
 * images (with a backing chain), guest ReadRanges and extents, GUEST pulls
 * into new and resumed qcow2 and raw staging images, in-place syncs of a
 * qcow2 through its format (grown, shrunk), a committed guest journal rolled
 * forward by recovery and by an agent's start, and the refusals.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { createAgentClients, unaryCall, type AgentClients } from '../../shared/agent-clients.js';
import { chunkHash } from '../../shared/block-hash.js';
import type { ExtentLayer } from '../../shared/generated/kvmclone/agent/v1/ExtentLayer.js';
import type { HashBlocksResponse__Output } from '../../shared/generated/kvmclone/agent/v1/HashBlocksResponse.js';
import type { PullProgress__Output } from '../../shared/generated/kvmclone/agent/v1/PullProgress.js';
import type { ReadRangesResponse } from '../../shared/generated/kvmclone/agent/v1/ReadRangesResponse.js';
import { checkChunk } from '../../agent/disk/chunk-check.js';
import { StreamDigester } from '../../agent/disk/stream-digest.js';
import { guestExtents } from '../../agent/guest/guest-extents.js';
import { withGuestImage } from '../../agent/guest/guest-image.js';
import { readGuestRanges } from '../../agent/guest/guest-reads.js';
import { FakeLibvirt } from '../../agent/libvirt/fake-libvirt.js';
import { ImageRoots } from '../../agent/paths/image-roots.js';
import { startAgentServer, type RunningAgentServer } from '../../agent/server/agent-server.js';
import { journalPathFor } from '../../agent/transfer/journal-file.js';
import { recoverAllJournals } from '../../agent/transfer/journal-recovery.js';
import { JournalWriter } from '../../agent/transfer/journal-writer.js';
import { rejectsWithStatus } from '../support/grpc-status.js';
import { PeerBroker } from '../support/peer-broker.js';
import { spawnAgent, waitForSocket } from '../support/agent-process.js';

const run = promisify(execFile);
const T = { deadlineMs: 60_000 };
const KiB = 1024;
const MiB = 1024 * KiB;
const log = pino({ level: 'silent' });
let dir: string;
let a: AgentClients;
let b: AgentClients;
let servers: RunningAgentServer[] = [];
let imagesA: string;
let imagesB: string;
let runA: string;
let runB: string;
let rootsB: ImageRoots;
let peers: PeerBroker;

async function startAgent(name: string): Promise<{ clients: AgentClients; runtime: string; images: string; roots: ImageRoots }> {
  const runtime = join(dir, name, 'run');
  const images = join(dir, name, 'images');
  await mkdir(images, { recursive: true });
  const roots = await ImageRoots.open([images]);
  const socket = join(runtime, 'agent.sock');
  servers.push(
    await startAgentServer({
      log,
      libvirt: new FakeLibvirt(),
      roots,
      socket,
      socketMode: 0o600,
      peerSocket: join(runtime, 'peer.sock'),
      scratchDir: images,
      freezeTimeoutMs: 1000,
    }),
  );
  return { clients: createAgentClients(`unix:${socket}`), runtime, images, roots };
}

/** A ticket on A for `paths` and a proxy of A's peer socket in B's runtime dir (test/support/peer-broker.ts). */
const broker = (...paths: string[]): Promise<{ peerSocket: string; ticket: string }> => peers.broker(...paths);

function pull(request: object): Promise<PullProgress__Output[]> {
  return new Promise((resolve, reject) => {
    const events: PullProgress__Output[] = [];
    const call = b.transfer.pullImage(request, { deadline: Date.now() + 120_000 });
    call.on('data', (e: PullProgress__Output) => events.push(e));
    call.on('error', reject);
    call.on('end', () => resolve(events));
  });
}

/** A GUEST-layer PullImage request from A's `source` into B's `target`. */
async function guestRequest(source: string, target: string, extra: object = {}): Promise<object> {
  const { peerSocket, ticket } = await broker(source);
  return {
    peerSocket,
    ticket,
    sourcePath: source,
    targetPath: target,
    stagingId: '',
    operationId: randomUUID(),
    ranges: [],
    mode: 'PULL_MODE_STAGING',
    layer: 'EXTENT_LAYER_GUEST',
    format: 'qcow2',
    ...extra,
  };
}

/** All block hashes of HashBlocks. */
async function hashes(
  clients: AgentClients,
  path: string,
  layer: ExtentLayer,
  plan: { blockSize?: number; offset?: number; length?: number } = {},
): Promise<{ hashes: Buffer; size: number }> {
  const parts: Buffer[] = [];
  let size = -1;
  const stream = clients.disk.hashBlocks(
    { path, layer, blockSize: plan.blockSize ?? 0, offset: plan.offset ?? 0, length: plan.length ?? 0, batchBlocks: 100 },
    { deadline: Date.now() + 60_000 },
  );
  for await (const m of stream as AsyncIterable<HashBlocksResponse__Output>) {
    parts.push(m.hashes);
    size = m.fileSize;
  }
  return { hashes: Buffer.concat(parts), size };
}

const digestOf = async (clients: AgentClients, path: string, layer: ExtentLayer = 'EXTENT_LAYER_FILE'): Promise<{ size: number; digest: string }> =>
  unaryCall(clients.disk, clients.disk.digestImage, { path, layer }, T);

/** qemu-img compare, formats given (exit 0 = same guest content). */
async function sameGuestContent(rawPath: string, image: string, format: string): Promise<void> {
  await run('qemu-img', ['compare', '-q', '-f', 'raw', '-F', format, rawPath, image]);
}

async function qemuInfo(path: string): Promise<{ format: string; 'virtual-size': number; 'format-specific'?: { data?: { compat?: string } } }> {
  return JSON.parse((await run('qemu-img', ['info', '--output=json', '--force-share', path])).stdout) as { format: string; 'virtual-size': number };
}

/** A raw file of `size` bytes: random data over `spans`, allocated zeros over `zeros`, holes elsewhere. */
async function makeRaw(path: string, size: number, spans: [number, number][], zeros: [number, number][] = []): Promise<void> {
  const fh = await open(path, 'w');
  await fh.truncate(size);
  for (const [offset, length] of spans) await fh.write(randomBytes(length), 0, length, offset);
  for (const [offset, length] of zeros) await fh.write(Buffer.alloc(length), 0, length, offset);
  await fh.close();
}

/** Overwrites spans of a file with random bytes (or zeros) and returns them as ranges. */
async function change(path: string, spans: [number, number][], zero = false): Promise<Span[]> {
  const fh = await open(path, 'r+');
  for (const [offset, length] of spans) await fh.write(zero ? Buffer.alloc(length) : randomBytes(length), 0, length, offset);
  await fh.close();
  return spans.map(([offset, length]) => ({ offset, length }));
}

/** Random 64 KiB blocks below `limit`, avoiding [avoidFrom, avoidTo). */
function randomBlocks(count: number, limit: number, avoid: [number, number] = [0, 0]): [number, number][] {
  const blocks = new Set<number>();
  while (blocks.size < count) {
    const block = Math.floor(Math.random() * (limit / (64 * KiB)));
    if (block * 64 * KiB + 64 * KiB <= avoid[0] || block * 64 * KiB >= avoid[1]) blocks.add(block);
  }
  return [...blocks].map((block) => [block * 64 * KiB, 64 * KiB]);
}

/** A byte span of a request. */
interface Span {
  offset: number;
  length: number;
}

const nbdSockets = async (runtime: string): Promise<string[]> => (await readdir(runtime)).filter((n) => n.startsWith('nbd-'));

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvmclone-guest-'));
  const sa = await startAgent('a');
  const sb = await startAgent('b');
  a = sa.clients;
  b = sb.clients;
  imagesA = sa.images;
  imagesB = sb.images;
  runA = sa.runtime;
  runB = sb.runtime;
  peers = new PeerBroker(() => a, runB);
  rootsB = sb.roots;
  // The source "view": 40 MiB with scattered data, one allocated zero MiB, holes elsewhere.
  await makeRaw(
    join(imagesA, 'vm.raw'),
    40 * MiB,
    [
      [0, 3 * MiB],
      [5 * MiB + 4 * KiB, 700 * KiB],
      [12 * MiB, 6 * MiB],
      [30 * MiB, 64 * KiB],
      [39 * MiB, MiB],
    ],
    [[20 * MiB, MiB]],
  );
});

after(async () => {
  peers?.close();
  a?.close();
  b?.close();
  for (const s of servers) await s.close(1000);
  servers = [];
  await rm(dir, { recursive: true, force: true });
});

test('guest HashBlocks and DigestImage of a qcow2 (and of an overlay on it) equal those of its raw conversion hashed as a file', async () => {
  const src = join(imagesA, 'vm.raw');
  const base = join(imagesA, 'base.qcow2');
  const overlay = join(imagesA, 'overlay.qcow2');
  await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', src, base]);
  await run('qemu-img', ['create', '-f', 'qcow2', '-b', base, '-F', 'qcow2', overlay]);
  await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x41 5M 64k', '-c', 'write -z 0 1M', '-c', 'write -P 0x7 33M 192k', overlay]);
  for (const image of [base, overlay]) {
    const flat = `${image}.flat.raw`;
    await run('qemu-img', ['convert', '-O', 'raw', image, flat]);
    const guest = await hashes(a, image, 'EXTENT_LAYER_GUEST');
    const file = await hashes(a, flat, 'EXTENT_LAYER_FILE');
    assert.equal(guest.size, 40 * MiB, 'the size is the virtual size');
    assert.ok(guest.hashes.equals(file.hashes), `${image}: every 64 KiB block hash matches`);
    const plan = { blockSize: 4096, offset: 4 * MiB, length: 2 * MiB };
    assert.ok((await hashes(a, image, 'EXTENT_LAYER_GUEST', plan)).hashes.equals((await hashes(a, flat, 'EXTENT_LAYER_FILE', plan)).hashes), `${image}: a 4 KiB span`);
    assert.deepEqual(await digestOf(a, image, 'EXTENT_LAYER_GUEST'), await digestOf(a, flat));
    assert.notDeepEqual(await digestOf(a, image), await digestOf(a, flat), 'the FILE layer of a qcow2 is its qcow2 file');
  }
  assert.deepEqual(await digestOf(a, src, 'EXTENT_LAYER_GUEST'), await digestOf(a, src), 'a raw image is its own guest view');
  assert.deepEqual(await nbdSockets(runA), [], 'every qemu-nbd is gone with its socket');
  // An enum value this agent does not know (a newer client's) is refused, not taken for FILE.
  await rejectsWithStatus(digestOf(a, src, 7 as unknown as ExtentLayer), 'INVALID_ARGUMENT');
});

test('guest ReadRanges and extents over a qemu-nbd of a qcow2 rebuild its raw conversion, digest on the way, send no zeros', async () => {
  const image = join(imagesA, 'base.qcow2');
  const flat = await readFile(`${image}.flat.raw`);
  await withGuestImage(image, 'qcow2', { writable: false, runtimeDir: runA, signal: AbortSignal.timeout(60_000) }, async ({ client, size }) => {
    assert.equal(size, flat.length);
    const kinds = new Map<string, number>();
    let covered = 0;
    for await (const e of guestExtents(client, AbortSignal.timeout(60_000))) {
      assert.equal(e.offset, covered);
      covered += e.length;
      kinds.set(e.kind, (kinds.get(e.kind) ?? 0) + e.length);
      if (e.kind !== 'data') assert.ok(flat.subarray(e.offset, e.offset + e.length).equals(Buffer.alloc(e.length)), 'holes and zeros read as zeros');
    }
    assert.equal(covered, size);
    assert.ok((kinds.get('data') ?? 0) < 15 * MiB, 'most of the image is not data');
    const rebuilt = Buffer.alloc(size, 0xff);
    const counters = { bytesRead: 0 };
    const digester = new StreamDigester(size);
    const totals = await readGuestRanges(
      client,
      [{ offset: 0, length: size }],
      MiB,
      async (m: ReadRangesResponse) => {
        if (m.data) {
          const data = m.data.data as Buffer;
          checkChunk({ offset: m.data.offset as number, data, hash: Buffer.alloc(0), blockHashes: m.data.blockHashes as Buffer });
          data.copy(rebuilt, m.data.offset as number);
        } else if (m.zero) rebuilt.fill(0, m.zero.offset as number, (m.zero.offset as number) + (m.zero.length as number));
      },
      AbortSignal.timeout(60_000),
      { blockHashes: true, counters, digester },
    );
    assert.ok(rebuilt.equals(flat));
    assert.ok(totals.dataBytes <= 10 * MiB + 768 * KiB, `only data is sent (${totals.dataBytes})`);
    assert.ok(counters.bytesRead >= totals.dataBytes && counters.bytesRead < 15 * MiB, `zeros are not read (${counters.bytesRead})`);
    assert.equal(digester.finish()?.digest, (await digestOf(a, `${image}.flat.raw`)).digest);
  });
});

test("a GUEST pull creates a qcow2 staging image with the view's guest content and digest; committed, it stays a qcow2", async () => {
  const src = join(imagesA, 'vm.raw');
  const target = join(imagesB, 'vm.qcow2');
  const events = await pull(await guestRequest(src, target));
  const first = events[0];
  const last = events.at(-1);
  assert.ok(first !== undefined && first.stagingId !== '' && !first.done, 'the staging image is announced first');
  assert.ok(last?.done);
  assert.equal(last.stagingPath, first.stagingPath);
  assert.equal(last.bytesTotal, 40 * MiB);
  assert.equal(last.bytesDone, 40 * MiB);
  assert.ok(last.bytesTransferred <= 10 * MiB + 768 * KiB, `holes and zeros are not sent (${last.bytesTransferred})`);
  const info = await qemuInfo(last.stagingPath);
  assert.equal(info.format, 'qcow2');
  assert.equal(info['format-specific']?.data?.compat, '1.1');
  assert.equal(info['virtual-size'], 40 * MiB);
  await sameGuestContent(src, last.stagingPath, 'qcow2');
  const sourceDigest = await digestOf(a, src);
  assert.equal(last.digest, sourceDigest.digest);
  await unaryCall(b.disk, b.disk.commitStaging, { targetPath: target, stagingId: last.stagingId, replace: false }, T);
  assert.equal((await qemuInfo(target)).format, 'qcow2');
  assert.deepEqual(await digestOf(b, target, 'EXTENT_LAYER_GUEST'), sourceDigest);
  assert.deepEqual(await nbdSockets(runB), []);
});

test('a GUEST pull with format raw creates a sparse raw staging file', async () => {
  const src = join(imagesA, 'vm.raw');
  const target = join(imagesB, 'vm-copy.raw');
  const last = (await pull(await guestRequest(src, target, { format: 'raw' }))).at(-1);
  assert.ok(last?.done);
  await run('cmp', [src, last.stagingPath]);
  assert.ok((await stat(last.stagingPath)).blocks * 512 < 16 * MiB, 'sparse');
  assert.equal(last.digest, (await digestOf(a, src)).digest);
  await unaryCall(b.disk, b.disk.abortStaging, { targetPath: target, stagingId: last.stagingId }, T);
});

test('a resumed GUEST pull writes its ranges, zero ranges included, into the staging image and digests it by reading back', async () => {
  const src = join(imagesA, 'resume.raw');
  await makeRaw(src, 16 * MiB, [[0, 12 * MiB]]);
  const target = join(imagesB, 'resume.qcow2');
  const first = (await pull(await guestRequest(src, target))).at(-1);
  assert.ok(first?.done);
  const ranges = [...(await change(src, randomBlocks(12, 8 * MiB))), ...(await change(src, [[8 * MiB, 2 * MiB]], true))];
  const events = await pull(await guestRequest(src, target, { stagingId: first.stagingId, ranges }));
  const last = events.at(-1);
  assert.ok(last?.done);
  assert.equal(last.stagingId, first.stagingId);
  assert.equal(last.bytesTotal, 12 * 64 * KiB + 2 * MiB);
  assert.equal(last.bytesTransferred, 12 * 64 * KiB, 'the zeroed range is not sent');
  await sameGuestContent(src, last.stagingPath, 'qcow2');
  assert.equal(last.digest, (await digestOf(a, src)).digest);
  // A resume that declares another format or size is refused, and the staging image kept.
  await rejectsWithStatus(pull(await guestRequest(src, target, { stagingId: first.stagingId, format: 'raw', ranges })), 'FAILED_PRECONDITION');
  await truncate(src, 32 * MiB);
  await rejectsWithStatus(pull(await guestRequest(src, target, { stagingId: first.stagingId, ranges })), 'FAILED_PRECONDITION');
  await stat(last.stagingPath);
  await unaryCall(b.disk, b.disk.abortStaging, { targetPath: target, stagingId: first.stagingId }, T);
});

test('an IN_PLACE GUEST sync changes a qcow2 through its format: changed blocks, a zeroed region, growth, then a shrink', async () => {
  const src = join(imagesA, 'vm.raw');
  const target = join(imagesB, 'vm.qcow2');
  const ranges = [...(await change(src, randomBlocks(30, 40 * MiB, [8 * MiB, 16 * MiB]))), ...(await change(src, [[12 * MiB, 2 * MiB]], true))];
  await truncate(src, 44 * MiB);
  ranges.push(...(await change(src, [[41 * MiB, MiB]])), { offset: 40 * MiB, length: MiB }, { offset: 42 * MiB, length: 2 * MiB });
  const events = await pull(await guestRequest(src, target, { mode: 'PULL_MODE_IN_PLACE', ranges }));
  const last = events.at(-1);
  assert.ok(last?.done);
  assert.deepEqual([...new Set(events.map((e) => e.phase))], ['transfer', 'apply']);
  assert.equal(last.bytesTransferred, 30 * 64 * KiB + MiB, 'the changed blocks and the new data, no zeros');
  assert.equal(last.digest, (await digestOf(a, src)).digest);
  const info = await qemuInfo(target);
  assert.equal(info.format, 'qcow2', 'still a qcow2');
  assert.equal(info['virtual-size'], 44 * MiB, 'grown');
  await sameGuestContent(src, target, 'qcow2');
  await stat(journalPathFor(target)).then(
    () => assert.fail('the journal is removed'),
    () => undefined,
  );
  // Shrink: no ranges, only the size.
  await truncate(src, 36 * MiB);
  const shrunk = (await pull(await guestRequest(src, target, { mode: 'PULL_MODE_IN_PLACE', ranges: [] }))).at(-1);
  assert.ok(shrunk?.done);
  assert.equal((await qemuInfo(target))['virtual-size'], 36 * MiB);
  await sameGuestContent(src, target, 'qcow2');
  assert.equal(shrunk.digest, (await digestOf(a, src)).digest);
  assert.deepEqual(await nbdSockets(runB), []);
});

test('an IN_PLACE GUEST sync of a raw image goes through qemu-nbd too and ends byte-identical', async () => {
  const src = join(imagesA, 'plain.raw');
  const target = join(imagesB, 'plain.raw');
  await makeRaw(src, 8 * MiB, [[0, 6 * MiB]]);
  await run('cp', ['--sparse=always', src, target]);
  const ranges = [...(await change(src, randomBlocks(6, 4 * MiB))), ...(await change(src, [[4 * MiB, MiB]], true))];
  await truncate(src, 10 * MiB);
  ranges.push(...(await change(src, [[9 * MiB, 64 * KiB]])), { offset: 8 * MiB, length: MiB });
  const last = (await pull(await guestRequest(src, target, { mode: 'PULL_MODE_IN_PLACE', format: 'raw', ranges }))).at(-1);
  assert.ok(last?.done);
  await run('cmp', [src, target]);
  assert.equal(last.digest, (await digestOf(a, src)).digest);
});

/** Leaves a committed guest-qcow2 journal beside `target` that brings it to `src` (its changed `ranges` and size), as a pull killed after its commit would. */
async function leaveGuestJournal(src: string, target: string, ranges: Span[]): Promise<void> {
  const st = await stat(target, { bigint: true });
  const writer = await JournalWriter.create(journalPathFor(target), target);
  const bytes = await readFile(src);
  await writer.begin({ dev: st.dev, ino: st.ino, size: bytes.length, layer: 'guest-qcow2' });
  for (const r of ranges) {
    const data = bytes.subarray(r.offset, r.offset + r.length);
    if (data.equals(Buffer.alloc(data.length))) await writer.addZero(r.offset, data.length);
    else await writer.addData(r.offset, Buffer.from(data), chunkHash(data));
  }
  await writer.commit();
  await writer.close();
}

test('a committed guest journal left by a crash is rolled forward through qemu-nbd by recovery, and by an agent at its start', async () => {
  const src = join(imagesA, 'vm.raw');
  const target = join(imagesB, 'vm.qcow2');
  await sameGuestContent(src, target, 'qcow2');
  let ranges = [...(await change(src, randomBlocks(8, 32 * MiB))), ...(await change(src, [[0, MiB]], true))];
  await truncate(src, 38 * MiB);
  await leaveGuestJournal(src, target, ranges);
  const counts = await recoverAllJournals(rootsB, log, { runtimeDir: runB });
  assert.equal(counts.replayed, 1);
  assert.equal((await qemuInfo(target))['virtual-size'], 38 * MiB);
  await sameGuestContent(src, target, 'qcow2');
  assert.equal((await digestOf(b, target, 'EXTENT_LAYER_GUEST')).digest, (await digestOf(a, src)).digest);

  // Once more, settled by a real agent process starting on the same root (its runtime dir does not exist yet).
  ranges = await change(src, randomBlocks(5, 38 * MiB));
  await leaveGuestJournal(src, target, ranges);
  const runtime = join(dir, 'c', 'run');
  const agent = spawnAgent(['--socket', join(runtime, 'agent.sock'), '--images-root', imagesB, '--libvirt-uri', 'test:///default']);
  try {
    await waitForSocket(agent, join(runtime, 'agent.sock'));
    for (let i = 0; i < 200 && !agent.output.some((l) => l.includes('agent ready')); i += 1) await sleep(50);
    const line = agent.output.find((l) => l.includes('sync journal rolled forward into the image'));
    assert.ok(line?.includes('guest-qcow2'), `the start rolled the guest journal forward:\n${agent.output.join('\n')}`);
  } finally {
    agent.child.kill('SIGTERM');
    await agent.exited;
  }
  await sameGuestContent(src, target, 'qcow2');
  assert.equal((await qemuInfo(target)).format, 'qcow2');
  await stat(journalPathFor(target)).then(
    () => assert.fail('the journal is removed'),
    () => undefined,
  );
});

/** qemu-nbd processes this test process started that are still running. */
async function qemuNbdChildren(): Promise<string[]> {
  const out = await run('pgrep', ['-P', String(process.pid), 'qemu-nbd']).catch(() => ({ stdout: '' }));
  return out.stdout.split('\n').filter(Boolean);
}

test('a cancelled GUEST pull keeps its announced staging image and leaves no qemu-nbd behind', async () => {
  const src = join(imagesA, 'big.raw');
  await makeRaw(src, 96 * MiB, [[0, 96 * MiB]]);
  const target = join(imagesB, 'big.qcow2');
  const call = b.transfer.pullImage(await guestRequest(src, target), { deadline: Date.now() + 120_000 });
  const events: PullProgress__Output[] = [];
  const ended = new Promise<void>((resolve, reject) => {
    call.on('data', (e: PullProgress__Output) => {
      events.push(e);
      if (e.bytesDone > 0) call.cancel();
    });
    call.on('error', reject);
    call.on('end', resolve);
  });
  await rejectsWithStatus(ended, 'CANCELLED');
  const staging = events[0]?.stagingPath ?? '';
  assert.notEqual(staging, '');
  for (let i = 0; i < 100 && ((await nbdSockets(runB)).length > 0 || (await qemuNbdChildren()).length > 0); i += 1) await sleep(50);
  assert.deepEqual(await nbdSockets(runB), [], 'the qemu-nbd socket is gone');
  assert.deepEqual(await qemuNbdChildren(), [], 'qemu-nbd stopped');
  assert.equal((await qemuInfo(staging)).format, 'qcow2', 'the announced staging image is kept for a resume');
  await unaryCall(b.disk, b.disk.abortStaging, { targetPath: target, stagingId: events[0]?.stagingId }, T);
});

test("GUEST pulls refuse a format other than qcow2 or raw, and an in-place format that is not the target's", async () => {
  const src = join(imagesA, 'vm.raw');
  for (const format of ['vmdk', '', 'QCOW2']) {
    const details = await rejectsWithStatus(pull(await guestRequest(src, join(imagesB, 'bad.qcow2'), { format })), 'INVALID_ARGUMENT');
    assert.match(details, /format/);
  }
  await rejectsWithStatus(pull(await guestRequest(src, join(imagesB, 'vm.qcow2'), { format: 'vmdk', mode: 'PULL_MODE_IN_PLACE', ranges: [] })), 'INVALID_ARGUMENT');
  const details = await rejectsWithStatus(
    pull(await guestRequest(src, join(imagesB, 'vm.qcow2'), { format: 'raw', mode: 'PULL_MODE_IN_PLACE', ranges: [] })),
    'FAILED_PRECONDITION',
  );
  assert.match(details, /is a qcow2 image/);
  assert.deepEqual(
    (await readdir(imagesB)).filter((n) => n.includes('bad.qcow2') || n.endsWith('.kvmclone-journal')),
    [],
  );
});
