/**
 * Restore points of GUEST-layer (live) in-place pulls, with real qemu-img
 * and qemu-nbd on two in-process agents (as in guest-layer.test.ts, a raw
 * file on the source stands in for a running VM's point-in-time view: its
 * FILE layer is its guest view). Each sync keeps an undo record read through
 * the destination's format; restoring to each point must give exactly the
 * guest content the source had at that sync — by digest and by qemu-img
 * compare — for a qcow2 and a raw copy, the qcow2 staying a qcow2. Also:
 * what the points cost, a restore cut short and a pull killed after its
 * commit both finished by recovery through the format, a chain of
 * offline and live points on a raw copy, and the refusals of a qcow2 chain
 * where an offline point would be applied after a write through the format.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, open, readdir, readFile, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { createAgentClients, unaryCall, type AgentClients } from '../../shared/agent-clients.js';
import type { ExtentLayer } from '../../shared/generated/kvmclone/agent/v1/ExtentLayer.js';
import type { PullProgress__Output } from '../../shared/generated/kvmclone/agent/v1/PullProgress.js';
import type { RestorePointProgress__Output } from '../../shared/generated/kvmclone/agent/v1/RestorePointProgress.js';
import { FakeLibvirt } from '../../agent/libvirt/fake-libvirt.js';
import { ImageRoots } from '../../agent/paths/image-roots.js';
import { startAgentServer, type RunningAgentServer } from '../../agent/server/agent-server.js';
import { journalPathFor } from '../../agent/transfer/journal-file.js';
import { decodeHeader, HEADER_BYTES } from '../../agent/transfer/journal-format.js';
import { recoverAllJournals } from '../../agent/transfer/journal-recovery.js';
import { JournalWriter } from '../../agent/transfer/journal-writer.js';
import { encodePointNote, listPointFiles, recordedTip, undoNameFor } from '../../agent/transfer/restore-point-files.js';
import { captureUndo } from '../../agent/transfer/undo-capture.js';
import { guestUndoSource } from '../../agent/transfer/undo-sources.js';
import { withGuestImage } from '../../agent/guest/guest-image.js';
import { chunkHash } from '../../shared/block-hash.js';
import { rejectsWithStatus } from '../support/grpc-status.js';
import { PeerBroker } from '../support/peer-broker.js';

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

/** An in-place pull of A's `source` into B's `target`: GUEST layer unless `extra` says otherwise. */
async function pull(source: string, target: string, ranges: Span[], extra: object): Promise<PullProgress__Output> {
  const { peerSocket, ticket } = await broker(source);
  const request: object = {
    peerSocket,
    ticket,
    sourcePath: source,
    targetPath: target,
    stagingId: '',
    operationId: randomUUID(),
    ranges,
    mode: 'PULL_MODE_IN_PLACE',
    layer: 'EXTENT_LAYER_GUEST',
    ...extra,
  };
  const events = await new Promise<PullProgress__Output[]>((resolve, reject) => {
    const got: PullProgress__Output[] = [];
    const call = b.transfer.pullImage(request, { deadline: Date.now() + 120_000 });
    call.on('data', (e: PullProgress__Output) => got.push(e));
    call.on('error', reject);
    call.on('end', () => resolve(got));
  });
  const last = events.at(-1);
  assert.ok(last?.done, 'the pull ends with its final message');
  return last;
}

/** RestorePoint on B; resolves with the final message. */
function restore(target: string, pointId: string): Promise<RestorePointProgress__Output> {
  const call = b.transfer.restorePoint({ targetPath: target, pointId, destVm: '', operationId: randomUUID() }, { deadline: Date.now() + 120_000 });
  return new Promise((resolve, reject) => {
    let last: RestorePointProgress__Output | undefined;
    call.on('data', (e: RestorePointProgress__Output) => (last = e));
    call.on('error', reject);
    call.on('end', () => (last?.done ? resolve(last) : reject(new Error('the restore ended without its final message'))));
  });
}

