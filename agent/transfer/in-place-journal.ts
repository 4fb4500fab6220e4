/**
 * The journal stage of an in-place pull (pull-in-place.ts), up to the
 * commit: the changed ranges stream from the source into the journal beside
 * the image, each chunk checked against its hash; once every byte is in, a
 * qcow2's header is planned and checked, the destination VM is asked once
 * more, the undo record (keep_points) is sealed, and only then does the
 * journal commit. Nothing here touches the image. A failure before the
 * commit either parks the transfer for a retry of the same operation or
 * discards the journal.
 */
import { chunkHash, HASH_BYTES } from '../../shared/block-hash.js';
import { dataLoss, KvmcloneError } from '../../shared/errors.js';
import { isSendableOperationId } from '../../shared/operation-metadata.js';
import { ProgressThrottle } from '../../shared/progress-throttle.js';
import { requireDestShutOff } from './dest-vm-state.js';
import { planHeader } from './in-place-header.js';
import { dropTransfer, type InPlaceCall, type JournalRun } from './in-place-transfer.js';
import { keepUndo } from './pull-point.js';

/**
 * A failure the retry of the same operation may continue from: the call
 * cancelled by its client (kvmctl's connection dropped) or the source
 * stream broken (the agent-to-agent path or the source agent went away) —
 * never while a journal write was under way, never an agent shutdown, a
 * deadline, bad data or a full disk.
 */
function parkable(err: unknown, signal: AbortSignal, writing: boolean): boolean {
  if (writing) return false;
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    return reason instanceof DOMException && reason.name === 'AbortError' && /cancelled by client/.test(reason.message);
  }
  return err instanceof KvmcloneError && (err.code === 'UNAVAILABLE' || err.code === 'CANCELLED');
}

/**
 * A new journal gets its header (the image's inode, the size after the
 * apply, the layer, the point id); a resumed one already has it and says
 * how much it holds.
 */
async function beginJournal(c: InPlaceCall): Promise<void> {
  const { t, guest } = c;
  if (t.coverage.covered === 0) {
    await t.journal.begin({
      dev: t.image.dev,
      ino: t.image.ino,
      size: t.size,
      ...(guest !== undefined && { layer: guest.format === 'qcow2' ? 'guest-qcow2' : 'guest-raw' }),
      ...(t.pointId !== undefined && { id: t.pointId }),
    });
  } else {
    c.log.info({ bytesKept: t.coverage.covered, bytesTotal: t.total }, 'in-place pull resumed from its journal: only the missing ranges are fetched');
  }
}

/**
 * Reads the ranges the journal does not hold yet from the source into it
 * (or into a qcow2's header window), each chunk checked against its hash
 * and counted once, so a retry never asks for it again. `run.writing` is
 * set while a journal write is under way: a failure then is not parked.
 */
async function streamMissing(c: InPlaceCall, run: JournalRun): Promise<void> {
  const { journal, total, coverage, window } = c.t;
  const { source, signal } = c;
  const missing = coverage.missingFrom();
  const throttle = new ProgressThrottle(total);
  if (missing.length > 0) {
    for await (const message of source.read(missing, signal)) {
      signal.throwIfAborted();
      run.writing = true;
      if (message.data) {
        const { offset, data, hash } = message.data;
        if (hash.length !== HASH_BYTES || !chunkHash(data).equals(hash)) {
          throw dataLoss(`the chunk at offset ${offset} (${data.length} bytes) does not match its hash; it was damaged on the way`);
        }
        const after = window === undefined ? { offset, data } : window.takeData(offset, data);
        if (after !== undefined) await journal.addData(after.offset, after.data, after.data === data ? hash : chunkHash(after.data));
        // Counted once in the journal (or the header window): a retry does not ask for it again.
        coverage.take(offset, data.length, 'data');
        run.transferred = source.wire.bytes;
      } else if (message.zero) {
        const { offset, length } = message.zero;
        const after = window === undefined ? message.zero : window.takeZero(offset, length);
        if (after !== undefined) await journal.addZero(after.offset, after.length);
        coverage.take(offset, length, 'zero');
      } else {
        throw dataLoss('the source sent a ReadRanges message with neither data nor zero');
      }
      run.writing = false;
      if (throttle.shouldReport(coverage.covered))
        await c.send({ phase: 'transfer', bytesDone: coverage.covered, bytesTotal: total, bytesTransferred: run.transferred, bytesData: source.wire.plain, done: false });
    }
  }
}

/**
 * Every byte is in: the qcow2 header is planned and checked, the VM asked
 * once more, the undo record sealed — all before the commit, the last
 * moment the journal can still be dropped. Once committed it is applied
 * whatever happens.
 */
async function sealJournal(c: InPlaceCall, run: JournalRun): Promise<void> {
  const { journal, held, dir, target, size, ranges, total, coverage, window, pointId } = c.t;
  const { req, deps, signal, guest, log, keep } = c;
  signal.throwIfAborted();
  if (coverage.covered !== total) throw dataLoss(`the source ended its stream after ${coverage.covered} of ${total} bytes`);
  run.writing = true;
  if (window !== undefined) {
    // Through the descriptor held since the start: the very inode the journal is bound to.
    run.header = await planHeader({ target, fh: held, currentSize: Number(c.t.image.size), newSize: size, window, roots: deps.roots });
    if (run.header.record !== undefined) await journal.addData(0, run.header.record, chunkHash(run.header.record));
    if (run.header.sourceForm !== undefined) log.info({ backingReference: run.header.backingReference }, "the source's header is written with this image's own backing reference");
  }
  // The last moment the journal can still be dropped: once committed, it is applied whatever happens.
  await requireDestShutOff(req, deps, signal, 'after the transfer, before the apply');
  // The undo record is sealed before the journal commits: a committed journal with an id always has it.
  if (pointId !== undefined) {
    const saved = await keepUndo({ held, dir, target, image: c.t.image, size, journal, pointId, keep, req, deps, log, ...(guest !== undefined && { guest }) }, signal);
    log.info({ point: String(pointId), ...saved }, 'undo record sealed');
  }
  await journal.commit();
  log.info({ size, ranges: ranges.length, bytesTransferred: run.transferred }, 'sync journal committed');
}

/** The transfer half, begin (or resume) to commit: the image is still untouched when this returns. */
export async function fillJournal(c: InPlaceCall, run: JournalRun): Promise<void> {
  await beginJournal(c);
  // A resumed pull's first message says how much its journal already holds.
  await c.send({ phase: 'transfer', bytesDone: c.t.coverage.covered, bytesTotal: c.t.total, bytesTransferred: 0, done: false });
  await streamMissing(c, run);
  await sealJournal(c, run);
}

/**
 * After a failure before the commit: parks the transfer for a retry of the
 * same operation when it may continue (true: the caller must not release
 * it), else discards the journal.
 */
export async function parkOrDiscard(c: InPlaceCall, err: unknown, writing: boolean): Promise<boolean> {
  const { req, deps, signal, guest, t } = c;
  // Only a FILE-layer pull is kept: kvmctl retries an offline sync's TRANSFER within the run, never a live one's
  // (a guest-layer journal kept for a retry that never comes would hold the image for nothing).
  if (deps.parked !== undefined && guest === undefined && isSendableOperationId(req.operationId) && parkable(err, signal, writing)) {
    await deps.parked.park(t.target, { operationId: req.operationId, state: t, drop: () => dropTransfer(t) });
    return true;
  }
  await t.journal.discard();
  return false;
}
