/**
 * The apply layer of a sync journal (header word at offset 12): file journals
 * read exactly as they always did, guest journals say so and round-trip, an
 * unknown code makes the journal corrupt (discarded, image untouched), and a
 * guest journal is never applied into the file as stored — without the
 * runtime directory it is left in place.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chunkHash } from '../../shared/block-hash.js';
import { KvmcloneError } from '../../shared/errors.js';
import { decodeHeader, encodeHeader, HEADER_BYTES, JournalFormatError, type JournalHeader, type JournalLayer } from '../../agent/transfer/journal-format.js';
import { journalPathFor, openJournalLocked } from '../../agent/transfer/journal-file.js';
import { checkJournal, type ReadAt } from '../../agent/transfer/journal-reader.js';
import { settleJournal } from '../../agent/transfer/journal-recovery.js';
import { JournalWriter } from '../../agent/transfer/journal-writer.js';
import { withTempDir } from '../support/temp-dir.js';

const BASE: JournalHeader = { dev: 2049n, ino: 987654321n, size: 8 << 20 };

/** A header with its check hash recomputed after `edit`. */
function resealed(edit: (buf: Buffer) => void): Buffer {
  const buf = encodeHeader(BASE);
  edit(buf);
  chunkHash(buf.subarray(0, 48)).copy(buf, 48);
  return buf;
}

const over =
  (buf: Buffer): ReadAt =>
  async (position, length) =>
    Buffer.from(buf.subarray(position, position + length));

test('a file journal keeps code 0 at offset 12 and decodes without a layer, as every older journal does', () => {
  const buf = encodeHeader(BASE);
  assert.equal(buf.readUInt32LE(12), 0);
  assert.deepEqual(decodeHeader(buf), BASE);
  assert.deepEqual(decodeHeader(encodeHeader({ ...BASE, layer: 'file' })), BASE, "'file' is the same as no layer");
  assert.ok(encodeHeader({ ...BASE, layer: 'file' }).equals(buf), 'byte for byte');
});

test('guest journals carry codes 1 (raw) and 2 (qcow2) and round-trip', () => {
  const cases: [JournalLayer, number][] = [
    ['guest-raw', 1],
    ['guest-qcow2', 2],
  ];
  for (const [layer, code] of cases) {
    const buf = encodeHeader({ ...BASE, layer });
    assert.equal(buf.readUInt32LE(12), code, layer);
    assert.deepEqual(decodeHeader(buf), { ...BASE, layer });
  }
});

test('an unknown layer code is refused even under a valid check hash; a flipped code breaks the check hash', () => {
  for (const code of [3, 0xffff_ffff]) {
    assert.throws(
      () => decodeHeader(resealed((b) => b.writeUInt32LE(code, 12))),
      (err: unknown) => err instanceof JournalFormatError && /apply layer code/.test(err.message),
    );
  }
  const flipped = encodeHeader({ ...BASE, layer: 'guest-qcow2' });
  flipped.writeUInt32LE(1, 12);
  assert.throws(() => decodeHeader(flipped), /check hash/);
});

test('checkJournal calls a committed journal with an unknown layer corrupt, and a guest one committed with its layer', () =>
  withTempDir('kvmclone-jlayer-', async (dir) => {
    const image = join(dir, 'disk.qcow2');
    await writeFile(image, Buffer.alloc(4096));
    const path = journalPathFor(image);
    const writer = await JournalWriter.create(path, image);
    await writer.begin({ ...BASE, layer: 'guest-qcow2' });
    const bytes = Buffer.alloc(65536, 0x5a);
    await writer.addData(1 << 20, bytes, chunkHash(bytes));
    await writer.addZero(2 << 20, 1 << 20);
    await writer.commit();
    await writer.close();
    const journal = await readFile(path);
    const good = await checkJournal(over(journal), journal.length);
    assert.equal(good.state, 'committed');
    assert.equal(good.state === 'committed' ? good.header.layer : undefined, 'guest-qcow2');
    const bad = Buffer.from(journal);
    bad.writeUInt32LE(9, 12);
    chunkHash(bad.subarray(0, 48)).copy(bad, 48);
    const verdict = await checkJournal(over(bad), bad.length);
    assert.equal(verdict.state, 'corrupt');
    assert.match(verdict.state === 'corrupt' ? verdict.reason : '', /apply layer code 9/);
  }));

test('a committed guest journal is not applied into the file: without a runtime directory it stays for later', () =>
  withTempDir('kvmclone-jlayer-', async (dir) => {
    const image = join(dir, 'disk.qcow2');
    const before = Buffer.alloc(1 << 20, 0x11);
    await writeFile(image, before);
    const st = await stat(image, { bigint: true });
    const path = journalPathFor(image);
    const writer = await JournalWriter.create(path, image);
    await writer.begin({ dev: st.dev, ino: st.ino, size: 1 << 20, layer: 'guest-raw' });
    const bytes = Buffer.alloc(4096, 0xee);
    await writer.addData(0, bytes, chunkHash(bytes));
    await writer.commit();
    await writer.close();
    const fh = await openJournalLocked(path, image);
    assert.ok(fh !== undefined);
    try {
      await assert.rejects(settleJournal(fh, path, image), (err: unknown) => err instanceof KvmcloneError && err.code === 'FAILED_PRECONDITION');
    } finally {
      await fh.close();
    }
    assert.ok((await readFile(image)).equals(before), 'the image is untouched');
    assert.ok((await stat(path)).size > HEADER_BYTES, 'the journal is still there');
  }));
