/**
 * PullImage with layer GUEST: the source path is a point-in-time view of a
 * running VM's disk (guest offsets, virtual size), and the destination keeps
 * the disk's format — a qcow2 stays a qcow2 — by writing through a qemu-nbd
 * of its own instead of into the file.
 *
 * STAGING creates (or resumes) a staging image beside the target, announced
 * to the controller in the first message exactly like a file pull's, so
 * CommitStaging and AbortStaging take it unchanged. Every chunk is checked
 * against its hash or block hashes before it is written; a whole new image is
 * digested from the bytes as they are written (stream-digest.ts), anything
 * else is read back through qemu-nbd. IN_PLACE is the journaled sync of
 * pull-in-place.ts with the journal marked as applying through the format.
 */
import { lstat, unlink } from 'node:fs/promises';
import { dataLoss, errnoCode, failedPrecondition, invalidArgument, outOfRange } from '../../shared/errors.js';
import type { PullImageRequest__Output } from '../../shared/generated/kvmclone/agent/v1/PullImageRequest.js';
import type { PullProgress } from '../../shared/generated/kvmclone/agent/v1/PullProgress.js';
import { ProgressThrottle } from '../../shared/progress-throttle.js';
import { checkId } from '../../shared/validation.js';
import { checkChunk } from '../disk/chunk-check.js';
import { checkByteCount, checkImageSize, checkSpan, normalizeRanges } from '../disk/request-limits.js';
import { SpanSet } from '../disk/span-set.js';
import { StreamDigester } from '../disk/stream-digest.js';
import { checkGuestFormat, type GuestFormat } from '../guest/guest-client.js';
import { guestDigest } from '../guest/guest-hashes.js';
import { openGuestImage } from '../guest/guest-image.js';
import { createGuestStaging, reopenGuestStaging, type GuestStaging } from '../guest/guest-staging.js';
import { GuestWrites } from '../guest/guest-writes.js';
import type { StreamSink } from '../rpc/handlers.js';
import { dialPeer, type PeerSource } from './pull-image.js';
import { pullInPlace } from './pull-in-place.js';
import type { PullInPlaceDeps } from './in-place-transfer.js';

/** What a pull needs from the agent (pull-image.ts): an in-place one's, parked pulls included. */
type PullDeps = PullInPlaceDeps;

/** Runs a GUEST-layer pull: the format is checked first (INVALID_ARGUMENT), then the mode decides. */
export async function pullGuest(req: PullImageRequest__Output, deps: PullDeps, send: StreamSink<PullProgress>, signal: AbortSignal): Promise<void> {
  const format = checkGuestFormat(req.format, 'format');
  switch (req.mode) {
    case 'PULL_MODE_IN_PLACE':
      return pullInPlace(req, deps, send, signal, { format });
    case 'PULL_MODE_STAGING':
    case 'PULL_MODE_UNSPECIFIED':
      return pullGuestIntoStaging(req, deps, format, send, signal);
    default:
      throw invalidArgument(`mode: ${String(req.mode)} is not a pull mode this agent knows`);
  }
}

/** Counters of one transfer, for progress and the final message. */
interface Moved {
  done: number;
  transferred: number;
}

/** One staging transfer: where from, where to, and what it has moved so far. */
interface Transfer {
  readonly source: PeerSource;
  readonly req: PullImageRequest__Output;
  readonly staging: GuestStaging;
  readonly format: GuestFormat;
  /** The view's virtual size. */
  readonly size: number;
  /** Bytes the pull covers (its ranges, or the whole view). */
  readonly total: number;
  readonly moved: Moved;
  readonly deps: PullDeps;
  readonly send: StreamSink<PullProgress>;
}