async function points(target: string): Promise<{ id: string; digest: string; sizeBytes: number; imageSize: number }[]> {
  const res = await unaryCall(b.transfer, b.transfer.listRestorePoints, { targetPath: target }, T);
  return res.points.map((p) => ({ id: p.id, digest: p.digest, sizeBytes: Number(p.sizeBytes), imageSize: Number(p.imageSize) }));
}

const digestOf = async (clients: AgentClients, path: string, layer: ExtentLayer = 'EXTENT_LAYER_FILE'): Promise<string> =>
  (await unaryCall(clients.disk, clients.disk.digestImage, { path, layer }, T)).digest;

async function qemuInfo(path: string): Promise<{ format: string; 'virtual-size': number }> {
  return JSON.parse((await run('qemu-img', ['info', '--output=json', '--force-share', path])).stdout) as { format: string; 'virtual-size': number };
}

/** qemu-img compare of a raw file with an image of `format` (exit 0 = same guest content). */
async function sameGuestContent(rawPath: string, image: string, format: string): Promise<void> {
  await run('qemu-img', ['compare', '-q', '-f', 'raw', '-F', format, rawPath, image]);
}

interface Span {
  offset: number;
  length: number;
}

/** Overwrites spans of a raw file with random bytes (or zeros); returns them as ranges. */
async function change(path: string, spans: [number, number][], zero = false): Promise<Span[]> {
  const fh = await open(path, 'r+');
  for (const [offset, length] of spans) await fh.write(zero ? Buffer.alloc(length) : randomBytes(length), 0, length, offset);
  await fh.close();
  return spans.map(([offset, length]) => ({ offset, length }));
}

/** A raw source of `size` bytes, data over `spans`, holes elsewhere. */
async function makeRaw(path: string, size: number, spans: [number, number][]): Promise<void> {
  const fh = await open(path, 'w');
  await fh.truncate(size);
  for (const [offset, length] of spans) await fh.write(randomBytes(length), 0, length, offset);
  await fh.close();
}

/** The source's state: its digest (a raw file: the guest view's) and a copy of its bytes, for qemu-img compare. */
async function snapshot(src: string, tag: string): Promise<{ digest: string; copy: string }> {
  const copy = join(dir, `${tag}.raw`);
  await copyFile(src, copy);
  return { digest: await digestOf(a, src), copy };
}

/** The journal layer written in the header of point `id` of `target`. */
async function pointLayer(target: string, id: string): Promise<string> {
  const point = (await listPointFiles(target)).find((p) => String(p.id) === id);
  assert.ok(point, `point ${id} is beside ${target}`);
  const fh = await open(point.path, 'r');
  try {
    const head = Buffer.alloc(HEADER_BYTES);
    await fh.read(head, 0, HEADER_BYTES, 0);
    return decodeHeader(head).layer ?? 'file';
  } finally {
    await fh.close();
  }
}

const nbdSockets = async (): Promise<string[]> => (await readdir(runB)).filter((n) => n.startsWith('nbd-'));

/**
 * Three live syncs with keep 3 into B's `target` (of `format`): changed blocks, a zeroed region, growth, then a
 * shrink — the second one checked by changed blocks (digest_ranges) like a bitmap delta. Returns the source's state
 * before each sync and the points, newest first.
 */
