/**
 * The first stage of an in-place pull (pull-in-place.ts): the target opened
 * once beneath the roots and checked, the source's size and the ranges
 * settled, and then either the parked transfer of the same operation taken
 * up again (nothing changed since it was cut short) or a new journal begun
 * beside the image, after whatever an earlier pull left there is settled.
 */
import { constants } from 'node:fs';
import type { BigIntStats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { failedPrecondition, invalidArgument, KvmcloneError } from '../../shared/errors.js';
import type { PullImageRequest__Output } from '../../shared/generated/kvmclone/agent/v1/PullImageRequest.js';
import { checkByteCount, MAX_IMAGE_BYTES, normalizeRanges, type ByteSpan } from '../disk/request-limits.js';
import type { GuestFormat } from '../guest/guest-client.js';
import { guestFormatOf } from '../guest/guest-disk-calls.js';
import { checkImageFormat, hasQcow2Magic, type ImageFormat } from '../images/image-header.js';
import { refuseHardLinked } from '../paths/hard-links.js';
import type { ImageRoots } from '../paths/image-roots.js';
import { openDirectory, openImage } from '../paths/open-beneath.js';
import { HeaderWindow } from './in-place-header.js';
import { dropTransfer, RangeCoverage, type InPlaceTransfer, type PullInPlaceDeps } from './in-place-transfer.js';
import { journalPathFor } from './journal-file.js';
import { recoverJournal } from './journal-recovery.js';
import { JournalWriter } from './journal-writer.js';
import type { PeerSource } from './pull-image.js';
import { listPointFiles, nextPointId } from './restore-point-files.js';

/** What the request and the source say the pull is: how it applies, to what size, over which ranges. */
interface PullShape {
  /** A FILE-layer target's format (undefined for the guest layer). */
  readonly fileFormat: ImageFormat | undefined;
  readonly layer: string;
  readonly size: number;
  readonly ranges: readonly ByteSpan[];
}

function sameSpans(a: readonly ByteSpan[], b: readonly ByteSpan[]): boolean {
  return a.length === b.length && a.every((r, i) => r.offset === b[i]?.offset && r.length === b[i]?.length);
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

/**
 * Opens the target beneath the roots, read-only, for the whole pull. Not a
 * regular file: the pull's precondition fails, not its argument.
 */
async function openTarget(roots: ImageRoots, targetPath: string): ReturnType<typeof openImage> {
  return openImage(roots, targetPath, constants.O_RDONLY, 'target_path').catch((err: unknown) => {
    if (err instanceof KvmcloneError && err.code === 'INVALID_ARGUMENT' && /not a regular file/.test(err.message)) throw failedPrecondition(err.message);
    throw err;
  });
}

/**
 * Checks the target's format against the request and asks the source its
 * size: a retry may continue a parked transfer only when all of it is the same.
 */
async function shapeOf(
  req: PullImageRequest__Output,
  deps: PullInPlaceDeps,
  source: PeerSource,
  target: string,
  fh: FileHandle,
  signal: AbortSignal,
  guest: { readonly format: GuestFormat } | undefined,
): Promise<PullShape> {
  if (guest !== undefined) {
    const actual = await guestFormatOf(target, deps.roots, 'target_path');
    if (actual !== guest.format) throw failedPrecondition(`format: the request says ${guest.format} but ${target} is a ${actual} image`);
  }
  const fileFormat = guest === undefined ? await fileLayerFormat(req.format, target, fh) : undefined;
  const layer = guest === undefined ? `file ${fileFormat ?? 'raw'}` : `guest ${guest.format}`;
  const stat = await source.stat(signal);
  const size = checkByteCount(guest === undefined ? stat.fileSize : stat.virtualSize, guest === undefined ? 'source file size' : 'source virtual size');
  if (size > MAX_IMAGE_BYTES) throw invalidArgument(`the source image is ${size} bytes, more than the ${MAX_IMAGE_BYTES} the agent accepts`);
  // Empty ranges mean "nothing changed but the size" here, never "the whole file".
  const ranges = req.ranges.length === 0 ? [] : normalizeRanges(req.ranges, size);
  return { fileFormat, layer, size, ranges };
}

/** A parked transfer continues only into the same inode, to the same size, layer and ranges, keeping a point or not as before. */
function canResume(resumed: InPlaceTransfer, current: BigIntStats, shape: PullShape, keep: number): boolean {
  return (
    resumed.image.ino === current.ino &&
    resumed.image.dev === current.dev &&
    resumed.size === shape.size &&
    resumed.layer === shape.layer &&
    sameSpans(resumed.ranges, shape.ranges) &&
    (resumed.pointId !== undefined) === keep > 0
  );
}

/**
 * Begins a new transfer holding `fresh`: recovery first, then a new
 * journal (and the next point id with keep_points). The directory opened
 * here is closed again if this fails.
 */
async function startTransfer(deps: PullInPlaceDeps, target: string, fresh: FileHandle, shape: PullShape, keep: number): Promise<InPlaceTransfer> {
  const { size, layer, ranges } = shape;
  // Whatever an earlier pull left (a crash, a failed apply) is settled before anything else.
  // The journal and the image are reached through their directory, held open beneath the roots.
  const dir = await openDirectory(deps.roots, dirname(target), 'target_path');
  try {
    await recoverJournal(target, deps.log, { runtimeDir: deps.runtimeDir, dir });
    const journal = await JournalWriter.create(journalPathFor(target), target, dir);
    // A qcow2's first bytes (its header) go into the journal last, checked and kept on this host's chain.
    const window = shape.fileFormat === 'qcow2' ? new HeaderWindow() : undefined;
    const image = await fresh.stat({ bigint: true });
    // Recovery above settled the points beside the image: the new one is newer than all of them.
    const pointId = keep > 0 ? nextPointId(await listPointFiles(target)) : undefined;
    return {
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
  } catch (err) {
    dir.close();
    throw err;
  }
}

/**
 * Opens the transfer half of an in-place pull: the parked one of the same
 * operation when nothing changed since it was cut short by a dropped
 * connection, else a new one (a parked one that no longer fits is dropped).
 * The descriptor opened here is closed unless a new transfer holds it.
 */
export async function openTransfer(
  req: PullImageRequest__Output,
  deps: PullInPlaceDeps,
  source: PeerSource,
  keep: number,
  signal: AbortSignal,
  guest: { readonly format: GuestFormat } | undefined,
): Promise<InPlaceTransfer> {
  // Opened once beneath the roots and held: the journal is bound to this inode, the apply must find
  // the same one (settleJournal), and the digest reads through this descriptor.
  const opened = await openTarget(deps.roots, req.targetPath);
  const target = opened.path;
  let fresh: FileHandle | undefined = opened.fh;
  try {
    refuseHardLinked(opened.links, target, 'target_path', 'write into');
    const shape = await shapeOf(req, deps, source, target, fresh, signal, guest);
    // The same operation's pull, cut short by a dropped connection, continues from its journal when nothing changed since.
    const current = await fresh.stat({ bigint: true });
    const resumed = await deps.parked?.take(target, req.operationId);
    if (resumed !== undefined && canResume(resumed, current, shape, keep)) return resumed;
    if (resumed !== undefined) await dropTransfer(resumed);
    const t = await startTransfer(deps, target, fresh, shape, keep);
    fresh = undefined;
    return t;
  } finally {
    // A resumed pull keeps the descriptor it began with (its journal is bound to that inode, checked equal above).
    await fresh?.close();
  }
}
