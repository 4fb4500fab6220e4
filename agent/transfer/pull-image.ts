/**
 * PullImage: the destination agent dials the source agent's peer socket
 * (re-exposed on this host by the controller's SSH forwards) and streams the
 * image into a staging file beside the target — or, in IN_PLACE mode, a sync
 * into the existing image through a journal (pull-in-place.ts). The bytes go
 * agent to agent; the controller only sees progress.
 */
import { Metadata } from '@grpc/grpc-js';
import { createAgentClients, unaryCall } from '../../shared/agent-clients.js';
import { dataLoss, invalidArgument } from '../../shared/errors.js';
import { unpackBatch } from '../disk/batching-sink.js';
import { fromStatus } from '../../shared/from-status.js';
import type { ByteRange } from '../../shared/generated/kvmclone/agent/v1/ByteRange.js';
import type { PullImageRequest__Output } from '../../shared/generated/kvmclone/agent/v1/PullImageRequest.js';
import type { PullProgress } from '../../shared/generated/kvmclone/agent/v1/PullProgress.js';
import type { ReadRangesResponse__Output } from '../../shared/generated/kvmclone/agent/v1/ReadRangesResponse.js';
import type { StatImageResponse__Output } from '../../shared/generated/kvmclone/agent/v1/StatImageResponse.js';
import type { WriteRangesRequest__Output } from '../../shared/generated/kvmclone/agent/v1/WriteRangesRequest.js';
import { ProgressThrottle } from '../../shared/progress-throttle.js';
import { checkAbsolutePath } from '../../shared/validation.js';
import { checkRateLimit, checkStreams } from '../disk/request-limits.js';
import { mergeInOrder, STRIPE_BYTES, stripeRanges } from './striped-read.js';
import { checkCompress, plainData } from './chunk-compression.js';
import { constants } from 'node:fs';
import { digestFile } from '../disk/block-hasher.js';
import { openStagingIn } from '../disk/staging-file.js';
import { withParent } from '../paths/open-beneath.js';
import { makeParents } from '../paths/make-parents.js';
import { StreamDigester } from '../disk/stream-digest.js';
import { writeRanges } from '../disk/staging-writer.js';
import type { ImageRoots } from '../paths/image-roots.js';
import type { StreamSink } from '../rpc/handlers.js';
import { pullInPlace } from './pull-in-place.js';
import type { PullInPlaceDeps } from './in-place-transfer.js';
import { pullGuest } from './pull-guest.js';
import { OPERATION_ID_METADATA, isSendableOperationId } from '../../shared/operation-metadata.js';
import { isGuestLayer } from '../guest/guest-disk-calls.js';
import { forwardDirOf, isPeerSocketIn } from '../server/forward-dir.js';

/** Metadata key carrying a peer ticket. */
export const TICKET_METADATA = 'kvmclone-ticket';

/** ReadRanges batch_bytes of a pull: a sync's 64 KiB blocks arrive up to 1 MiB to a message (agent/disk/batching-sink.ts). */
export const PULL_BATCH_BYTES = 1024 * 1024;

/**
 * Checks that `path` is a per-operation peer socket: `<forward dir>/peer-<id>.sock`
 * (forward-dir.ts), or — as an older controller logged in as root binds it —
 * `<runtime dir>/peer-<id>.sock`. Nothing else is dialled.
 */
export function checkPeerSocket(path: string, runtimeDir: string): string {
  const p = checkAbsolutePath(path, 'peer_socket');
  const forwardDir = forwardDirOf(runtimeDir);
  if (!isPeerSocketIn(p, forwardDir) && !isPeerSocketIn(p, runtimeDir)) {
    throw invalidArgument(`peer_socket: ${p} is not a per-operation peer socket (${forwardDir}/peer-<id>.sock)`);
  }
  return p;
}

/**
 * A source agent reached through a per-operation peer socket: every call
 * carries the ticket, and every failure is reported as the source agent's.
 * Shared by both pull modes.
 */
export interface PeerSource {
  readonly sourcePath: string;
  /** StatImage of the source file. */
  stat(signal: AbortSignal): Promise<StatImageResponse__Output>;
  /**
   * ReadRanges of the source file (empty `ranges` reads all of it). The call
   * is cancelled when `signal` aborts or the consumer stops early.
   */
  read(ranges: readonly ByteRange[], signal: AbortSignal, blockHashes?: boolean): AsyncGenerator<ReadRangesResponse__Output>;
  /** Data bytes received from the source as they crossed the wire (compressed ones at their compressed size), and as plain bytes. */
  readonly wire: { readonly bytes: number; readonly plain: number };
  /** Closes the channel to the peer socket. */
  close(): void;
}

