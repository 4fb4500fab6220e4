/**
 * PullImage in PULL_MODE_IN_PLACE: a sync applied to the existing image so
 * that a crash leaves either the old image or (after replay) the new one,
 * never a mix (ARCHITECTURE, safety model).
 *
 * The changed ranges stream from the source agent into a journal beside the
 * image ("transfer"); only once every byte is in, checked and fdatasynced
 * does the commit trailer go down, and only then is the image touched
 * ("apply"). A cancel or failure before the commit removes the journal and
 * leaves the image as it was; after the commit the sync is decided: a cancel
 * no longer stops the apply, and a failure during it leaves the journal for
 * recovery (journal-recovery.ts), which finishes the job at the next pull
 * into the image or the next agent start.
 *
 * With `guest` (PullImage layer GUEST, a live copy: pull-guest.ts) the
 * source speaks guest offsets and the image keeps its format: the journal
 * says so in its header, the apply writes through qemu-nbd, the size is the
 * source's virtual size, and the digest is of what the guest sees.
 *
 * With `dest_vm` the image is that VM's disk, and the VM must be shut off:
 * it is checked through libvirt before the transfer and again right before
 * the commit (the last moment the journal can still be dropped), so a VM
 * started during the transfer never has its disk rewritten under it — the
 * journal is discarded and the call fails with FAILED_PRECONDITION.
 *
 * A FILE-layer pull into a qcow2 image (the request's `format`, or the
 * target's magic for older controllers) holds back whatever falls in the
 * image's first 2 MiB: the header the apply would leave is put together,
 * kept on the destination's backing chain and checked before the journal
 * commits (in-place-header.ts); a header naming anything unexpected is
 * refused with the journal discarded and the image untouched.
 */
import { constants } from 'node:fs';
import type { BigIntStats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { LibvirtPort } from '../libvirt/libvirt-port.js';
import type { Logger } from 'pino';
import { chunkHash, DEFAULT_BLOCK_SIZE, HASH_BYTES } from '../../shared/block-hash.js';
import { dataLoss, failedPrecondition, invalidArgument, KvmcloneError } from '../../shared/errors.js';
import { checkVmName } from '../../shared/validation.js';
import type { PullImageRequest__Output } from '../../shared/generated/kvmclone/agent/v1/PullImageRequest.js';
import type { PullProgress } from '../../shared/generated/kvmclone/agent/v1/PullProgress.js';
import { ProgressThrottle } from '../../shared/progress-throttle.js';
import { digestFile } from '../disk/block-hasher.js';
import { identityOf, type HashMemory } from '../disk/hash-memory.js';
import { checkByteCount, MAX_IMAGE_BYTES, normalizeRanges, type ByteSpan } from '../disk/request-limits.js';
import { SpanSet } from '../disk/span-set.js';
import { refuseHardLinked } from '../paths/hard-links.js';
import type { ImageRoots } from '../paths/image-roots.js';
import type { ConfinedDir } from '../paths/confined-dir.js';
import { openDirectory, openImage } from '../paths/open-beneath.js';
import type { StreamSink } from '../rpc/handlers.js';
import { journalPathFor } from './journal-file.js';
import { recoverJournal, settleJournal } from './journal-recovery.js';
import { JournalWriter } from './journal-writer.js';
import { digestAfterApply, digestFileAs } from './applied-digest.js';
import { HeaderWindow, planHeader, type HeaderPlan } from './in-place-header.js';
import { checkImageFormat, hasQcow2Magic, type ImageFormat } from '../images/image-header.js';
import { dialPeer } from './pull-image.js';
import type { ParkedPulls } from './parked-pulls.js';
import { isSendableOperationId } from '../../shared/operation-metadata.js';
import type { GuestFormat } from '../guest/guest-client.js';
import { digestGuestImage, guestFormatOf } from '../guest/guest-disk-calls.js';
import { digestImageRanges } from '../guest/guest-ranges-digest.js';
import { checkKeepPoints, keepUndo, recordPointTip } from './pull-point.js';
import { listPointFiles, nextPointId } from './restore-point-files.js';

/**
 * Holds the source to exactly the requested ranges: every message must lie
 * inside one, no byte may come twice, and the sum tells when all came.
 */
export class RangeCoverage {
  private readonly seen = new SpanSet();
  covered = 0;

  constructor(private readonly ranges: readonly ByteSpan[]) {}

  /** The parts of the requested ranges not received yet (all of them at first). */
  missingFrom(): ByteSpan[] {
    return this.seen.missingFrom(this.ranges);
  }

  take(offset: number, length: number, what: string): void {
    let lo = 0;
    let hi = this.ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ranges[mid].offset <= offset) lo = mid + 1;
      else hi = mid;
    }
    const range = this.ranges[lo - 1];
    if (length <= 0 || range === undefined || offset + length > range.offset + range.length || this.seen.overlaps(offset, length)) {
      throw dataLoss(`the source sent ${what} bytes ${offset} to ${offset + length}, which were not asked for (or came twice)`);
    }
    this.seen.add(offset, length);
    this.covered += length;
  }
}

