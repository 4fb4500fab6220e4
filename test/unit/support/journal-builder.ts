/**
 * Sync journals built in memory as the writer lays them out, for the
 * journal-format-*.test.ts files: a header, data records, the layout with
 * knobs to lie in the trailer, and a ReadAt over a buffer.
 */
import { chunkHash } from '../../../shared/block-hash.js';
import { encodeHeader, encodeRecordHead, encodeTrailer, RecordChecksum, type JournalHeader, type JournalRecord } from '../../../agent/transfer/journal-format.js';
import type { ReadAt } from '../../../agent/transfer/journal-reader.js';

export const HEADER: JournalHeader = { dev: 2049n, ino: 123456789n, size: 1 << 20 };

export function data(offset: number, bytes: Buffer): JournalRecord {
  return { kind: 'data', offset, length: bytes.length, hash: chunkHash(bytes), data: bytes };
}

/** A journal as the writer lays it out, with knobs to lie in the trailer. */
export function build(header: JournalHeader, records: JournalRecord[], lie: { count?: number } = {}): Buffer {
  const parts: Buffer[] = [];
  const sum = new RecordChecksum();
  for (const r of records) {
    const head = encodeRecordHead(r);
    parts.push(head);
    sum.update(head);
    if (r.kind === 'data') {
      parts.push(r.data);
      sum.update(r.data);
    }
  }
  const recordBytes = parts.reduce((n, p) => n + p.length, 0);
  return Buffer.concat([encodeHeader(header), ...parts, encodeTrailer({ records: lie.count ?? records.length, recordBytes, checksum: sum.digest() })]);
}

export const over =
  (buf: Buffer): ReadAt =>
  async (position, length) => {
    if (position + length > buf.length) throw new Error(`read past the end: ${position}+${length} > ${buf.length}`);
    return Buffer.from(buf.subarray(position, position + length));
  };
