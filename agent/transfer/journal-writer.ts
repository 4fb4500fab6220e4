/**
 * Writes a sync journal (format: journal-format.ts) while an in-place pull
 * streams: header, then records as the chunks arrive, then — only when every
 * range is in — fdatasync, the commit trailer, fdatasync again.
 *
 * That order is the whole point: the trailer is the single bit that says
 * "apply me", and it reaches the disk only after the records it vouches for.
 * Until commit() returns the image has not been touched, so discard() (on a
 * cancel or any failure) simply removes the journal. The journal's flock is
 * held from create to close, which keeps a second pull off the image.
 */
import type { FileHandle } from 'node:fs/promises';
import { unlink } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { ConfinedDir } from '../paths/confined-dir.js';
import { chunkHash } from '../../shared/block-hash.js';
import { SpanSet } from '../disk/span-set.js';
import { encodeHeader, encodeRecordHead, encodeTrailer, HEADER_BYTES, MAX_DATA_RECORD_BYTES, MAX_NOTE_BYTES, RecordChecksum, type JournalHeader } from './journal-format.js';
import { createJournalLocked, createJournalLockedIn } from './journal-file.js';
import { syncDirectory } from '../paths/sync-directory.js';
import { currentOperationId } from '../leftovers/call-operation.js';
import { recordOperation } from '../leftovers/operation-xattr.js';

/**
 * Appends in flight while the next chunk arrives (positions are known up
 * front, so they may overlap). Records are small (a sync's changed blocks),
 * so several in flight beat waiting for each (measured: 1609 64 KiB records
 * 0.8 s at four, 1.0 s at one).
 */
const WRITE_DEPTH = 4;

/** Writes all of `buffers` at `position` (writev may write less than asked). */
async function writeAllAt(fh: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  let rest = buffers;
  let at = position;
  while (rest.length > 0) {
    const { bytesWritten } = await fh.writev(rest, at);
    at += bytesWritten;
    let skip = bytesWritten;
    const next: Buffer[] = [];
    for (const b of rest) {
      if (skip >= b.length) skip -= b.length;
      else {
        next.push(skip > 0 ? b.subarray(skip) : b);
        skip = 0;
      }
    }
    rest = next;
  }
}

/** One journal being written by one pull. */
export class JournalWriter {
  private readonly checksum = new RecordChecksum();
  private readonly pending: Promise<void>[] = [];
  /** Image spans the data and zero records cover. */
  private readonly written = new SpanSet();
  private position = HEADER_BYTES;
  private records = 0;
  private state: 'open' | 'committed' | 'closed' = 'open';
  private begun = false;

  private constructor(
    readonly path: string,
    readonly fh: FileHandle,
    /** The journal's directory held open beneath the roots, when the pull has one: created and removed through it. */
    private readonly dir?: ConfinedDir,
  ) {}

  /**
   * Creates and locks the (empty) journal of `image`, so the lock covers the
   * whole pull; the new name is made durable at once (fdatasync of the file
   * does not cover its directory entry, and a committed journal that vanished
   * in a crash would leave a half-applied image behind). ABORTED if a journal
   * exists. With `dir` (the directory of `path`, held open beneath the
   * roots) everything goes through that descriptor; it stays the caller's.
   */
  static async create(path: string, image: string, dir?: ConfinedDir): Promise<JournalWriter> {
    const fh = dir === undefined ? await createJournalLocked(path, image) : await createJournalLockedIn(dir, basename(path), image);
    const writer = new JournalWriter(path, fh, dir);
    // Names the operation, so a leftover journal can be traced to it (kvmctl hosts check, gc).
    recordOperation(fh, currentOperationId());
    try {
      if (dir === undefined) await syncDirectory(dirname(path));
      else await dir.sync();
      return writer;
    } catch (err) {
      await writer.discard();
      throw err;
    }
  }

