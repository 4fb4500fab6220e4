/**
 * Restore points on real temporary files, without agents: the journal
 * header's id and note records round-trip (and an id-less header reads as
 * before), an undo record captured before a change and settled afterwards
 * gives back the image exactly (overwritten data, zeros, a shrink's tail,
 * a growth), the chain rules (a pending undo becomes a point only with its
 * committed journal; a journal without an undo removes the points; prune to
 * keep), the names: never leftovers, never journals, and a guest-layer
 * undo read through an NBD reader (a live sync's).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { chunkHash } from '../../shared/block-hash.js';
import { decodeHeader, encodeHeader } from '../../agent/transfer/journal-format.js';
import { imageNameOfJournal, journalPathFor } from '../../agent/transfer/journal-file.js';
import { checkJournal, forEachRecord } from '../../agent/transfer/journal-reader.js';
import { recoverJournal } from '../../agent/transfer/journal-recovery.js';
import { JournalWriter } from '../../agent/transfer/journal-writer.js';
import { captureUndo } from '../../agent/transfer/undo-capture.js';
import { fileUndoSource, guestUndoSource } from '../../agent/transfer/undo-sources.js';
import { decodePointNote, encodePointNote, listPointFiles, nextPointId, parseRestorePointName, pointNameFor, undoNameFor } from '../../agent/transfer/restore-point-files.js';
import { parseLeftoverName } from '../../agent/leftovers/leftover-names.js';
import { readExactly } from '../../agent/disk/read-ahead.js';
import type { GuestReader } from '../../agent/guest/guest-client.js';
import { withTempDir } from '../support/temp-dir.js';

const KiB = 1024;
const MiB = 1024 * 1024;
const log = pino({ level: 'silent' });

const withDir = (body: (dir: string) => Promise<void>): Promise<void> => withTempDir('kvmclone-points-unit-', body);

test('the header id round-trips at offset 40; a header without one reads exactly as before', () => {
  const plain = { dev: 1n, ino: 2n, size: 4096 };
  assert.deepEqual(decodeHeader(encodeHeader(plain)), plain);
  assert.equal(encodeHeader(plain).readBigUInt64LE(40), 0n);
  const withId = { ...plain, id: 1733000000123n };
  assert.deepEqual(decodeHeader(encodeHeader(withId)), withId);
});

test('names: points and pending undos are recognised, are no leftovers and no journals; ids order newest first', () => {
  assert.deepEqual(parseRestorePointName(pointNameFor('/x/web1.qcow2', 17n)), { kind: 'point', image: 'web1.qcow2', id: 17n });
  assert.deepEqual(parseRestorePointName(undoNameFor('/x/web1.qcow2')), { kind: 'undo', image: 'web1.qcow2' });
  assert.equal(parseRestorePointName('.web1.qcow2.kvmclone-journal'), undefined);
  for (const name of [pointNameFor('a.raw', 5n), undoNameFor('a.raw')]) {
    assert.equal(parseLeftoverName(name, 'image-dir'), undefined, `${name} is not a leftover`);
    assert.equal(imageNameOfJournal(name), undefined, `${name} is not a journal`);
  }
  assert.equal(nextPointId([], 1000), 1000n);
  assert.equal(nextPointId([{ id: 5000n, name: '', path: '' }], 1000), 5001n, 'a clock behind the newest point still gives a newer id');
});

test('notes: a point description round-trips; anything else is no description', () => {
  const note = { id: '7', createdMs: 1, digest: 'blake3:00', label: 'web1 replica', operationId: 'op-12345678', keep: 3 };
  assert.deepEqual(decodePointNote(encodePointNote(note)), note);
  assert.equal(decodePointNote(Buffer.from('{"id":"7"}')), undefined);
  assert.equal(decodePointNote(Buffer.from('not json')), undefined);
  assert.equal(decodePointNote(undefined), undefined);
});

/** Captures the undo of a change of `image` (writes `writes`, size to `newSize`), applies the change as a journal with the same id, then the undo. */
async function roundTrip(dir: string, before: Buffer, writes: { offset: number; data: Buffer | 'zero' }[], newSize: number): Promise<void> {
  const image = join(dir, 'disk.raw');
  await writeFile(image, before);
  const st = await stat(image, { bigint: true });
  const id = 42n;
  const journal = await JournalWriter.create(journalPathFor(image), image);
  await journal.begin({ dev: st.dev, ino: st.ino, size: newSize, id });
  for (const w of writes) {
    if (w.data === 'zero') await journal.addZero(w.offset, 64 * KiB);
    else await journal.addData(w.offset, w.data, chunkHash(w.data));
  }
  const fh = await open(image, 'r');
  const undo = await JournalWriter.create(join(dir, undoNameFor(image)), image);
  const note = encodePointNote({ id: String(id), createdMs: Date.now(), digest: 'blake3:test', label: '', operationId: '', keep: 2 });
  const totals = await captureUndo(
    { source: fileUndoSource(fh), dev: st.dev, ino: st.ino, oldSize: before.length, newSize, spans: journal.writtenSpans(), id, note },
    undo,
    new AbortController().signal,
  );
  await undo.close();
  await fh.close();
  assert.ok(totals.dataBytes <= writes.length * 64 * KiB + Math.max(0, before.length - newSize), 'the undo holds no more than what the change overwrites');
  await journal.commit();
  await journal.close();
  // Settling the journal promotes the undo (same id) to a point, then applies the change.
  assert.equal((await recoverJournal(image, log)).outcome, 'replayed');
  const [point] = await listPointFiles(image);
  assert.equal(point?.id, id);
  const changed = await readFile(image);
  assert.equal(changed.length, newSize);
  // The point, renamed into the journal slot, takes the image back.
  const { rename } = await import('node:fs/promises');
  await rename(point.path, journalPathFor(image));
  const outcome = await recoverJournal(image, log);
  assert.equal(outcome.outcome, 'replayed');
  assert.ok((await readFile(image)).equals(before), 'the image is back as it was, byte for byte');
  assert.deepEqual((await readdir(dir)).sort(), ['disk.raw']);
}

