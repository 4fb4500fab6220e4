/**
 * Restore points between two real agent processes: in-place pulls with
 * keep_points leave undo records beside the image, ListRestorePoints shows
 * them, RestorePoint rolls the image back through them (each result equal,
 * byte for byte and by digest, to the source as it was then); a sync without
 * keep_points, RemoveRestorePoints and pruning to keep drop points, and a
 * restore onto an image changed after its newest point is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { unaryCall } from '../../shared/agent-clients.js';
import { journalPathFor } from '../../agent/transfer/journal-file.js';
import { rejectsWithStatus } from '../support/grpc-status.js';
import { useAgentProcesses } from './support/agent-processes.js';
import { gone, sha256 } from './support/image-files.js';
import { assertThreePointsUndoTheSyncs } from './support/three-points.js';
import { change, KiB, MiB, points, pull, restore, T, threeSyncs, twin } from './support/restore-point-pulls.js';

const agents = useAgentProcesses('kvmclone-points-');

test('three syncs with keep 3 keep three points; restoring to each in turn gives that state of the source, byte for byte and by digest', async () => {
  const name = 'three.raw';
  const states = await threeSyncs(agents, name);
  const listed = await points(agents, name);
  assertThreePointsUndoTheSyncs(listed, states, [10 * MiB, 8 * MiB, 8 * MiB], "the source's");
  assert.deepEqual(
    listed.map((p) => p.label),
    ['sync 3', 'sync 2', 'sync 1'],
  );
  // Each point costs about what its sync overwrote, far less than the image.
  assert.ok(
    listed.every((p) => p.sizeBytes < 3 * MiB),
    `points take ${listed.map((p) => p.sizeBytes).join(', ')} bytes`,
  );
  for (const [i, point] of listed.entries()) {
    const events = await restore(agents, name, point.id);
    const last = events.at(-1);
    assert.ok(last?.done);
    assert.equal(last.pointsTotal, 1);
    const state = states[2 - i];
    assert.equal(last.digest, state?.digest, 'the restored digest is the point’s');
    assert.equal(await sha256(join(agents.imagesB, name)), state?.sha, `restored to point ${i + 1} from the newest: equal to the source then`);
    assert.equal((await points(agents, name)).length, 2 - i, 'the point restored to is consumed');
  }
  assert.ok(await gone(journalPathFor(join(agents.imagesB, name))), 'no journal is left');
});

test('restoring straight to the oldest point rolls back through the newer ones and discards them; a fourth sync prunes to keep', async () => {
  const name = 'oldest.raw';
  const states = await threeSyncs(agents, name);
  const listed = await points(agents, name);
  const events = await restore(agents, name, listed[2]?.id ?? '');
  assert.deepEqual(
    events.filter((e) => e.phase === 'apply').map((e) => e.pointId),
    listed.map((p) => p.id),
    'applied newest first',
  );
  assert.equal(await sha256(join(agents.imagesB, name)), states[0]?.sha);
  assert.deepEqual(await points(agents, name), [], 'the newer points are gone (like zfs rollback -r)');

  // Synced forward again four times with keep 3: the oldest goes.
  for (let i = 0; i < 4; i += 1) {
    const ranges = i === 0 ? [{ offset: 0, length: 6 * MiB }] : await change(agents, name, [[i * MiB, 64 * KiB]]);
    await pull(agents, name, ranges, { keepPoints: 3 });
  }
  assert.equal((await points(agents, name)).length, 3);
});

test('a sync without keep_points removes the points', async () => {
  const name = 'nokeep.raw';
  await twin(agents, name, 4 * MiB);
  await pull(agents, name, await change(agents, name, [[0, 64 * KiB]]), { keepPoints: 2 });
  await pull(agents, name, await change(agents, name, [[2 * MiB, 64 * KiB]]), { keepPoints: 2 });
  const two = await points(agents, name);
  assert.equal(two.length, 2);
  const removed = await unaryCall(agents.b.transfer, agents.b.transfer.removeRestorePoints, { targetPath: join(agents.imagesB, name), keep: 1 }, T);
  assert.deepEqual(removed.removed, [two[1]?.id], 'RemoveRestorePoints drops the oldest beyond keep');
  assert.deepEqual(
    (await points(agents, name)).map((p) => p.id),
    [two[0]?.id],
  );
  await pull(agents, name, await change(agents, name, [[MiB, 64 * KiB]]), {});
  assert.deepEqual(await points(agents, name), [], 'a change without an undo record breaks the chain: the points are removed');
});

test('a restore is refused, nothing changed, when the image changed after the newest point; points are no leftovers', async () => {
  const name = 'changed.raw';
  await twin(agents, name, 4 * MiB);
  await pull(agents, name, await change(agents, name, [[0, 64 * KiB]]), { keepPoints: 2 });
  const [point] = await points(agents, name);
  assert.ok(point);
  const leftovers = await unaryCall(agents.b.transfer, agents.b.transfer.removeLeftovers, { minAgeSeconds: 0, dryRun: false }, T);
  assert.ok(![...leftovers.removed, ...leftovers.kept].some((l) => l.path.includes('kvmclone-point')), 'gc neither removes nor lists a point');
  assert.equal((await points(agents, name)).length, 1);
  const fh = await open(join(agents.imagesB, name), 'r+');
  await fh.write(Buffer.from('written after the sync'), 0, 22, 2 * MiB);
  await fh.close();
  const before = await sha256(join(agents.imagesB, name));
  const details = await rejectsWithStatus(restore(agents, name, point.id), 'FAILED_PRECONDITION');
  assert.match(details, /changed after the sync that kept restore point/);
  assert.equal(await sha256(join(agents.imagesB, name)), before, 'the image is untouched');
  await rejectsWithStatus(restore(agents, name, '42'), 'NOT_FOUND');
});