/** What pullInPlace needs; `libvirt` is required when the request names a destination VM. */
export interface PullInPlaceDeps {
  roots: ImageRoots;
  runtimeDir: string;
  log: Logger;
  hashMemory: HashMemory;
  /** Passed through pullImage's deps object by TransferService. */
  libvirt?: Pick<LibvirtPort, 'getDomain'>;
  /** Where a pull cut short by a dropped connection waits for its retry (parked-pulls.ts); none: it is discarded. */
  parked?: ParkedPulls<InPlaceTransfer>;
}

/**
 * The transfer half of an in-place pull, up to the commit: everything a
 * retry of the same operation needs to continue it (parked-pulls.ts).
 */
export interface InPlaceTransfer {
  readonly journal: JournalWriter;
  /** The image, opened once beneath the roots: the journal is bound to its inode. */
  readonly held: FileHandle;
  /** The image's directory, held open beneath the roots (the journal lives there). */
  readonly dir: ConfinedDir;
  readonly target: string;
  /** The image as it was when the journal began. */
  readonly image: BigIntStats;
  /** The size after the apply (the source's file size, or virtual size for the guest layer). */
  readonly size: number;
  /** "file raw", "file qcow2", "guest raw", "guest qcow2": a retry must apply the same way. */
  readonly layer: string;
  readonly ranges: readonly ByteSpan[];
  readonly total: number;
  readonly coverage: RangeCoverage;
  /** A qcow2's first bytes, held back until the end (in-place-header.ts). */
  readonly window: HeaderWindow | undefined;
  /** With keep_points: the id of the restore point this pull keeps (in the journal's header from the start). */
  readonly pointId: bigint | undefined;
}

/** Releases a transfer that will not be committed: journal discarded, descriptors closed; the image was never touched. */
async function dropTransfer(t: InPlaceTransfer): Promise<void> {
  await t.journal.discard();
  await t.held.close().catch(() => undefined);
  t.dir.close();
}

function sameSpans(a: readonly ByteSpan[], b: readonly ByteSpan[]): boolean {
  return a.length === b.length && a.every((r, i) => r.offset === b[i]?.offset && r.length === b[i]?.length);
}

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

/** FAILED_PRECONDITION unless `req.dest_vm` (when named) is shut off (in-place pulls, and restores: restore-points.ts). */
export async function requireDestShutOff(
  req: Pick<PullImageRequest__Output, 'destVm' | 'targetPath'>,
  deps: Pick<PullInPlaceDeps, 'libvirt'>,
  signal: AbortSignal,
  when: string,
): Promise<void> {
  const vm = req.destVm ?? '';
  if (vm === '') return;
  if (deps.libvirt === undefined) throw failedPrecondition(`dest_vm: this agent cannot check the state of domain '${vm}' here; the sync was not applied`);
  const record = await deps.libvirt.getDomain(vm, { signal }).catch((err: unknown) => {
    if (err instanceof KvmcloneError && err.code === 'NOT_FOUND') throw failedPrecondition(`dest_vm: there is no domain '${vm}' on this host; the sync was not applied`);
    throw err;
  });
  if (record.state !== 'shutoff') {
    throw failedPrecondition(
      `domain '${vm}' is ${record.state} ${when}: its disk ${req.targetPath} is not rewritten under a running VM; the sync was not applied (shut it down and sync again)`,
    );
  }
}

