/**
 * The sync journal format: what is committed is exactly what the writer
 * finished, and nothing shorter or damaged ever passes — checked at every cut
 * and every flipped byte of a small journal; a journal longer than the read
 * window read into one reused buffer; headers and journal names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chunkHash, HASH_BYTES } from '../../shared/block-hash.js';
import {
  decodeHeader,
  encodeHeader,
  HEADER_BYTES,
  JournalFormatError,
  MAX_DATA_RECORD_BYTES,
  RECORD_HEAD_BYTES,
  TRAILER_BYTES,
  type JournalRecord,
} from '../../agent/transfer/journal-format.js';
import { journalPathFor, imageNameOfJournal } from '../../agent/transfer/journal-file.js';
import { checkJournal, forEachRecord, type ReadAt } from '../../agent/transfer/journal-reader.js';
import { build, data, HEADER, over } from './support/journal-builder.js';

const SAMPLE: JournalRecord[] = [data(0, randomBytes(100)), { kind: 'zero', offset: 4096, length: 65536 }, data(200_000, randomBytes(37))];

test('a finished journal is committed and gives back its records in order', async () => {
  const buf = build(HEADER, SAMPLE);
  const check = await checkJournal(over(buf), buf.length);
  assert.equal(check.state, 'committed');
  assert.deepEqual(check.state === 'committed' && [check.header, check.records, check.dataBytes, check.zeroBytes], [HEADER, 3, 137, 65536]);
  const seen: JournalRecord[] = [];
  await forEachRecord(
    over(buf),
    buf.length,
    async (r) => void seen.push(r.kind === 'data' ? { ...r, data: Buffer.from(r.data), hash: Buffer.from(r.hash) } : r),
    () => Promise.resolve(),
  );
  assert.deepEqual(seen, SAMPLE);
});

/** A ReadAt that reads into the buffer it is given, as the agent's does (readExactly with `into`). */
const overInto =
  (buf: Buffer): ReadAt =>
  async (position, length, into) => {
    const out = into === undefined ? Buffer.alloc(length) : into.subarray(0, length);
    buf.copy(out, 0, position, position + length);
    return out;
  };

test('a journal longer than the read window, read into one reused buffer: every record intact, a view valid until settle', async () => {
  // The first window ends right after record 1's hash: taking its data refills the window the hash was read into.
  const first = data(0, randomBytes(MAX_DATA_RECORD_BYTES - RECORD_HEAD_BYTES - HASH_BYTES));
  const rest = Array.from({ length: 40 }, (_, i) => data(8 * MAX_DATA_RECORD_BYTES + i * 300_000, randomBytes(64 * 1024 + i * 4099)));
  const records = [first, ...rest];
  const buf = build({ ...HEADER, size: 64 * MAX_DATA_RECORD_BYTES }, records);
  const check = await checkJournal(overInto(buf), buf.length);
  assert.equal(check.state, 'committed', check.state === 'committed' ? '' : check.reason);
  // A visitor with writes in flight: views are checked when settle is called, before the window is refilled.
  let inFlight: { view: Buffer; want: Buffer }[] = [];
  let settles = 0;
  let at = 0;
  await forEachRecord(
    overInto(buf),
    buf.length,
    async (r) => {
      if (r.kind !== 'data') return;
      const want = records[at]?.kind === 'data' ? (records[at] as { data: Buffer }).data : Buffer.alloc(0);
      at += 1;
      assert.ok(chunkHash(r.data).equals(r.hash), `record ${at - 1}: data and hash agree`);
      inFlight.push({ view: r.data, want });
    },
    async () => {
      settles += 1;
      for (const w of inFlight) assert.ok(w.view.equals(w.want), 'a view is intact until settle');
      inFlight = [];
    },
  );
  for (const w of inFlight) assert.ok(w.view.equals(w.want));
  assert.equal(at, records.length);
  assert.ok(settles >= 2, `the window was refilled (${settles} settles)`);
});

test('an empty journal (size change only) is committed with no records', async () => {
  const buf = build({ ...HEADER, size: 0 }, []);
  assert.equal(buf.length, HEADER_BYTES + TRAILER_BYTES);
  assert.deepEqual(await checkJournal(over(buf), buf.length), { state: 'committed', header: { ...HEADER, size: 0 }, records: 0, dataBytes: 0, zeroBytes: 0 });
});