async function threeLiveSyncs(name: string, format: 'qcow2' | 'raw'): Promise<{ src: string; target: string; states: { digest: string; copy: string }[] }> {
  const src = join(imagesA, `${name}.raw`);
  const target = join(imagesB, `${name}.${format}`);
  await makeRaw(src, 16 * MiB, [
    [0, 2 * MiB],
    [5 * MiB, 3 * MiB],
    [12 * MiB, MiB],
  ]);
  await run('qemu-img', ['convert', '-f', 'raw', '-O', format, src, target]);
  const states = [await snapshot(src, `${name}-0`)];
  // 1: scattered blocks and a zeroed MiB where there was data.
  let ranges = [
    ...(await change(src, [
      [64 * KiB, 64 * KiB],
      [5 * MiB, 256 * KiB],
      [9 * MiB, 128 * KiB],
    ])),
    ...(await change(src, [[12 * MiB, MiB]], true)),
  ];
  let last = await pull(src, target, ranges, { format, keepPoints: 3, pointLabel: 'live 1' });
  assert.equal(last.digest, await digestOf(a, src));
  states.push(await snapshot(src, `${name}-1`));
  // 2: growth to 20 MiB with data in the new tail, verified by changed blocks only.
  await truncate(src, 20 * MiB);
  ranges = [
    ...(await change(src, [
      [MiB, 64 * KiB],
      [18 * MiB, 512 * KiB],
    ])),
    { offset: 16 * MiB, length: 2 * MiB },
    { offset: 18 * MiB + 512 * KiB, length: 1536 * KiB },
  ];
  ranges.sort((x, y) => x.offset - y.offset);
  last = await pull(src, target, ranges, { format, keepPoints: 3, pointLabel: 'live 2', digestRanges: true });
  assert.match(last.digest, /^blake3-ranges:/, 'a changed-block check');
  states.push(await snapshot(src, `${name}-2`));
  // 3: a shrink to 10 MiB that cuts data off, and one changed block.
  await truncate(src, 10 * MiB);
  ranges = await change(src, [[5 * MiB + 64 * KiB, 64 * KiB]]);
  last = await pull(src, target, ranges, { format, keepPoints: 3, pointLabel: 'live 3' });
  assert.equal(last.digest, await digestOf(a, src));
  assert.equal((await qemuInfo(target))['virtual-size'], 10 * MiB);
  return { src, target, states };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvmclone-livepoints-'));
  const sa = await startAgent('a');
  const sb = await startAgent('b');
  a = sa.clients;
  b = sb.clients;
  imagesA = sa.images;
  imagesB = sb.images;
  runB = sb.runtime;
  peers = new PeerBroker(() => a, runB);
  rootsB = sb.roots;
});

after(async () => {
  peers?.close();
  a?.close();
  b?.close();
  for (const s of servers) await s.close(1000);
  servers = [];
  await rm(dir, { recursive: true, force: true });
});

for (const format of ['qcow2', 'raw'] as const) {
  test(`${format}: three live syncs with keep 3 keep three guest-layer points of what they overwrote; restoring to each in turn gives the source's guest content at that sync`, async () => {
    const { target, states } = await threeLiveSyncs(`three-${format}`, format);
    const kept = await points(target);
    assert.equal(kept.length, 3);
    // Newest first: point k restores the state before sync k.
    assert.deepEqual(
      kept.map((p) => p.digest),
      [states[2]?.digest, states[1]?.digest, states[0]?.digest],
      "each point's digest is the source's guest view before its sync",
    );
    assert.deepEqual(
      kept.map((p) => p.imageSize),
      [20 * MiB, 16 * MiB, 16 * MiB],
      'each point restores the virtual size before its sync',
    );
    for (const p of kept) assert.equal(await pointLayer(target, p.id), `guest-${format}`);
    // The shrink's point holds the cut-off tail's data (3.5 MiB at most), the others about what they overwrote.
    assert.ok((kept[0]?.sizeBytes ?? 0) <= 4 * MiB + 256 * KiB, `the shrink's point: ${kept[0]?.sizeBytes}`);
    assert.ok((kept[1]?.sizeBytes ?? 0) <= 256 * KiB, `the growth's point holds the one overwritten block: ${kept[1]?.sizeBytes}`);
    assert.ok((kept[2]?.sizeBytes ?? 0) <= 1536 * KiB, `the first point holds at most what the sync overwrote: ${kept[2]?.sizeBytes}`);
    // The newest point's tip is a whole guest-view digest even after a sync checked by changed blocks.
    const newestFile = (await listPointFiles(target))[0];
    assert.equal(newestFile && recordedTip(newestFile.path)?.layer, 'guest');

    for (const [i, p] of kept.entries()) {
      const state = states[2 - i];
      assert.ok(state);
      const done = await restore(target, p.id);
      assert.equal(done.digest, state.digest, `restored to point ${i + 1} of 3`);
      assert.equal(await digestOf(b, target, 'EXTENT_LAYER_GUEST'), state.digest);
      assert.equal((await qemuInfo(target)).format, format, `still a ${format}`);
      await sameGuestContent(state.copy, target, format);
      assert.equal((await points(target)).length, 2 - i, 'the point restored to is used up');
    }
    assert.deepEqual(await nbdSockets(), [], 'no qemu-nbd left behind');
  });
}

