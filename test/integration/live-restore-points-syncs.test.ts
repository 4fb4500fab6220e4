/**
 * Restore points of GUEST-layer (live) in-place pulls, with real qemu-img
 * and qemu-nbd on two in-process agents (as in guest-layer-*.test.ts, a raw
 * file on the source stands in for a running VM's point-in-time view: its
 * FILE layer is its guest view). Each sync keeps an undo record read through
 * the destination's format; restoring to each point must give exactly the
 * guest content the source had at that sync — by digest and by qemu-img
 * compare — for a qcow2 and a raw copy, the qcow2 staying a qcow2; what the
 * points cost; a restore straight to the oldest point, and a new chain after.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listPointFiles, recordedTip } from '../../agent/transfer/restore-point-files.js';
import { nbdSockets, qemuInfo, sameGuestContent } from './support/image-files.js';
import { useInProcessAgents } from './support/in-process-agents.js';
import { assertThreePointsUndoTheSyncs } from './support/three-points.js';
import { digestOf, KiB, MiB, pointLayer, points, pull, restore, threeLiveSyncs } from './support/live-points.js';

const agents = useInProcessAgents('kvmclone-livepoints-');

for (const format of ['qcow2', 'raw'] as const) {
  test(`${format}: three live syncs with keep 3 keep three guest-layer points of what they overwrote; restoring to each in turn gives the source's guest content at that sync`, async () => {
    const { target, states } = await threeLiveSyncs(agents, `three-${format}`, format);
    const kept = await points(agents, target);
    assertThreePointsUndoTheSyncs(kept, states, [20 * MiB, 16 * MiB, 16 * MiB], "the source's guest view");
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
      const done = await restore(agents, target, p.id);
      assert.equal(done.digest, state.digest, `restored to point ${i + 1} of 3`);
      assert.equal(await digestOf(agents.b, target, 'EXTENT_LAYER_GUEST'), state.digest);
      assert.equal((await qemuInfo(target)).format, format, `still a ${format}`);
      await sameGuestContent(state.copy, target, format);
      assert.equal((await points(agents, target)).length, 2 - i, 'the point restored to is used up');
    }
    assert.deepEqual(await nbdSockets(agents.runB), [], 'no qemu-nbd left behind');
  });
}

test('qcow2: restoring straight to the oldest live point rolls back through the newer ones; a live sync after a restore keeps a new chain', async () => {
  const { src, target, states } = await threeLiveSyncs(agents, 'oldest', 'qcow2');
  const kept = await points(agents, target);
  const oldest = kept.at(-1);
  assert.ok(oldest);
  assert.equal((await restore(agents, target, oldest.id)).digest, states[0]?.digest);
  await sameGuestContent(states[0]?.copy ?? '', target, 'qcow2');
  assert.deepEqual(await points(agents, target), []);
  // The copy is back at state 0 (16 MiB); the source is at 10 MiB: a hash delta would send what differs. Here: everything.
  const before = await digestOf(agents.b, target, 'EXTENT_LAYER_GUEST');
  const last = await pull(agents, src, target, [{ offset: 0, length: 10 * MiB }], { format: 'qcow2', keepPoints: 2 });
  assert.equal(last.digest, await digestOf(agents.a, src));
  const fresh = await points(agents, target);
  assert.equal(fresh.length, 1);
  assert.equal(fresh[0]?.digest, before, 'the new point is of the restored state');
  assert.equal((await restore(agents, target, fresh[0]?.id ?? '')).digest, before);
});