  /** Writes the header, once the new size is known (before it, the journal is merely incomplete). */
  async begin(header: JournalHeader): Promise<void> {
    if (this.state !== 'open' || this.begun) throw new Error(`journal ${this.path}: the header goes first, once`);
    this.begun = true;
    await writeAllAt(this.fh, [encodeHeader(header)], 0);
  }

  /** Appends a data record; the caller has verified `hash` against `data` (it came with the chunk). */
  async addData(offset: number, data: Buffer, hash: Buffer): Promise<void> {
    // Records bigger than a reader allows are split (a chunk is normally far smaller).
    for (let at = 0; at < data.length; at += MAX_DATA_RECORD_BYTES) {
      const part = data.length <= MAX_DATA_RECORD_BYTES ? data : data.subarray(at, at + MAX_DATA_RECORD_BYTES);
      const partHash = part === data ? hash : chunkHash(part);
      await this.append([encodeRecordHead({ kind: 'data', offset: offset + at, length: part.length, hash: partHash, data: part }), part]);
    }
    this.written.add(offset, data.length);
  }

  /** Appends a zero record: the span must read as zeros after the apply. */
  async addZero(offset: number, length: number): Promise<void> {
    await this.append([encodeRecordHead({ kind: 'zero', offset, length })]);
    this.written.add(offset, length);
  }

  /** Appends a note record (text the apply skips: a restore point's description). */
  async addNote(text: Buffer): Promise<void> {
    if (text.length === 0 || text.length > MAX_NOTE_BYTES) throw new Error(`journal ${this.path}: a note is 1 to ${MAX_NOTE_BYTES} bytes, not ${text.length}`);
    await this.append([encodeRecordHead({ kind: 'note', offset: 0, length: text.length, data: text }), text]);
  }

  /** The image spans the records so far write (merged, in offset order): what an undo record must save first. */
  writtenSpans(): { offset: number; length: number }[] {
    return this.written.list();
  }

  private async append(buffers: Buffer[]): Promise<void> {
    if (this.state !== 'open' || !this.begun) throw new Error(`journal ${this.path} takes records only between begin and commit`);
    for (const b of buffers) this.checksum.update(b);
    if (this.pending.length >= WRITE_DEPTH) await this.pending.shift();
    const done = writeAllAt(this.fh, buffers, this.position);
    done.catch(() => undefined);
    this.pending.push(done);
    this.position += buffers.reduce((sum, b) => sum + b.length, 0);
    this.records += 1;
  }

  /** Waits for every append in flight; the first failure is thrown. */
  private async drain(): Promise<void> {
    const results = await Promise.allSettled(this.pending.splice(0));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }

  /**
   * Makes the journal complete and durable: records fdatasynced, then the
   * trailer written and fdatasynced. From here on it will be applied, by the
   * caller or (after a crash) by recovery. A failure here discards it.
   */
  async commit(): Promise<void> {
    if (this.state !== 'open' || !this.begun) throw new Error(`journal ${this.path} can be committed only once, after begin`);
    try {
      await this.drain();
      await this.fh.datasync();
      const trailer = encodeTrailer({ records: this.records, recordBytes: this.position - HEADER_BYTES, checksum: this.checksum.digest() });
      await writeAllAt(this.fh, [trailer], this.position);
      await this.fh.datasync();
      this.state = 'committed';
    } catch (err) {
      await this.discard();
      throw err;
    }
  }

  /** Removes an uncommitted journal (the image was never touched) and releases the lock. */
  async discard(): Promise<void> {
    if (this.state === 'closed') return;
    await Promise.allSettled(this.pending.splice(0));
    // Unlink while still holding the lock, so nobody can lock the name in between.
    if (this.dir === undefined) await unlink(this.path).catch(() => undefined);
    else {
      try {
        this.dir.unlink(basename(this.path));
      } catch {
        // already gone
      }
    }
    await this.close();
  }

  /** Closes the file and releases the lock; a committed journal stays for its apply or for recovery. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    await this.fh.close().catch(() => undefined);
  }
}
