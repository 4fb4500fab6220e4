/**
 * Restore points of GUEST-layer (live) in-place pulls, with real qemu-img
 * and qemu-nbd on two in-process agents (as in guest-layer-*.test.ts, a raw
 * file on the source stands in for a running VM's point-in-time view: its
 * FILE layer is its guest view). Chains of offline (file-layer) and live
 * (guest-layer) points: on a raw copy each restores; on a qcow2 a live sync
 * drops the offline points before it, offline points after it restore
 * through it, and an offline point planted behind a live one is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { listPointFiles } from '../../agent/transfer/restore-point-files.js';
import { rejectsWithStatus } from '../support/grpc-status.js';
import { change, makeRaw, qemuInfo, run } from './support/image-files.js';
import { useInProcessAgents } from './support/in-process-agents.js';
import { digestOf, KiB, MiB, pointLayer, points, pull, restore, snapshot } from './support/live-points.js';

const agents = useInProcessAgents('kvmclone-livepoints-');

test('raw: a chain of offline (file-layer) and live (guest-layer) points restores to every point', async () => {
  const src = join(agents.imagesA, 'mixed.raw');
  const target = join(agents.imagesB, 'mixed.raw');
  await makeRaw(src, 8 * MiB, [[0, 4 * MiB]]);
  await copyFile(src, target);
  const states = [await snapshot(agents, src, 'mixed-0')];
  const kinds = ['file', 'guest', 'file', 'guest'] as const;
  for (const [i, kind] of kinds.entries()) {
    const ranges = await change(src, [
      [i * MiB, 128 * KiB],
      [6 * MiB + i * 64 * KiB, 64 * KiB],
    ]);
    const extra = kind === 'file' ? { layer: 'EXTENT_LAYER_FILE', format: 'raw' } : { format: 'raw' };
    await pull(agents, src, target, ranges, { ...extra, keepPoints: 4 });
    states.push(await snapshot(agents, src, `mixed-${i + 1}`));
  }
  const kept = await points(agents, target);
  assert.deepEqual(await Promise.all(kept.map((p) => pointLayer(target, p.id))), ['guest-raw', 'file', 'guest-raw', 'file']);
  // Second newest first (through one live point), then the oldest (through a live and an offline one).
  assert.equal((await restore(agents, target, kept[1]?.id ?? '')).digest, states[2]?.digest);
  await run('cmp', [states[2]?.copy ?? '', target]);
  assert.equal((await restore(agents, target, kept[3]?.id ?? '')).digest, states[0]?.digest);
  await run('cmp', [states[0]?.copy ?? '', target]);
});

/** An offline sync of `srcQcow2` into `target`: the source qcow2 file as stored (its whole length: the test does not diff), keeping a file-layer point. */
async function offlineSync(srcQcow2: string, target: string, writes: string[]): Promise<void> {
  await run('qemu-io', ['-f', 'qcow2', ...writes.flatMap((w) => ['-c', w]), srcQcow2]);
  await pull(agents, srcQcow2, target, [{ offset: 0, length: (await stat(srcQcow2)).size }], { layer: 'EXTENT_LAYER_FILE', format: 'qcow2', keepPoints: 4 });
  await run('cmp', [srcQcow2, target]);
}

/**
 * A live sync of `srcQcow2` into `target`: a raw view of the source's guest content, changed at `at`, written through
 * the format (the changed range, or with `whole` every byte, as a hash delta would find them after a restore); returns
 * the view's digest.
 */
async function liveSync(srcQcow2: string, target: string, at: number, whole = false): Promise<string> {
  const view = join(agents.imagesA, 'mix-view.raw');
  await run('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', srcQcow2, view]);
  const ranges = await change(view, [[at, 256 * KiB]]);
  // The source follows (as the running VM would have written it), for the offline syncs after.
  await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', '-o', 'compat=1.1', view, srcQcow2]);
  const last = await pull(agents, view, target, whole ? [{ offset: 0, length: 8 * MiB }] : ranges, { format: 'qcow2', keepPoints: 4 });
  const digest = await digestOf(agents.a, view);
  assert.equal(last.digest, digest);
  return digest;
}

test('qcow2: a live sync drops the offline points before it; offline points newer than a live one restore through it; a planted offline point behind a live one is refused', async () => {
  // A qcow2 on the source, byte-identical on the destination (as an offline clone leaves it).
  const srcQcow2 = join(agents.imagesA, 'mix.qcow2');
  const target = join(agents.imagesB, 'mix.qcow2');
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'compat=1.1', srcQcow2, String(8 * MiB)]);
  await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x11 0 2M', srcQcow2]);
  await copyFile(srcQcow2, target);
  const v0File = await digestOf(agents.b, target);
  await offlineSync(srcQcow2, target, ['write -P 0x22 1M 1M', 'write -P 0x33 5M 512k']);
  const v1 = await digestOf(agents.b, target, 'EXTENT_LAYER_GUEST');
  const [offline] = await points(agents, target);
  assert.ok(offline);
  assert.equal(offline.digest, v0File, "an offline point's digest is of the file as stored");
  const planted = join(agents.dir, 'planted-point');
  const offlineFile = (await listPointFiles(target))[0];
  assert.ok(offlineFile);
  await run('cp', ['-p', offlineFile.path, planted]);

  // The live sync's apply writes through the format: the offline point before it cannot restore any more and goes.
  const v2 = await liveSync(srcQcow2, target, 3 * MiB);
  const [live, ...older] = await points(agents, target);
  assert.ok(live);
  assert.deepEqual(older, [], 'the offline point before the live sync was removed');
  assert.equal(await pointLayer(target, live.id), 'guest-qcow2');
  assert.equal(live.digest, v1, "a live point's digest is of the guest view");
  assert.equal(await digestOf(agents.b, target, 'EXTENT_LAYER_GUEST'), v2);

  // An offline sync after the live one: its file-layer point restores the exact file the live sync left, then the live point goes on.
  await offlineSync(srcQcow2, target, ['write -P 0x44 6M 1M']);
  const v3 = await digestOf(agents.b, target, 'EXTENT_LAYER_GUEST');
  const chain = await points(agents, target);
  assert.deepEqual(await Promise.all(chain.map((p) => pointLayer(target, p.id))), ['file', 'guest-qcow2']);
  assert.equal((await restore(agents, target, live.id)).digest, v1, 'restored through an offline point to the live one');
  assert.equal(await digestOf(agents.b, target, 'EXTENT_LAYER_GUEST'), v1);
  assert.equal((await qemuInfo(target)).format, 'qcow2');
  assert.notEqual(v3, v1);

  // The safety net: an offline point put back behind a live one (by hand) is refused before anything changes.
  const v4 = await liveSync(srcQcow2, target, 4 * MiB, true);
  const [newest] = await points(agents, target);
  assert.ok(newest);
  await run('cp', ['-p', planted, (await listPointFiles(target))[0]?.path.replace(/point-\d+$/, `point-${BigInt(newest.id) - 1n}`) ?? '']);
  const both = await points(agents, target);
  assert.equal(both.length, 2);
  const refused = await rejectsWithStatus(restore(agents, target, both[1]?.id ?? ''), 'FAILED_PRECONDITION');
  assert.match(refused, /kept by an offline sync.*restore point \d+ was kept by a live sync.*nothing was changed/);
  assert.equal(await digestOf(agents.b, target, 'EXTENT_LAYER_GUEST'), v4, 'nothing was changed');
  assert.equal((await points(agents, target)).length, 2);
});
