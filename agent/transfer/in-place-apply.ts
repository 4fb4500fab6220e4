/**
 * The stages of an in-place pull (pull-in-place.ts) after its journal
 * committed: the sync is decided. The apply notice goes out, the journal is
 * settled into the image (a failure leaves it for recovery), the image is
 * digested — from remembered block hashes where it can be — and a kept
 * restore point learns the state its pull left, before the last progress
 * message reports the digest.
 */
import { DEFAULT_BLOCK_SIZE } from '../../shared/block-hash.js';
import { dataLoss, failedPrecondition } from '../../shared/errors.js';
import { digestFile } from '../disk/block-hasher.js';
import { identityOf, type FileIdentity } from '../disk/hash-memory.js';
import { digestGuestImage } from '../guest/guest-disk-calls.js';
import { digestImageRanges } from '../guest/guest-ranges-digest.js';
import { digestAfterApply, digestFileAs, digestRemembering } from './applied-digest.js';
import type { InPlaceCall, JournalRun } from './in-place-transfer.js';
import { settleJournal } from './journal-recovery.js';
import { recordPointTip } from './pull-point.js';

/** The image as the apply found it, and what is known of its blocks then. */
interface Applied {
  /** The image's identity right before the apply. */
  readonly before: FileIdentity;
  /** Block hashes of `before` left by this sync's HashBlocks pass (FILE layer only), if still valid. */
  readonly remembered: Buffer | undefined;
  readonly newSize: number;
}

/**
 * Applies the committed journal, after the apply notice: a failed apply
 * leaves the journal beside the image for recovery, and a notice that
 * could not be sent fails the call only once the apply is done.
 */
async function applyCommitted(c: InPlaceCall, run: JournalRun, done: number): Promise<Applied> {
  const { journal, held, dir, target, total } = c.t;
  const { deps, guest, log } = c;
  // Committed: the sync is decided. The notice goes out before the first byte of the image changes.
  // If it cannot be sent (the call was cancelled), the apply still runs and the call then fails.
  const noticeFailure = await c.send({ phase: 'apply', bytesDone: done, bytesTotal: total, bytesTransferred: run.transferred, bytesData: c.source.wire.plain, done: false }).then(
    () => undefined,
    (err: unknown) => ({ err }),
  );
  // Hashes of the image as it is now, if this sync's HashBlocks pass left them and nothing changed it since.
  const before = identityOf(await held.stat({ bigint: true }));
  // (File-layer hashes: of no use to a guest-layer image unless it is raw, and then the digest is cheap to redo.)
  const remembered = guest === undefined ? deps.hashMemory.recall(target, before, DEFAULT_BLOCK_SIZE) : undefined;
  // Taken out of the memory: the digest after the apply rewrites this list in place (applied-digest.ts).
  deps.hashMemory.forget(target);
  let newSize = Number(before.size);
  try {
    const result = await settleJournal(journal.fh, journal.path, target, { runtimeDir: deps.runtimeDir, dir, log });
    if (result.outcome === 'foreign') throw failedPrecondition(`target_path: the image was replaced or linked during the pull (${result.reason}); the sync was not applied`);
    if (result.outcome !== 'replayed')
      throw dataLoss(`the sync journal failed its own check after the commit (${result.outcome === 'discarded' ? result.reason : 'gone'}); the image was not touched`);
    log.info({ records: result.records, size: result.header.size }, 'sync applied');
    newSize = Number(result.header.size);
  } catch (err) {
    log.error({ err }, 'sync apply failed; if its journal is still beside the image, the next pull into it or the next agent start applies it');
    throw err;
  } finally {
    await journal.close();
  }
  if (noticeFailure !== undefined) throw noticeFailure.err;
  return { before, remembered, newSize };
}

/**
 * The digest the pull reports: of the guest view (whole, or by the changed
 * ranges) for the guest layer; of the file otherwise — from the remembered
 * hashes and the changed blocks when there are any, and of the source's
 * form of a qcow2 header that was rewritten with this image's backing reference.
 */
async function digestApplied(c: InPlaceCall, run: JournalRun, applied: Applied): Promise<string> {
  const { held, target, ranges } = c.t;
  const { req, deps, signal, guest } = c;
  const { header } = run;
  const { before, remembered, newSize } = applied;
  const digest =
    guest !== undefined
      ? req.digestRanges
        ? await digestImageRanges(target, guest.format, ranges, deps.runtimeDir, signal)
        : (await digestGuestImage(target, guest.format, deps.runtimeDir, signal)).digest
      : header?.sourceForm === undefined
        ? await digestRemembering(held, target, deps.hashMemory, remembered, { oldSize: Number(before.size), newSize, changed: ranges }, signal)
        : remembered === undefined
          ? await digestFileAs(held, (await held.stat()).size, header.sourceForm, signal)
          : await digestAfterApply(held, remembered, Number(before.size), newSize, ranges, signal, header.sourceForm);
  c.log.info(
    { from: remembered === undefined ? 'the whole image' : 'remembered hashes and the changed blocks', layer: guest === undefined ? 'file' : `guest ${guest.format}` },
    'image digested',
  );
  return digest;
}

/**
 * Records with the kept point the state its pull left (its tip), so a
 * restore can tell the image was not changed since (a digest that cannot
 * be taken leaves no tip: the restore's final check still holds).
 */
async function recordTipOf(c: InPlaceCall, run: JournalRun, pointId: bigint, digest: string): Promise<void> {
  const { held, dir, target } = c.t;
  const { req, deps, signal, guest, log } = c;
  const { header } = run;
  // The tip is a whole-image digest: a live sync verified by changed blocks reads its guest view once more for it.
  const tip =
    guest !== undefined
      ? {
          layer: 'guest' as const,
          digest: req.digestRanges
            ? await digestGuestImage(target, guest.format, deps.runtimeDir, signal).then(
                (d) => d.digest,
                (err: unknown) => (log.warn({ err }, 'the image could not be digested for its restore point: a restore will have to trust the final check'), ''),
              )
            : digest,
        }
      : { layer: 'file' as const, digest: header?.sourceForm === undefined ? digest : await digestFile(held, (await held.stat()).size, signal) };
  if (tip.digest !== '') await recordPointTip(dir, target, pointId, { ...tip, identity: identityOf(await held.stat({ bigint: true })) }, log);
}

/** Everything after the commit: apply, digest, the point's tip, and the last progress message with the digest. */
export async function applyAndReport(c: InPlaceCall, run: JournalRun): Promise<void> {
  const { total, coverage, pointId } = c.t;
  const done = coverage.covered;
  const applied = await applyCommitted(c, run, done);
  const digest = await digestApplied(c, run, applied);
  if (pointId !== undefined) await recordTipOf(c, run, pointId, digest);
  await c.send({
    phase: 'apply',
    bytesDone: done,
    bytesTotal: total,
    bytesTransferred: run.transferred,
    bytesData: c.source.wire.plain,
    digest,
    done: true,
    ...(pointId !== undefined && { pointId: String(pointId) }),
  });
}