/** Streams the source's ranges (all of it when none) into the staging image through a qemu-nbd and returns its digest. */
async function transfer(t: Transfer, signal: AbortSignal): Promise<string> {
  const { source, req, staging, format, size, total, moved, deps, send } = t;
  // A new image filled from a whole-view read is digested from the bytes as they are written; anything else is read back.
  const digester = staging.created && req.ranges.length === 0 ? new StreamDigester(size) : undefined;
  const throttle = new ProgressThrottle(total);
  const image = await openGuestImage(staging.path, format, { writable: true, runtimeDir: deps.runtimeDir, signal });
  try {
    if (image.size !== size) throw failedPrecondition(`the staging image is ${image.size} bytes through its ${format} format, not the view's ${size}`);
    const writes = new GuestWrites(image.client);
    // A new image reads as zeros wherever nothing was written: zero ranges there need no request.
    const written = new SpanSet();
    try {
      // Block hashes on the wire let one pass over the bytes both check them and feed the digest.
      for await (const message of source.read(req.ranges, signal, digester !== undefined)) {
        signal.throwIfAborted();
        if (message.data) {
          const { data } = message.data;
          const offset = checkByteCount(message.data.offset, 'data.offset');
          if (data.length === 0) throw dataLoss(`the source sent an empty chunk at offset ${offset}`);
          if (offset + data.length > size) throw outOfRange(`data: the source sent bytes ${offset} to ${offset + data.length}, past the view's ${size} bytes`);
          const pieces = checkChunk({ offset, data, hash: message.data.hash, blockHashes: message.data.blockHashes });
          digester?.data(offset, data, pieces);
          await writes.write(offset, data);
          if (staging.created) written.add(offset, data.length);
          moved.done += data.length;
          moved.transferred = source.wire.bytes;
        } else if (message.zero) {
          const { offset, length } = checkSpan(message.zero, size, 'zero');
          digester?.zero(offset, length);
          if (!staging.created || written.overlaps(offset, length)) await writes.zero(offset, length, true);
          moved.done += length;
        } else {
          throw dataLoss('the source sent a ReadRanges message with neither data nor zero');
        }
        if (throttle.shouldReport(moved.done))
          await send({ bytesDone: moved.done, bytesTotal: total, bytesTransferred: moved.transferred, bytesData: source.wire.plain, done: false });
      }
      await writes.drain();
    } catch (err) {
      await writes.settle();
      throw err;
    }
    signal.throwIfAborted();
    await image.client.flush();
    const digest = digester?.finish()?.digest ?? (await guestDigest(image.client, signal));
    await image.close();
    return digest;
  } finally {
    await image.close().catch(() => undefined);
  }
}

/** STAGING mode: the whole view, or `ranges` of it, into a new or resumed staging image beside the target. */
async function pullGuestIntoStaging(req: PullImageRequest__Output, deps: PullDeps, format: GuestFormat, send: StreamSink<PullProgress>, signal: AbortSignal): Promise<void> {
  const resumeId = req.stagingId === '' ? undefined : checkId(req.stagingId, 'staging_id');
  const source = dialPeer(req, deps.runtimeDir);
  try {
    const target = await deps.roots.forCreate(req.targetPath, 'target_path');
    // An existing target is allowed (a commit with replace overwrites it) but must be a file.
    const existing = await lstat(target).catch((err: unknown) => (errnoCode(err) === 'ENOENT' ? undefined : Promise.reject(err)));
    if (existing !== undefined && !existing.isFile()) throw failedPrecondition(`target_path: ${target} exists and is not a regular file`);
    const stat = await source.stat(signal);
    const size = checkImageSize(stat.virtualSize, "the source view's virtual size");
    const total = req.ranges.length > 0 ? normalizeRanges(req.ranges, size).reduce((sum, r) => sum + r.length, 0) : size;
    const staging = resumeId === undefined ? await createGuestStaging(target, format, size, signal) : await reopenGuestStaging(target, resumeId, format, size, signal);
    const moved: Moved = { done: 0, transferred: 0 };
    let announced = false;
    try {
      // The controller learns the staging image first, so it can remove it even if this agent dies,
      // or resume it if the controller dies: once announced, an interrupted pull keeps it.
      await send({ stagingId: staging.id, stagingPath: staging.path, bytesDone: 0, bytesTotal: total, bytesTransferred: 0, done: false });
      announced = true;
      const digest = await transfer({ source, req, staging, format, size, total, moved, deps, send }, signal);
      deps.log.info({ stagingPath: staging.path, format, size, bytesTransferred: moved.transferred }, 'guest staging image written');
      await send({
        stagingId: staging.id,
        stagingPath: staging.path,
        bytesDone: moved.done,
        bytesTotal: total,
        bytesTransferred: moved.transferred,
        bytesData: source.wire.plain,
        digest,
        done: true,
      });
    } catch (err) {
      // Unlinked while still locked, so nobody can take the name in between.
      if (staging.created && !announced) await unlink(staging.path).catch(() => undefined);
      throw signal.aborted ? (signal.reason ?? err) : err;
    } finally {
      await staging.fh.close();
    }
  } finally {
    source.close();
  }
}