test('every prefix of a journal is incomplete: nothing short of the trailer commits', async () => {
  const buf = build(HEADER, SAMPLE);
  for (let cut = 0; cut < buf.length; cut += 1) {
    const check = await checkJournal(over(buf.subarray(0, cut)), cut);
    assert.equal(check.state, 'incomplete', `cut at ${cut}`);
  }
});

test('every single flipped byte is caught, and the reason says where', async () => {
  const buf = build(HEADER, SAMPLE);
  const reasons = new Set<string>();
  for (let at = 0; at < buf.length; at += 1) {
    const bad = Buffer.from(buf);
    bad[at] = bad[at] ^ 0x40;
    const check = await checkJournal(over(bad), bad.length);
    assert.notEqual(check.state, 'committed', `flip at ${at}`);
    if (check.state !== 'committed') reasons.add(check.reason.replace(/\d+/g, 'N'));
  }
  assert.ok(
    [...reasons].some((r) => /does not match its hash/.test(r)),
    'a flipped data byte is named by its record hash',
  );
  assert.ok(
    [...reasons].some((r) => /header/.test(r)),
    'a flipped header byte is named',
  );
  assert.ok(
    [...reasons].some((r) => /without a commit trailer/.test(r)),
    'a flipped trailer byte reads as no trailer',
  );
});

test('lies that keep the checksum right are still refused', async () => {
  const outside = build(HEADER, [data(HEADER.size - 10, randomBytes(11))]);
  assert.match(JSON.stringify(await checkJournal(over(outside), outside.length)), /corrupt.*outside the/);
  const wrongHash: JournalRecord = { kind: 'data', offset: 0, length: 8, hash: chunkHash(Buffer.from('other')), data: Buffer.alloc(8, 1) };
  const hashed = build(HEADER, [wrongHash]);
  assert.match(JSON.stringify(await checkJournal(over(hashed), hashed.length)), /corrupt.*does not match its hash/);
  const counted = build(HEADER, SAMPLE, { count: 2 });
  assert.match(JSON.stringify(await checkJournal(over(counted), counted.length)), /corrupt.*counts 2 records/);
  const huge: JournalRecord = { kind: 'data', offset: 0, length: MAX_DATA_RECORD_BYTES + 1, hash: Buffer.alloc(16), data: Buffer.alloc(0) };
  const big = build({ ...HEADER, size: 2 * MAX_DATA_RECORD_BYTES }, [huge]);
  assert.match(JSON.stringify(await checkJournal(over(big), big.length)), /corrupt.*exceeds/);
  const zeroLength = build(HEADER, [{ kind: 'zero', offset: 5, length: 0 }]);
  assert.equal((await checkJournal(over(zeroLength), zeroLength.length)).state, 'corrupt');
});

test('headers: round trip, and a damaged or foreign-version header is refused', () => {
  assert.deepEqual(decodeHeader(encodeHeader(HEADER)), HEADER);
  const flipped = encodeHeader(HEADER);
  flipped[30] = flipped[30] ^ 1;
  assert.throws(() => decodeHeader(flipped), JournalFormatError);
  assert.throws(() => decodeHeader(encodeHeader(HEADER).subarray(0, 60)), JournalFormatError);
  const future = encodeHeader(HEADER);
  future.writeUInt32LE(2, 8);
  chunkHash(future.subarray(0, 48)).copy(future, 48);
  assert.throws(() => decodeHeader(future), /version 2/);
});

test('journal names: beside the image, and mapped back', () => {
  assert.equal(journalPathFor('/var/lib/images/vm1/disk.qcow2'), '/var/lib/images/vm1/.disk.qcow2.kvmclone-journal');
  assert.equal(imageNameOfJournal('.disk.qcow2.kvmclone-journal'), 'disk.qcow2');
  assert.equal(imageNameOfJournal('.disk.qcow2.abc.kvmclone-staging'), undefined);
  assert.equal(imageNameOfJournal('disk.kvmclone-journal'), undefined);
});