/**
 * The format of a FILE-layer target: the request's (the domain's word for
 * it), else read from the target's magic (an older controller sends none).
 */
async function fileLayerFormat(format: string, target: string, fh: FileHandle): Promise<ImageFormat> {
  const magic = await hasQcow2Magic(fh);
  if (format === '') return magic ? 'qcow2' : 'raw';
  const said = checkImageFormat(format, 'format');
  // A raw image may hold anything (its guest wrote it); a qcow2 must look like one.
  if (said === 'qcow2' && !magic) throw failedPrecondition(`format: the request says qcow2 but ${target} has no qcow2 header`);
  return said;
}

/** Runs one in-place pull: recovery, transfer into the journal, commit, apply, digest. */
export async function pullInPlace(
  req: PullImageRequest__Output,
  deps: PullInPlaceDeps,
  send: StreamSink<PullProgress>,
  signal: AbortSignal,
  guest?: { readonly format: GuestFormat },
): Promise<void> {
  if (req.stagingId !== '') throw invalidArgument('staging_id: an in-place pull writes into the existing image; staging_id must be empty');
  if (req.digestRanges && guest === undefined) throw invalidArgument('digest_ranges: only a GUEST-layer in-place pull digests by ranges');
  if (req.destVm) checkVmName(req.destVm, 'dest_vm');
  const keep = checkKeepPoints(req);
  await requireDestShutOff(req, deps, signal, 'before the transfer');
  const source = dialPeer(req, deps.runtimeDir);
  let t: InPlaceTransfer | undefined;
  let parked = false;
  try {
    // Opened once beneath the roots and held: the journal is bound to this inode, the apply must find
    // the same one (settleJournal), and the digest reads through this descriptor.
    const opened = await openImage(deps.roots, req.targetPath, constants.O_RDONLY, 'target_path').catch((err: unknown) => {
      if (err instanceof KvmcloneError && err.code === 'INVALID_ARGUMENT' && /not a regular file/.test(err.message)) throw failedPrecondition(err.message);
      throw err;
    });
    const target = opened.path;
    let fresh: FileHandle | undefined = opened.fh;
    try {
      refuseHardLinked(opened.links, target, 'target_path', 'write into');
      if (guest !== undefined) {
        const actual = await guestFormatOf(target, deps.roots, 'target_path');
        if (actual !== guest.format) throw failedPrecondition(`format: the request says ${guest.format} but ${target} is a ${actual} image`);
      }
      const fileFormat = guest === undefined ? await fileLayerFormat(req.format, target, fresh) : undefined;
      const layer = guest === undefined ? `file ${fileFormat ?? 'raw'}` : `guest ${guest.format}`;
      const stat = await source.stat(signal);
      const size = checkByteCount(guest === undefined ? stat.fileSize : stat.virtualSize, guest === undefined ? 'source file size' : 'source virtual size');
      if (size > MAX_IMAGE_BYTES) throw invalidArgument(`the source image is ${size} bytes, more than the ${MAX_IMAGE_BYTES} the agent accepts`);
      // Empty ranges mean "nothing changed but the size" here, never "the whole file".
      const ranges = req.ranges.length === 0 ? [] : normalizeRanges(req.ranges, size);
      // The same operation's pull, cut short by a dropped connection, continues from its journal when nothing changed since.
      const current = await fresh.stat({ bigint: true });
      const resumed = await deps.parked?.take(target, req.operationId);
      if (
        resumed !== undefined &&
        resumed.image.ino === current.ino &&
        resumed.image.dev === current.dev &&
        resumed.size === size &&
        resumed.layer === layer &&
        sameSpans(resumed.ranges, ranges) &&
        (resumed.pointId !== undefined) === keep > 0
      ) {
        t = resumed;
      } else {
        if (resumed !== undefined) await dropTransfer(resumed);
        // Whatever an earlier pull left (a crash, a failed apply) is settled before anything else.
        // The journal and the image are reached through their directory, held open beneath the roots.
        const dir = await openDirectory(deps.roots, dirname(target), 'target_path');
        try {
          await recoverJournal(target, deps.log, { runtimeDir: deps.runtimeDir, dir });
          const journal = await JournalWriter.create(journalPathFor(target), target, dir);
          // A qcow2's first bytes (its header) go into the journal last, checked and kept on this host's chain.
          const window = fileFormat === 'qcow2' ? new HeaderWindow() : undefined;
          const image = await fresh.stat({ bigint: true });
          // Recovery above settled the points beside the image: the new one is newer than all of them.
          const pointId = keep > 0 ? nextPointId(await listPointFiles(target)) : undefined;
          t = {
            journal,
            held: fresh,
            dir,
            target,
            image,
            size,
            layer,
            ranges,
            total: ranges.reduce((sum, r) => sum + r.length, 0),
            coverage: new RangeCoverage(ranges),
            window,
            pointId,
          };
          fresh = undefined;
        } catch (err) {
          dir.close();
          throw err;
        }
      }
    } finally {
      // A resumed pull keeps the descriptor it began with (its journal is bound to that inode, checked equal above).
      await fresh?.close();
    }
  } catch (err) {
    source.close();
    throw err;
  }
  const { journal, held, dir, target, size, ranges, total, coverage, window, pointId } = t;
  const log = deps.log.child({ target, journal: journal.path });
  let transferred = 0;
  let header: HeaderPlan | undefined;
  try {
    let writing = false;
    try {
      if (coverage.covered === 0) {
        await journal.begin({
          dev: t.image.dev,
          ino: t.image.ino,
          size,
          ...(guest !== undefined && { layer: guest.format === 'qcow2' ? 'guest-qcow2' : 'guest-raw' }),
          ...(pointId !== undefined && { id: pointId }),
        });
      } else {
        log.info({ bytesKept: coverage.covered, bytesTotal: total }, 'in-place pull resumed from its journal: only the missing ranges are fetched');
      }
      // A resumed pull's first message says how much its journal already holds.
      await send({ phase: 'transfer', bytesDone: coverage.covered, bytesTotal: total, bytesTransferred: 0, done: false });
      const missing = coverage.missingFrom();
      const throttle = new ProgressThrottle(total);
      if (missing.length > 0) {
        for await (const message of source.read(missing, signal)) {
          signal.throwIfAborted();
          writing = true;
          if (message.data) {
            const { offset, data, hash } = message.data;
            if (hash.length !== HASH_BYTES || !chunkHash(data).equals(hash)) {
              throw dataLoss(`the chunk at offset ${offset} (${data.length} bytes) does not match its hash; it was damaged on the way`);
            }
            const after = window === undefined ? { offset, data } : window.takeData(offset, data);
            if (after !== undefined) await journal.addData(after.offset, after.data, after.data === data ? hash : chunkHash(after.data));
            // Counted once in the journal (or the header window): a retry does not ask for it again.
            coverage.take(offset, data.length, 'data');
            transferred = source.wire.bytes;
          } else if (message.zero) {
            const { offset, length } = message.zero;
            const after = window === undefined ? message.zero : window.takeZero(offset, length);
            if (after !== undefined) await journal.addZero(after.offset, after.length);
            coverage.take(offset, length, 'zero');
          } else {
            throw dataLoss('the source sent a ReadRanges message with neither data nor zero');
          }
          writing = false;
          if (throttle.shouldReport(coverage.covered))
            await send({ phase: 'transfer', bytesDone: coverage.covered, bytesTotal: total, bytesTransferred: transferred, bytesData: source.wire.plain, done: false });
        }
      }
      signal.throwIfAborted();
      if (coverage.covered !== total) throw dataLoss(`the source ended its stream after ${coverage.covered} of ${total} bytes`);
      writing = true;
      if (window !== undefined) {
        // Through the descriptor held since the start: the very inode the journal is bound to.
        header = await planHeader({ target, fh: held, currentSize: Number(t.image.size), newSize: size, window, roots: deps.roots });
        if (header.record !== undefined) await journal.addData(0, header.record, chunkHash(header.record));
        if (header.sourceForm !== undefined) log.info({ backingReference: header.backingReference }, "the source's header is written with this image's own backing reference");
      }
      // The last moment the journal can still be dropped: once committed, it is applied whatever happens.
      await requireDestShutOff(req, deps, signal, 'after the transfer, before the apply');
      // The undo record is sealed before the journal commits: a committed journal with an id always has it.
      if (pointId !== undefined) {
        const saved = await keepUndo({ held, dir, target, image: t.image, size, journal, pointId, keep, req, deps, log, ...(guest !== undefined && { guest }) }, signal);
        log.info({ point: String(pointId), ...saved }, 'undo record sealed');
      }
      await journal.commit();
      log.info({ size, ranges: ranges.length, bytesTransferred: transferred }, 'sync journal committed');
    } catch (err) {
      const transfer = t;
      // Only a FILE-layer pull is kept: kvmctl retries an offline sync's TRANSFER within the run, never a live one's
      // (a guest-layer journal kept for a retry that never comes would hold the image for nothing).
      if (deps.parked !== undefined && guest === undefined && isSendableOperationId(req.operationId) && parkable(err, signal, writing)) {
        await deps.parked.park(target, { operationId: req.operationId, state: transfer, drop: () => dropTransfer(transfer) });
        parked = true;
      } else {
        await journal.discard();
      }
      throw signal.aborted ? (signal.reason ?? err) : err;
    }
    const done = coverage.covered;

    // Committed: the sync is decided. The notice goes out before the first byte of the image changes.
    // If it cannot be sent (the call was cancelled), the apply still runs and the call then fails.
    const noticeFailure = await send({ phase: 'apply', bytesDone: done, bytesTotal: total, bytesTransferred: transferred, bytesData: source.wire.plain, done: false }).then(
      () => undefined,
      (err: unknown) => ({ err }),
    );
    // Hashes of the image as it is now, if this sync's HashBlocks pass left them and nothing changed it since.
    const before = identityOf(await held.stat({ bigint: true }));
    // (File-layer hashes: of no use to a guest-layer image unless it is raw, and then the digest is cheap to redo.)
    const remembered = guest === undefined ? deps.hashMemory.recall(target, before, DEFAULT_BLOCK_SIZE) : undefined;
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
    const digest =
      guest !== undefined
        ? req.digestRanges
          ? await digestImageRanges(target, guest.format, ranges, deps.runtimeDir, signal)
          : (await digestGuestImage(target, guest.format, deps.runtimeDir, signal)).digest
        : remembered === undefined
          ? header?.sourceForm === undefined
            ? await digestFile(held, (await held.stat()).size, signal)
            : await digestFileAs(held, (await held.stat()).size, header.sourceForm, signal)
          : await digestAfterApply(held, remembered, Number(before.size), newSize, ranges, signal, header?.sourceForm);
    log.info(
      { from: remembered === undefined ? 'the whole image' : 'remembered hashes and the changed blocks', layer: guest === undefined ? 'file' : `guest ${guest.format}` },
      'image digested',
    );
    if (pointId !== undefined) {
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
    await send({
      phase: 'apply',
      bytesDone: done,
      bytesTotal: total,
      bytesTransferred: transferred,
      bytesData: source.wire.plain,
      digest,
      done: true,
      ...(pointId !== undefined && { pointId: String(pointId) }),
    });
  } finally {
    if (!parked) {
      await held.close();
      dir.close();
    }
    source.close();
  }
}