/**
 * Checks the peer fields of a pull (socket, ticket, source path) and dials
 * the source agent. `ownConnection`: a connection of its own to the peer
 * socket (an extra stream of a striped pull, striped-read.ts), never one
 * shared with another client of the same socket.
 */
export function dialPeer(req: PullImageRequest__Output, runtimeDir: string, ownConnection = false): PeerSource {
  const peer = checkPeerSocket(req.peerSocket, runtimeDir);
  if (!/^[0-9a-f]{64}$/.test(req.ticket)) throw invalidArgument('ticket: not a ticket issued by OpenTicket');
  const sourcePath = checkAbsolutePath(req.sourcePath, 'source_path');
  // --bwlimit: the source agent paces what it sends for this operation (agent/transfer/rate-limits.ts).
  const rateLimit = checkRateLimit(req.rateLimit);
  const compress = checkCompress(req.compress);
  const clients = createAgentClients(`unix:${peer}`, ownConnection ? { 'grpc.use_local_subchannel_pool': 1 } : {});
  const wire = { bytes: 0, plain: 0 };
  const metadata = new Metadata();
  metadata.set(TICKET_METADATA, req.ticket);
  // The source agent's audit record of these reads then names the operation.
  if (isSendableOperationId(req.operationId)) metadata.set(OPERATION_ID_METADATA, req.operationId);
  return {
    sourcePath,
    stat: (signal) =>
      unaryCall(clients.disk, clients.disk.statImage, { path: sourcePath }, { deadlineMs: 60_000, signal, metadata }).catch((err: unknown) => {
        throw fromStatus(err, 'source agent');
      }),
    read: async function* (ranges, signal, blockHashes = false) {
      // Small pieces (a sync's scattered blocks) come packed several to a message; a source agent that does not
      // know batch_bytes sends them one by one, which reads the same.
      const reader = clients.disk.readRanges({ path: sourcePath, ranges: [...ranges], chunkSize: 0, blockHashes, rateLimit, compress, batchBytes: PULL_BATCH_BYTES }, metadata);
      const onAbort = (): void => reader.cancel();
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        for await (const received of reader as AsyncIterable<ReadRangesResponse__Output>) {
          for (const message of unpackBatch(received)) {
            if (message.batch) throw dataLoss('the source agent sent a ReadRanges batch inside a batch');
            // Compressed chunks (--compress) become plain here, before any hash is checked; wireBytes counts what came.
            if (message.data) {
              wire.bytes += message.data.data.length;
              if (message.data.compression === 'COMPRESSION_ZSTD') message.data.data = plainData(message.data, 'source agent');
              wire.plain += message.data.data.length;
            }
            yield message;
          }
        }
      } catch (err) {
        // Aborted here (the controller cancelled, or this agent is shutting down): the abort's own reason, not the
        // peer call's CANCELLED, which to-status would report as INTERNAL — a restarting agent then says UNAVAILABLE.
        throw signal.aborted ? (signal.reason ?? err) : fromStatus(err, 'source agent');
      } finally {
        signal.removeEventListener('abort', onAbort);
        reader.cancel();
      }
    },
    wire,
    close: () => clients.close(),
  };
}

/**
 * Pulls one image; streams progress and ends with the digest of what was
 * written. STAGING (the default) fills a staging file; IN_PLACE applies a
 * sync to the existing image through a journal (pull-in-place.ts). Layer
 * GUEST (a live view at the source) writes through the image's format
 * instead (pull-guest.ts).
 */
export async function pullImage(req: PullImageRequest__Output, deps: PullInPlaceDeps, send: StreamSink<PullProgress>, signal: AbortSignal): Promise<void> {
  checkStreams(req.streams);
  if (req.makeParents && (req.mode === 'PULL_MODE_IN_PLACE' || isGuestLayer(req.layer))) throw invalidArgument('make_parents: only a FILE-layer STAGING pull creates directories');
  if (isGuestLayer(req.layer)) return pullGuest(req, deps, send, signal);
  switch (req.mode) {
    case 'PULL_MODE_IN_PLACE':
      return pullInPlace(req, deps, send, signal);
    case 'PULL_MODE_STAGING':
    case 'PULL_MODE_UNSPECIFIED':
      // A TPM state directory named after a clone's new UUID: made beneath its root before the staging file goes in it.
      if (req.makeParents) await makeParents(deps.roots, req.targetPath);
      return pullIntoStaging(req, deps, send, signal);
    default:
      throw invalidArgument(`mode: ${String(req.mode)} is not a pull mode this agent knows`);
  }
}

/**
 * The digest of a staging file read back, opened (and locked) through the
 * target's directory held open beneath the roots, never by its path.
 */
