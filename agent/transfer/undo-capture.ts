/**
 * Capturing an undo record: the image as it is now over exactly the spans a
 * sync journal is about to write, and the tail a shrink is about to cut
 * off, so that applying the record (a journal like any other: resize to the
 * old size, then its records) takes the image back to this state.
 *
 * It is written while the image is still untouched — after the sync's
 * journal holds every record, before that journal commits — and sealed
 * (fdatasync, trailer, fdatasync) first, so a crash finds either no commit
 * and no use for the undo, or a commit with a complete undo beside it
 * (restore-point-files.ts). It costs what the sync overwrites: zeros are
 * kept as zero records, and a grown image's new tail needs nothing (the
 * resize cuts it away).
 *
 * The bytes are read through the layer the journal writes (undo-sources.ts):
 * the file as stored for an offline sync, the image's format (qemu-nbd, guest
 * offsets) for a live one — and the undo's header names that same layer, so
 * a restore writes them back the way the sync wrote over them.
 */
import { chunkHash } from '../../shared/block-hash.js';
import type { ByteSpan } from '../disk/request-limits.js';
import type { JournalLayer } from './journal-format.js';
import type { JournalWriter } from './journal-writer.js';
import type { UndoSource } from './undo-sources.js';

/** Bytes read and recorded at a time. */
const PIECE_BYTES = 1024 * 1024;

const ZEROS = Buffer.alloc(PIECE_BYTES);

/** What one capture saved. */
export interface UndoTotals {
  readonly dataBytes: number;
  readonly zeroBytes: number;
}

/** The image's undo for a change that writes `spans` and brings it from `oldSize` to `newSize` bytes. */
export interface UndoPlan {
  /** The image as it is now, read through the layer the journal writes. */
  readonly source: UndoSource;
  /** The layer the journal writes (and the undo is applied through); absent: the file. */
  readonly layer?: JournalLayer;
  readonly dev: bigint;
  readonly ino: bigint;
  /** The size now (the virtual size for a guest layer). */
  readonly oldSize: number;
  readonly newSize: number;
  /** Spans the journal writes (sorted, disjoint), within [0, newSize). */
  readonly spans: readonly ByteSpan[];
  /** The restore point's id: the undo's header carries the same id as its journal's. */
  readonly id: bigint;
  /** The point's description (restore-point-files.ts encodePointNote). */
  readonly note: Buffer;
}

/** Records [offset, offset + length) of the image: data as data records, all-zero pieces as zero records. */
async function saveSpan(
  plan: UndoPlan,
  undo: JournalWriter,
  offset: number,
  length: number,
  keepZeros: boolean,
  totals: { dataBytes: number; zeroBytes: number },
  signal: AbortSignal,
): Promise<void> {
  for (let at = offset; at < offset + length; at += PIECE_BYTES) {
    signal.throwIfAborted();
    const n = Math.min(PIECE_BYTES, offset + length - at);
    const data = await plan.source.read(at, n);
    if (data.equals(ZEROS.subarray(0, n))) {
      if (keepZeros) {
        await undo.addZero(at, n);
        totals.zeroBytes += n;
      }
    } else {
      await undo.addData(at, data, chunkHash(data));
      totals.dataBytes += n;
    }
  }
}

/**
 * Writes the undo of `plan` into `undo` (created, empty) and seals it. A
 * failure leaves it unsealed, for the caller to discard.
 */
export async function captureUndo(plan: UndoPlan, undo: JournalWriter, signal: AbortSignal): Promise<UndoTotals> {
  const totals = { dataBytes: 0, zeroBytes: 0 };
  await undo.begin({ dev: plan.dev, ino: plan.ino, size: plan.oldSize, id: plan.id, ...(plan.layer !== undefined && plan.layer !== 'file' && { layer: plan.layer }) });
  await undo.addNote(plan.note);
  for (const span of plan.spans) {
    const end = Math.min(span.offset + span.length, plan.oldSize);
    if (end > span.offset) await saveSpan(plan, undo, span.offset, end - span.offset, true, totals, signal);
  }
  if (plan.newSize < plan.oldSize) {
    // The cut-off tail comes back as zeros from the resize: only its data needs saving.
    for await (const span of plan.source.dataSpans(plan.newSize, plan.oldSize, signal)) await saveSpan(plan, undo, span.offset, span.length, false, totals, signal);
  }
  await undo.commit();
  return totals;
}