test('undo: overwritten data and zeroed spans come back exactly, with the size, after growth and after a shrink', async () => {
  await withDir(async (dir) => {
    const before = Buffer.concat([randomBytes(MiB), Buffer.alloc(MiB), randomBytes(2 * MiB)]);
    const writes = [
      { offset: 0, data: randomBytes(64 * KiB) },
      { offset: MiB + 64 * KiB, data: randomBytes(64 * KiB) },
      { offset: 3 * MiB, data: 'zero' as const },
    ];
    await roundTrip(dir, before, writes, 4 * MiB);
    await roundTrip(dir, before, [...writes, { offset: 5 * MiB, data: randomBytes(64 * KiB) }], 6 * MiB);
    await roundTrip(dir, before, writes.slice(0, 2), 3 * MiB - 123);
  });
});

test('chain: a pending undo without its committed journal is discarded; a journal without an undo removes the points', async () => {
  await withDir(async (dir) => {
    const image = join(dir, 'img.raw');
    await writeFile(image, randomBytes(MiB));
    const st = await stat(image, { bigint: true });
    // A point, and a stale sealed undo of a pull that never committed.
    for (const [name, id] of [
      [pointNameFor(image, 10n), 10n],
      [undoNameFor(image), 11n],
    ] as const) {
      const w = await JournalWriter.create(join(dir, name), image);
      await w.begin({ dev: st.dev, ino: st.ino, size: MiB, id });
      await w.addNote(encodePointNote({ id: String(id), createdMs: 1, digest: 'blake3:x', label: '', operationId: '', keep: 3 }));
      await w.commit();
      await w.close();
    }
    assert.equal((await recoverJournal(image, log)).outcome, 'none');
    assert.deepEqual((await readdir(dir)).sort(), [pointNameFor(image, 10n), 'img.raw'].sort(), 'the stale undo is gone, the point stays');
    const checked = await (async () => {
      const fh = await open(join(dir, pointNameFor(image, 10n)), 'r');
      try {
        return await checkJournal((p, n) => readExactly(fh, p, n), (await fh.stat()).size);
      } finally {
        await fh.close();
      }
    })();
    assert.equal(checked.state, 'committed');
    // A sync journal without an id changes the image with no undo: the point no longer applies.
    const j = await JournalWriter.create(journalPathFor(image), image);
    await j.begin({ dev: st.dev, ino: st.ino, size: MiB });
    const bytes = randomBytes(4096);
    await j.addData(0, bytes, chunkHash(bytes));
    await j.commit();
    await j.close();
    assert.equal((await recoverJournal(image, log)).outcome, 'replayed');
    assert.deepEqual(await readdir(dir), ['img.raw']);
  });
});