async function digestStaging(roots: ImageRoots, targetPath: string, stagingId: string, signal: AbortSignal): Promise<string> {
  return withParent(roots, targetPath, 'target_path', false, async (parent) => {
    const fh = await openStagingIn(parent, stagingId, constants.O_RDONLY);
    try {
      return await digestFile(fh, (await fh.stat()).size, signal);
    } finally {
      await fh.close();
    }
  });
}

/**
 * A whole-file pull may read over several connections (striped-read.ts); a
 * resumed or partial one reads over one. Dials the extra connections into
 * `sources` (whose first is the pull's own; the caller closes them all, also
 * when a dial fails) and returns the read over all of them, in order.
 */
function dialStripes(
  req: PullImageRequest__Output,
  runtimeDir: string,
  size: number,
  sources: PeerSource[],
  signal: AbortSignal,
): (blockHashes: boolean) => AsyncGenerator<ReadRangesResponse__Output> {
  const source = sources[0];
  const streams = req.ranges.length === 0 ? Math.min(checkStreams(req.streams), Math.ceil(size / STRIPE_BYTES)) : 1;
  for (let i = 1; i < streams; i++) sources.push(dialPeer(req, runtimeDir, true));
  return (blockHashes) => {
    if (sources.length === 1) return source.read(req.ranges, signal, blockHashes);
    const stripes = stripeRanges(size, sources.length);
    return mergeInOrder(sources.map((s, i) => s.read(stripes[i] ?? [], signal, blockHashes)));
  };
}

/** STAGING mode: the whole image, or `ranges` of it, into a new or resumed staging file beside the target. */
async function pullIntoStaging(req: PullImageRequest__Output, deps: { roots: ImageRoots; runtimeDir: string }, send: StreamSink<PullProgress>, signal: AbortSignal): Promise<void> {
  const source = dialPeer(req, deps.runtimeDir);
  const sources = [source];
  try {
    const stat = await source.stat(signal);
    const size = stat.fileSize;
    const read = dialStripes(req, deps.runtimeDir, size, sources, signal);
    const wireBytes = (): number => sources.reduce((n, s) => n + s.wire.bytes, 0);
    const plainBytes = (): number => sources.reduce((n, s) => n + s.wire.plain, 0);
    const total = req.ranges.length > 0 ? req.ranges.reduce((sum, r) => sum + r.length, 0) : size;
    const throttle = new ProgressThrottle(total);
    let done = 0;
    let transferred = 0;
    // A new staging file filled from a whole-file read is digested from the bytes as they are written
    // (stream-digest.ts); a resumed or partial one is read back afterwards.
    const digester = req.stagingId === '' && req.ranges.length === 0 ? new StreamDigester(size) : undefined;
    async function* writes(): AsyncGenerator<WriteRangesRequest__Output> {
      yield { payload: 'open', open: { targetPath: req.targetPath, size, stagingId: req.stagingId } };
      // Block hashes on the wire let one pass over the bytes both check them and feed the digest.
      for await (const message of read(digester !== undefined)) {
        if (message.data) {
          done += message.data.data.length;
          transferred = wireBytes();
          // The staging writer checks the bytes against the same hashes before writing them; a mismatch fails the pull.
          digester?.data(message.data.offset, message.data.data, message.data.blockHashes.length > 0 ? message.data.blockHashes : undefined);
          yield { payload: 'data', data: message.data };
        } else if (message.zero) {
          done += message.zero.length;
          digester?.zero(message.zero.offset, message.zero.length);
          yield { payload: 'zero', zero: message.zero };
        }
        if (throttle.shouldReport(done)) {
          await send({ bytesDone: done, bytesTotal: total, bytesTransferred: transferred, bytesData: plainBytes(), done: false });
        }
      }
    }
    // The controller learns the staging file first, so it can remove it even if this agent dies,
    // or resume it if the controller dies: once announced, an interrupted pull keeps it.
    const staging = await writeRanges(writes(), deps.roots, signal, (opened) =>
      send({ stagingId: opened.id, stagingPath: opened.path, bytesDone: 0, bytesTotal: total, bytesTransferred: 0, done: false }),
    );
    // The controller knows this staging file (announced at open): if the digest fails, it removes it or a rerun resumes it.
    const digest = digester?.finish()?.digest ?? (await digestStaging(deps.roots, req.targetPath, staging.stagingId, signal));
    await send({
      stagingId: staging.stagingId,
      stagingPath: staging.stagingPath,
      bytesDone: done,
      bytesTotal: total,
      bytesTransferred: transferred,
      bytesData: plainBytes(),
      digest,
      done: true,
    });
  } finally {
    for (const s of sources) s.close();
  }
}