test('qcow2: restoring straight to the oldest live point rolls back through the newer ones; a live sync after a restore keeps a new chain', async () => {
  const { src, target, states } = await threeLiveSyncs('oldest', 'qcow2');
  const kept = await points(target);
  const oldest = kept.at(-1);
  assert.ok(oldest);
  assert.equal((await restore(target, oldest.id)).digest, states[0]?.digest);
  await sameGuestContent(states[0]?.copy ?? '', target, 'qcow2');
  assert.deepEqual(await points(target), []);
  // The copy is back at state 0 (16 MiB); the source is at 10 MiB: a hash delta would send what differs. Here: everything.
  const before = await digestOf(b, target, 'EXTENT_LAYER_GUEST');
  const last = await pull(src, target, [{ offset: 0, length: 10 * MiB }], { format: 'qcow2', keepPoints: 2 });
  assert.equal(last.digest, await digestOf(a, src));
  const fresh = await points(target);
  assert.equal(fresh.length, 1);
  assert.equal(fresh[0]?.digest, before, 'the new point is of the restored state');
  assert.equal((await restore(target, fresh[0]?.id ?? '')).digest, before);
});

test('a restore cut short after its point became the journal is finished by recovery through the format; the older points still restore', async () => {
  const { target, states } = await threeLiveSyncs('crash', 'qcow2');
  const [newest, middle, oldest] = await points(target);
  assert.ok(newest && middle && oldest);
  // What RestorePoint does first for the newest point, and a kill right after: the point renamed into the journal slot.
  const file = (await listPointFiles(target))[0];
  assert.ok(file);
  await run('mv', [file.path, journalPathFor(target)]);
  const counts = await recoverAllJournals(rootsB, log, { runtimeDir: runB });
  assert.equal(counts.replayed, 1);
  assert.equal(await digestOf(b, target, 'EXTENT_LAYER_GUEST'), states[2]?.digest, 'the point was applied through the format');
  await sameGuestContent(states[2]?.copy ?? '', target, 'qcow2');
  assert.deepEqual(
    (await points(target)).map((p) => p.id),
    [middle.id, oldest.id],
  );
  // No tip was recorded by the cut-short restore: the next one still checks its result by digest.
  assert.equal((await restore(target, oldest.id)).digest, states[0]?.digest);
  await sameGuestContent(states[0]?.copy ?? '', target, 'qcow2');
});

