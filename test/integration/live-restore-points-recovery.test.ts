/**
 * Restore points of GUEST-layer (live) in-place pulls, with real qemu-img
 * and qemu-nbd on two in-process agents (as in guest-layer-*.test.ts, a raw
 * file on the source stands in for a running VM's point-in-time view: its
 * FILE layer is its guest view). A restore cut short after its point became
 * the journal, and a live pull killed after its commit (guest journal and
 * sealed guest undo beside the qcow2), both finished by recovery through the
 * format, the points left still restoring.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { chunkHash } from '../../shared/block-hash.js';
import { journalPathFor } from '../../agent/transfer/journal-file.js';
import { recoverAllJournals } from '../../agent/transfer/journal-recovery.js';
import { JournalWriter } from '../../agent/transfer/journal-writer.js';
import { encodePointNote, listPointFiles, undoNameFor } from '../../agent/transfer/restore-point-files.js';
import { captureUndo } from '../../agent/transfer/undo-capture.js';
import { guestUndoSource } from '../../agent/transfer/undo-sources.js';
import { withGuestImage } from '../../agent/guest/guest-image.js';
import { change, makeRaw, run, sameGuestContent } from './support/image-files.js';
import { log, useInProcessAgents } from './support/in-process-agents.js';
import { digestOf, KiB, MiB, pointLayer, points, restore, snapshot, threeLiveSyncs } from './support/live-points.js';

const agents = useInProcessAgents('kvmclone-livepoints-');

test('a restore cut short after its point became the journal is finished by recovery through the format; the older points still restore', async () => {
  const { target, states } = await threeLiveSyncs(agents, 'crash', 'qcow2');
  const [newest, middle, oldest] = await points(agents, target);
  assert.ok(newest && middle && oldest);
  // What RestorePoint does first for the newest point, and a kill right after: the point renamed into the journal slot.
  const file = (await listPointFiles(target))[0];
  assert.ok(file);
  await run('mv', [file.path, journalPathFor(target)]);
  const counts = await recoverAllJournals(agents.rootsB, log, { runtimeDir: agents.runB });
  assert.equal(counts.replayed, 1);
  assert.equal(await digestOf(agents.b, target, 'EXTENT_LAYER_GUEST'), states[2]?.digest, 'the point was applied through the format');
  await sameGuestContent(states[2]?.copy ?? '', target, 'qcow2');
  assert.deepEqual(
    (await points(agents, target)).map((p) => p.id),
    [middle.id, oldest.id],
  );
  // No tip was recorded by the cut-short restore: the next one still checks its result by digest.
  assert.equal((await restore(agents, target, oldest.id)).digest, states[0]?.digest);
  await sameGuestContent(states[0]?.copy ?? '', target, 'qcow2');
});

test('a live pull killed after its commit (guest journal and sealed guest undo beside the qcow2) is rolled forward at start-up, and its undo is a point that restores', async () => {
  const src = join(agents.imagesA, 'killed.raw');
  const target = join(agents.imagesB, 'killed.qcow2');
  await makeRaw(src, 8 * MiB, [[0, 3 * MiB]]);
  await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', src, target]);
  const before = await snapshot(agents, src, 'killed-0');
  const ranges = await change(src, [
    [MiB, 256 * KiB],
    [5 * MiB, 64 * KiB],
  ]);
  const after = await snapshot(agents, src, 'killed-1');
  // What the pull leaves when killed right after its commit: the journal (new bytes) and the undo (old ones, read through the format), both sealed, same id.
  const st = await stat(target, { bigint: true });
  const id = 1_700_000_000_000n;
  const bytes = await readFile(src);
  const journal = await JournalWriter.create(journalPathFor(target), target);
  await journal.begin({ dev: st.dev, ino: st.ino, size: bytes.length, layer: 'guest-qcow2', id });
  for (const r of ranges) await journal.addData(r.offset, bytes.subarray(r.offset, r.offset + r.length), chunkHash(bytes.subarray(r.offset, r.offset + r.length)));
  const undo = await JournalWriter.create(join(agents.imagesB, undoNameFor(target)), target);
  const note = encodePointNote({ id: String(id), createdMs: Date.now(), digest: before.digest, label: 'killed', operationId: randomUUID(), keep: 2 });
  await withGuestImage(target, 'qcow2', { writable: false, runtimeDir: agents.runB, signal: AbortSignal.timeout(60_000) }, (image) =>
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
  const counts = await recoverAllJournals(agents.rootsB, log, { runtimeDir: agents.runB });
  assert.equal(counts.replayed, 1);
  await sameGuestContent(after.copy, target, 'qcow2');
  const [point] = await points(agents, target);
  assert.equal(point?.id, String(id), 'the sealed undo of the committed journal became the point');
  assert.equal(await pointLayer(target, String(id)), 'guest-qcow2');
  // No tip was recorded (the pull never got that far): the restore checks its result by digest.
  assert.equal((await restore(agents, target, String(id))).digest, before.digest);
  await sameGuestContent(before.copy, target, 'qcow2');
});