/** A 4 MiB guest view and an NBD reader of it that records its reads: data in the first MiB and at 3 MiB, a hole elsewhere. */
function fakeGuestView(): { view: Buffer; reads: [number, number][]; reader: GuestReader } {
  const view = Buffer.alloc(4 * MiB);
  randomBytes(MiB).copy(view, 0);
  randomBytes(256 * KiB).copy(view, 3 * MiB);
  const extents = [
    { offset: 0, length: MiB, flags: 0 },
    { offset: MiB, length: 2 * MiB, flags: 3 },
    { offset: 3 * MiB, length: 256 * KiB, flags: 0 },
    { offset: 3 * MiB + 256 * KiB, length: 768 * KiB, flags: 3 },
  ];
  const reads: [number, number][] = [];
  const reader = {
    size: view.length,
    read: (offset: number, length: number) => (reads.push([offset, length]), Promise.resolve(Buffer.from(view.subarray(offset, offset + length)))),
    async *extents(_context: string, offset: number, length: number) {
      for (const e of extents) if (e.offset + e.length > offset && e.offset < offset + length) yield e;
    },
  };
  return { view, reads, reader };
}

test('guest undo: read through an NBD reader at guest offsets, the header names the guest layer and the export size; a shrink keeps only the tail data the map shows', async () => {
  await withDir(async (dir) => {
    // A 4 MiB guest view: data in the first MiB and at 3 MiB, a hole elsewhere (as base:allocation reports it).
    const { view, reads, reader } = fakeGuestView();
    const image = join(dir, 'disk.qcow2');
    await writeFile(image, 'the file layer is never read for a guest undo');
    const st = await stat(image, { bigint: true });
    const undo = await JournalWriter.create(join(dir, undoNameFor(image)), image);
    const note = encodePointNote({ id: '9', createdMs: 1, digest: 'blake3:guest', label: '', operationId: '', keep: 2 });
    // The sync writes 64 KiB at 128 KiB and zeros over [1.5, 2) MiB (a hole now), and shrinks the view to 2 MiB.
    const spans = [
      { offset: 128 * KiB, length: 64 * KiB },
      { offset: 1536 * KiB, length: 512 * KiB },
    ];
    const totals = await captureUndo(
      { source: guestUndoSource(reader), layer: 'guest-qcow2', dev: st.dev, ino: st.ino, oldSize: reader.size, newSize: 2 * MiB, spans, id: 9n, note },
      undo,
      new AbortController().signal,
    );
    await undo.close();
    assert.deepEqual(totals, { dataBytes: 64 * KiB + 256 * KiB, zeroBytes: 512 * KiB });
    assert.ok(!reads.some(([offset]) => offset >= 2 * MiB && offset < 3 * MiB), 'the cut-off tail is read only where the map shows data');
    const fh = await open(join(dir, undoNameFor(image)), 'r');
    try {
      const size = (await fh.stat()).size;
      const read = (p: number, n: number): Promise<Buffer> => readExactly(fh, p, n);
      const check = await checkJournal(read, size);
      assert.equal(check.state, 'committed');
      if (check.state !== 'committed') return;
      assert.deepEqual(check.header, { dev: st.dev, ino: st.ino, size: 4 * MiB, layer: 'guest-qcow2', id: 9n }, 'applied through the qcow2 format, back to the old virtual size');
      const records: { kind: string; offset: number; length: number; same?: boolean }[] = [];
      await forEachRecord(
        read,
        size,
        async (r) => {
          if (r.kind === 'data') records.push({ kind: r.kind, offset: r.offset, length: r.length, same: r.data.equals(view.subarray(r.offset, r.offset + r.length)) });
          else if (r.kind === 'zero') records.push({ kind: r.kind, offset: r.offset, length: r.length });
        },
        () => Promise.resolve(),
      );
      assert.deepEqual(records, [
        { kind: 'data', offset: 128 * KiB, length: 64 * KiB, same: true },
        { kind: 'zero', offset: 1536 * KiB, length: 512 * KiB },
        { kind: 'data', offset: 3 * MiB, length: 256 * KiB, same: true },
      ]);
    } finally {
      await fh.close();
    }
  });
});