test('a live pull killed after its commit (guest journal and sealed guest undo beside the qcow2) is rolled forward at start-up, and its undo is a point that restores', async () => {
  const src = join(imagesA, 'killed.raw');
  const target = join(imagesB, 'killed.qcow2');
  await makeRaw(src, 8 * MiB, [[0, 3 * MiB]]);
  await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', src, target]);
  const before = await snapshot(src, 'killed-0');
  const ranges = await change(src, [
    [MiB, 256 * KiB],
    [5 * MiB, 64 * KiB],
  ]);
  const after = await snapshot(src, 'killed-1');
  // What the pull leaves when killed right after its commit: the journal (new bytes) and the undo (old ones, read through the format), both sealed, same id.
  const st = await stat(target, { bigint: true });
  const id = 1_700_000_000_000n;
  const bytes = await readFile(src);
  const journal = await JournalWriter.create(journalPathFor(target), target);
  await journal.begin({ dev: st.dev, ino: st.ino, size: bytes.length, layer: 'guest-qcow2', id });
  for (const r of ranges) await journal.addData(r.offset, bytes.subarray(r.offset, r.offset + r.length), chunkHash(bytes.subarray(r.offset, r.offset + r.length)));
  const undo = await JournalWriter.create(join(imagesB, undoNameFor(target)), target);
  const note = encodePointNote({ id: String(id), createdMs: Date.now(), digest: before.digest, label: 'killed', operationId: randomUUID(), keep: 2 });
  await withGuestImage(target, 'qcow2', { writable: false, runtimeDir: runB, signal: AbortSignal.timeout(60_000) }, (image) =>
    captureUndo(
      {
        source: guestUndoSource(image.client),
        layer: 'guest-qcow2',
        dev: st.dev,
        ino: st.ino,
        oldSize: image.size,
        newSize: bytes.length,
        spans: journal.writtenSpans(),
        id,
        note,
      },
      undo,
      AbortSignal.timeout(60_000),
    ),
  );
  await undo.close();
  await journal.commit();
  await journal.close();
  const counts = await recoverAllJournals(rootsB, log, { runtimeDir: runB });
  assert.equal(counts.replayed, 1);
  await sameGuestContent(after.copy, target, 'qcow2');
  const [point] = await points(target);
  assert.equal(point?.id, String(id), 'the sealed undo of the committed journal became the point');
  assert.equal(await pointLayer(target, String(id)), 'guest-qcow2');
  // No tip was recorded (the pull never got that far): the restore checks its result by digest.
  assert.equal((await restore(target, String(id))).digest, before.digest);
  await sameGuestContent(before.copy, target, 'qcow2');
});

test('raw: a chain of offline (file-layer) and live (guest-layer) points restores to every point', async () => {
  const src = join(imagesA, 'mixed.raw');
  const target = join(imagesB, 'mixed.raw');
  await makeRaw(src, 8 * MiB, [[0, 4 * MiB]]);
  await copyFile(src, target);
  const states = [await snapshot(src, 'mixed-0')];
  const kinds = ['file', 'guest', 'file', 'guest'] as const;
  for (const [i, kind] of kinds.entries()) {
    const ranges = await change(src, [
      [i * MiB, 128 * KiB],
      [6 * MiB + i * 64 * KiB, 64 * KiB],
    ]);
    const extra = kind === 'file' ? { layer: 'EXTENT_LAYER_FILE', format: 'raw' } : { format: 'raw' };
    await pull(src, target, ranges, { ...extra, keepPoints: 4 });
    states.push(await snapshot(src, `mixed-${i + 1}`));
  }
  const kept = await points(target);
  assert.deepEqual(await Promise.all(kept.map((p) => pointLayer(target, p.id))), ['guest-raw', 'file', 'guest-raw', 'file']);
  // Second newest first (through one live point), then the oldest (through a live and an offline one).
  assert.equal((await restore(target, kept[1]?.id ?? '')).digest, states[2]?.digest);
  await run('cmp', [states[2]?.copy ?? '', target]);
  assert.equal((await restore(target, kept[3]?.id ?? '')).digest, states[0]?.digest);
  await run('cmp', [states[0]?.copy ?? '', target]);
});

