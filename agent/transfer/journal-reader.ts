/**
 * Reading a sync journal back (format: journal-format.ts): first a full check
 * that decides whether it may be applied at all, then a second walk that
 * hands its records to the apply.
 *
 * The check reads every byte before the image is touched, because a journal
 * found after a crash is trusted only once its trailer, its checksum and
 * every record hash agree. The reader works on a `ReadAt` function rather
 * than a file, so the same code is unit-tested on buffers.
 */
import { chunkHash, HASH_BYTES } from '../../shared/block-hash.js';
import {
  decodeHeader,
  decodeRecordHead,
  decodeTrailer,
  HEADER_BYTES,
  JournalFormatError,
  MAX_DATA_RECORD_BYTES,
  RECORD_HEAD_BYTES,
  RecordChecksum,
  TRAILER_BYTES,
  type JournalHeader,
  type JournalRecord,
} from './journal-format.js';

/**
 * Reads exactly `length` bytes at `position` (agent/disk/read-ahead.ts
 * readExactly on a file), into `into` when given (at least `length` long).
 */
export type ReadAt = (position: number, length: number, into?: Buffer) => Promise<Buffer>;

/** What a journal on disk amounts to. Only a committed one is ever applied. */
export type JournalCheck =
  | {
      readonly state: 'committed';
      readonly header: JournalHeader;
      readonly records: number;
      readonly dataBytes: number;
      readonly zeroBytes: number;
      /** The text of its first note record (a restore point's description), when it has one. */
      readonly note?: Buffer;
    }
  /** No valid commit trailer: the pull stopped (or crashed) before committing. */
  | { readonly state: 'incomplete'; readonly reason: string }
  /** A trailer, but the content does not check out: damaged after the commit. */
  | { readonly state: 'corrupt'; readonly reason: string };

/** Bytes per read while walking: a whole data record with its head fits in one. */
const READ_BYTES = MAX_DATA_RECORD_BYTES + RECORD_HEAD_BYTES + HASH_BYTES;

/**
 * Sequential reads through a window, so 24-byte record heads do not cost a
 * syscall each. The window is one buffer, read into again and again: a fresh
 * 4 MiB buffer per window made every replayed journal garbage at disk speed
 * (four syncs applying at once took an agent from ~180 to ~250 MiB RSS).
 * It is refilled only once `settle` has resolved — the visitor's writes that
 * still refer to its bytes are done.
 */
class SequentialReader {
  private window: Buffer = Buffer.alloc(0);
  private at = 0;
  private buffer: Buffer | undefined;

  constructor(
    private readonly read: ReadAt,
    private position: number,
    private readonly end: number,
    private readonly settle: () => Promise<void>,
  ) {}

  get offset(): number {
    return this.position;
  }

  /** The next `n` bytes (a view valid until the next `settle`), or JournalFormatError past the end. */
  async take(n: number): Promise<Buffer> {
    if (this.position + n > this.end) throw new JournalFormatError(`a record runs past the records region (at byte ${this.position}, ${n} more bytes)`);
    if (this.at + n > this.window.length) {
      const length = Math.min(this.end - this.position, Math.max(n, READ_BYTES));
      // The rest of the old window is read again at the start of the new one: a record never straddles two.
      await this.settle();
      this.buffer ??= Buffer.allocUnsafeSlow(READ_BYTES);
      this.window = await this.read(this.position, length, this.buffer);
      this.at = 0;
    }
    const out = this.window.subarray(this.at, this.at + n);
    this.at += n;
    this.position += n;
    return out;
  }
}

/** Totals of one walk over the records region. */
interface WalkTotals {
  records: number;
  dataBytes: number;
  zeroBytes: number;
  note?: Buffer;
}

/** Walks the records region [HEADER_BYTES, end) in order, feeding `checksum` every byte when given. */
async function walkRecords(
  read: ReadAt,
  header: JournalHeader,
  end: number,
  visit: (record: JournalRecord) => Promise<void>,
  settle: () => Promise<void>,
  checksum?: RecordChecksum,
): Promise<WalkTotals> {
  const reader = new SequentialReader(read, HEADER_BYTES, end, settle);
  const totals: WalkTotals = { records: 0, dataBytes: 0, zeroBytes: 0 };
  while (reader.offset < end) {
    const head = await reader.take(RECORD_HEAD_BYTES);
    checksum?.update(head);
    const { kind, offset, length } = decodeRecordHead(head, header.size);
    if (kind === 'zero') {
      totals.zeroBytes += length;
      await visit({ kind, offset, length });
    } else if (kind === 'note') {
      const data = await reader.take(length);
      checksum?.update(data);
      totals.note ??= Buffer.from(data);
      await visit({ kind, offset: 0, length, data });
    } else {
      // A copy: taking the data may refill the window the hash was read into.
      const hash = Buffer.from(await reader.take(HASH_BYTES));
      const data = await reader.take(length);
      checksum?.update(hash);
      checksum?.update(data);
      totals.dataBytes += length;
      await visit({ kind, offset, length, hash, data });
    }
    totals.records += 1;
  }
  return totals;
}

/**
 * Decides what a journal file of `fileSize` bytes is. Never throws for bad
 * content (that is a verdict); I/O errors are thrown.
 */
export async function checkJournal(read: ReadAt, fileSize: number): Promise<JournalCheck> {
  if (fileSize < HEADER_BYTES + TRAILER_BYTES) return { state: 'incomplete', reason: `${fileSize} bytes is too short to hold a header and a commit trailer` };
  const trailer = decodeTrailer(await read(fileSize - TRAILER_BYTES, TRAILER_BYTES));
  if (trailer === undefined) return { state: 'incomplete', reason: 'it ends without a commit trailer' };
  try {
    // A header this agent cannot apply (another version, an unknown apply layer) makes the journal corrupt.
    const header = decodeHeader(await read(0, HEADER_BYTES));
    const end = fileSize - TRAILER_BYTES;
    if (trailer.recordBytes !== end - HEADER_BYTES)
      throw new JournalFormatError(`the trailer vouches for ${trailer.recordBytes} record bytes but the file holds ${end - HEADER_BYTES}`);
    const checksum = new RecordChecksum();
    const totals = await walkRecords(
      read,
      header,
      end,
      async (record) => {
        if (record.kind === 'data' && !chunkHash(record.data).equals(record.hash)) {
          throw new JournalFormatError(`the data record at image offset ${record.offset} (${record.length} bytes) does not match its hash`);
        }
      },
      // Nothing outlives a visit here: the window may be refilled at once.
      () => Promise.resolve(),
      checksum,
    );
    if (totals.records !== trailer.records) throw new JournalFormatError(`the trailer counts ${trailer.records} records but the file holds ${totals.records}`);
    if (!checksum.digest().equals(trailer.checksum)) throw new JournalFormatError('the records do not match the trailer checksum');
    return { state: 'committed', header, ...totals };
  } catch (err) {
    if (err instanceof JournalFormatError) return { state: 'corrupt', reason: err.message };
    throw err;
  }
}

/**
 * Hands the records of a journal that checkJournal found committed to
 * `visit`, in order. A record's data is a view that stays valid until
 * `settle` is called: a visitor that starts writes and returns (several in
 * flight) passes a `settle` that waits for them.
 */
export async function forEachRecord(read: ReadAt, fileSize: number, visit: (record: JournalRecord) => Promise<void>, settle: () => Promise<void>): Promise<void> {
  const header = decodeHeader(await read(0, HEADER_BYTES));
  await walkRecords(read, header, fileSize - TRAILER_BYTES, visit, settle);
}
