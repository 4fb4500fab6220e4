/**
 * The sync journal's writer and settle step on real temporary files: lock,
 * split, commit, discard, replay (twice, after a partial apply), and a
 * journal for another inode or an incomplete one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chunkHash } from '../../shared/block-hash.js';
import { KvmcloneError } from '../../shared/errors.js';
import { fileExtents } from '../../agent/disk/extent-map.js';
import { MAX_DATA_RECORD_BYTES, type JournalRecord } from '../../agent/transfer/journal-format.js';
import { journalPathFor, openJournalLocked } from '../../agent/transfer/journal-file.js';
import { checkJournal } from '../../agent/transfer/journal-reader.js';
import { settleJournal } from '../../agent/transfer/journal-recovery.js';
import { JournalWriter } from '../../agent/transfer/journal-writer.js';
import { build, data, HEADER, over } from './support/journal-builder.js';
import { withTempDir } from '../support/temp-dir.js';

const withDir = (body: (dir: string) => Promise<void>): Promise<void> => withTempDir('kvmclone-journal-', body);

test('the writer: 0600, locked, one at a time, splits big chunks, commits what the reader accepts, and discards cleanly', async () => {
  await withDir(async (dir) => {
    const image = join(dir, 'disk.raw');
    await writeFile(image, Buffer.alloc(1024));
    const path = journalPathFor(image);
    const writer = await JournalWriter.create(path, image);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    await assert.rejects(JournalWriter.create(path, image), (e: unknown) => e instanceof KvmcloneError && e.code === 'ABORTED');
    await assert.rejects(openJournalLocked(path, image), (e: unknown) => e instanceof KvmcloneError && e.code === 'ABORTED');
    const big = randomBytes(MAX_DATA_RECORD_BYTES + 1000);
    await writer.begin({ ...HEADER, size: 2 * MAX_DATA_RECORD_BYTES });
    await writer.addData(10, big, chunkHash(big));
    await writer.addZero(0, 10);
    // Appends may still be landing: whatever part is on disk is not committed.
    const early = await readFile(path);
    assert.equal((await checkJournal(over(early), early.length)).state, 'incomplete', 'not committed before commit()');
    await writer.commit();
    const written = await readFile(path);
    const check = await checkJournal(over(written), written.length);
    assert.deepEqual(check.state === 'committed' && [check.records, check.dataBytes, check.zeroBytes], [3, big.length, 10]);
    await writer.close();
    const second = await JournalWriter.create(join(dir, 'other'), image);
    await second.begin(HEADER);
    await second.addZero(0, 1);
    await second.discard();
    await assert.rejects(stat(join(dir, 'other')), /ENOENT/);
  });
});

/** The image a journal should produce, computed in memory. */
function expected(old: Buffer, size: number, records: JournalRecord[]): Buffer {
  const out = Buffer.alloc(size);
  old.copy(out, 0, 0, Math.min(old.length, size));
  for (const r of records) {
    if (r.kind === 'data') r.data.copy(out, r.offset);
    else out.fill(0, r.offset, r.offset + r.length);
  }
  return out;
}

test('settle: a committed journal is applied (holes punched, size changed), removed, and applying again after a partial apply gives the same image', async () => {
  await withDir(async (dir) => {
    const image = join(dir, 'disk.raw');
    const old = randomBytes(2 << 20);
    await writeFile(image, old);
    const ino = (await stat(image, { bigint: true })).ino;
    const size = 3 << 20;
    const records: JournalRecord[] = [
      data(4096, randomBytes(70_000)),
      { kind: 'zero', offset: 1 << 20, length: 1 << 19 },
      data((2 << 20) + 5, randomBytes(1000)),
      data(4096, randomBytes(10)),
    ];
    const journal = build({ dev: 0n, ino, size }, records);
    const path = journalPathFor(image);
    const want = expected(old, size, records);
    for (const partial of [false, true]) {
      await writeFile(path, journal);
      if (partial) {
        // A crash mid-apply: resized and the first record written, the rest not.
        const fh = await open(image, 'r+');
        await fh.truncate(size);
        await fh.write((records[0] as { data: Buffer }).data, 0, 70_000, 4096);
        await fh.close();
      }
      const fh = await openJournalLocked(path, image);
      assert.ok(fh);
      const result = await settleJournal(fh, path, image);
      await fh.close();
      assert.equal(result.outcome, 'replayed');
      assert.ok((await readFile(image)).equals(want), `image matches after ${partial ? 'a partial apply' : 'a clean apply'}`);
      await assert.rejects(stat(path), /ENOENT/);
    }
    const img = await open(image, 'r');
    const extents = [];
    for await (const e of fileExtents(img.fd, 1 << 20, (1 << 20) + (1 << 19))) extents.push(e.kind);
    await img.close();
    assert.deepEqual(extents, ['hole'], 'the zero record became a hole');
  });
});

test('settle: a journal for another inode, or an incomplete one, is removed and the image untouched', async () => {
  await withDir(async (dir) => {
    const image = join(dir, 'disk.raw');
    const old = randomBytes(1 << 20);
    await writeFile(image, old);
    const path = journalPathFor(image);
    const ino = (await stat(image, { bigint: true })).ino;
    for (const [journal, outcome] of [
      [build({ dev: 0n, ino: ino + 1n, size: 10 }, [data(0, Buffer.alloc(10, 7))]), 'foreign'],
      [build({ dev: 0n, ino, size: 10 }, [data(0, Buffer.alloc(10, 7))]).subarray(0, 100), 'discarded'],
    ] as const) {
      await writeFile(path, journal);
      const fh = await openJournalLocked(path, image);
      assert.ok(fh);
      assert.equal((await settleJournal(fh, path, image)).outcome, outcome);
      await fh.close();
      assert.ok((await readFile(image)).equals(old), `image untouched (${outcome})`);
      await assert.rejects(stat(path), /ENOENT/);
    }
  });
});