test('qcow2: a live sync drops the offline points before it; offline points newer than a live one restore through it; a planted offline point behind a live one is refused', async () => {
  // A qcow2 on the source, byte-identical on the destination (as an offline clone leaves it).
  const srcQcow2 = join(imagesA, 'mix.qcow2');
  const target = join(imagesB, 'mix.qcow2');
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'compat=1.1', srcQcow2, String(8 * MiB)]);
  await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x11 0 2M', srcQcow2]);
  await copyFile(srcQcow2, target);
  const v0File = await digestOf(b, target);
  /** An offline sync: the source qcow2 file as stored (its whole length: the test does not diff), keeping a file-layer point. */
  const offlineSync = async (writes: string[]): Promise<void> => {
    await run('qemu-io', ['-f', 'qcow2', ...writes.flatMap((w) => ['-c', w]), srcQcow2]);
    await pull(srcQcow2, target, [{ offset: 0, length: (await stat(srcQcow2)).size }], { layer: 'EXTENT_LAYER_FILE', format: 'qcow2', keepPoints: 4 });
    await run('cmp', [srcQcow2, target]);
  };
  /**
   * A live sync: a raw view of the source's guest content, changed at `at`, written through the format (the changed
   * range, or with `whole` every byte, as a hash delta would find them after a restore); returns the view's digest.
   */
  const liveSync = async (at: number, whole = false): Promise<string> => {
    const view = join(imagesA, 'mix-view.raw');
    await run('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', srcQcow2, view]);
    const ranges = await change(view, [[at, 256 * KiB]]);
    // The source follows (as the running VM would have written it), for the offline syncs after.
    await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', '-o', 'compat=1.1', view, srcQcow2]);
    const last = await pull(view, target, whole ? [{ offset: 0, length: 8 * MiB }] : ranges, { format: 'qcow2', keepPoints: 4 });
    const digest = await digestOf(a, view);
    assert.equal(last.digest, digest);
    return digest;
  };

  await offlineSync(['write -P 0x22 1M 1M', 'write -P 0x33 5M 512k']);
  const v1 = await digestOf(b, target, 'EXTENT_LAYER_GUEST');
  const [offline] = await points(target);
  assert.ok(offline);
  assert.equal(offline.digest, v0File, "an offline point's digest is of the file as stored");
  const planted = join(dir, 'planted-point');
  const offlineFile = (await listPointFiles(target))[0];
  assert.ok(offlineFile);
  await run('cp', ['-p', offlineFile.path, planted]);

  // The live sync's apply writes through the format: the offline point before it cannot restore any more and goes.
  const v2 = await liveSync(3 * MiB);
  const [live, ...older] = await points(target);
  assert.ok(live);
  assert.deepEqual(older, [], 'the offline point before the live sync was removed');
  assert.equal(await pointLayer(target, live.id), 'guest-qcow2');
  assert.equal(live.digest, v1, "a live point's digest is of the guest view");
  assert.equal(await digestOf(b, target, 'EXTENT_LAYER_GUEST'), v2);

  // An offline sync after the live one: its file-layer point restores the exact file the live sync left, then the live point goes on.
  await offlineSync(['write -P 0x44 6M 1M']);
  const v3 = await digestOf(b, target, 'EXTENT_LAYER_GUEST');
  const chain = await points(target);
  assert.deepEqual(await Promise.all(chain.map((p) => pointLayer(target, p.id))), ['file', 'guest-qcow2']);
  assert.equal((await restore(target, live.id)).digest, v1, 'restored through an offline point to the live one');
  assert.equal(await digestOf(b, target, 'EXTENT_LAYER_GUEST'), v1);
  assert.equal((await qemuInfo(target)).format, 'qcow2');
  assert.notEqual(v3, v1);

  // The safety net: an offline point put back behind a live one (by hand) is refused before anything changes.
  const v4 = await liveSync(4 * MiB, true);
  const [newest] = await points(target);
  assert.ok(newest);
  await run('cp', ['-p', planted, (await listPointFiles(target))[0]?.path.replace(/point-\d+$/, `point-${BigInt(newest.id) - 1n}`) ?? '']);
  const both = await points(target);
  assert.equal(both.length, 2);
  const refused = await rejectsWithStatus(restore(target, both[1]?.id ?? ''), 'FAILED_PRECONDITION');
  assert.match(refused, /kept by an offline sync.*restore point \d+ was kept by a live sync.*nothing was changed/);
  assert.equal(await digestOf(b, target, 'EXTENT_LAYER_GUEST'), v4, 'nothing was changed');
  assert.equal((await points(target)).length, 2);
});
