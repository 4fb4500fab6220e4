/**
 * DiskService: the agent's data plane, wired from the pieces in agent/disk.
 *
 * This file holds only the wiring and the order of checks: every request
 * field is validated first (INVALID_ARGUMENT naming the field), then every
 * path is confined to the image roots (PERMISSION_DENIED) before any file is
 * opened, and an image is opened once, beneath its root's descriptor, with
 * every later step on that descriptor (agent/paths/open-beneath.ts).
 */
import type { FileHandle } from 'node:fs/promises';
import type { DiskServiceHandlers } from '../../shared/generated/kvmclone/agent/v1/DiskService.js';
import type { Extent as WireExtent } from '../../shared/generated/kvmclone/agent/v1/Extent.js';
import type { MapExtentsResponse } from '../../shared/generated/kvmclone/agent/v1/MapExtentsResponse.js';
import type { ImageRoots } from '../paths/image-roots.js';
import { clientStream, serverStream, unary, type RpcDeps, type StreamSink } from '../rpc/handlers.js';
import type { HashMemory } from '../disk/hash-memory.js';
import { rememberedDigest, rememberedHashBlocks, rememberedReadRanges } from '../disk/remembered-hashes.js';
import { mapFileExtents, mapGuestExtents, type Extent, type ExtentKind } from '../disk/extent-map.js';
import { checkBatchBlocks, checkBatchBytes, checkBlockSize, checkByteCount, checkChunkSize, checkRateLimit, normalizeRanges } from '../disk/request-limits.js';
import { RateLimits } from '../transfer/rate-limits.js';
import { checkCompress, compressingSink } from '../transfer/chunk-compression.js';
import { batchingSink } from '../disk/batching-sink.js';
import { currentOperationId } from '../leftovers/call-operation.js';
import { abortStaging, commitStaging } from '../disk/staging-commit.js';
import { writeRanges } from '../disk/staging-writer.js';
import { statImage } from '../disk/stat-image.js';
import { rebaseStaging } from '../disk/staging-rebase.js';
import { removeImage } from '../disk/remove-image.js';
import type { LibvirtPort } from '../libvirt/libvirt-port.js';
import { guestDigestImage, guestHashBlocks, isGuestLayer } from '../guest/guest-disk-calls.js';
import type { LiveViews } from '../live/live-views.js';
import { isViewPath } from '../live/view-path.js';
import { viewDigestImage, viewHashBlocks, viewMapExtents, viewReadRanges, viewStatImage } from '../live/view-disk-calls.js';
import { invalidArgument, notFound } from '../../shared/errors.js';
import { openingLeaser, withLease, type ImageLeaser } from '../disk/image-lease.js';
import { withErrnoPath } from '../disk/errno-path.js';

/** What DiskService needs from the agent. */
export interface DiskServiceDeps {
  readonly rpc: RpcDeps;
  readonly roots: ImageRoots;
  /** Block hashes already taken of unchanged files (shared by every service of the agent). */
  readonly hashMemory: HashMemory;
  /** --bwlimit buckets per operation (agent/transfer/rate-limits.ts); a service of its own when absent (tests). */
  readonly rateLimits?: RateLimits;
  /** The agent's runtime directory: where the GUEST layer's qemu-nbd sockets go (agent/guest/guest-disk-calls.ts). */
  readonly runtimeDir?: string;
  /** Open live views: a view path (agent/live/view-path.ts) is answered from its export (agent/live/view-disk-calls.ts). */
  readonly views?: LiveViews;
  /** libvirt, for RemoveImage to refuse deleting a file a defined domain uses (absent on the peer socket, where RemoveImage is refused anyway). */
  readonly libvirt?: LibvirtPort;
  /**
   * How the read calls get their image; by default they open it beneath the
   * roots themselves. The peer socket hands over the descriptor its ticket
   * was checked against (agent/server/peer-server.ts).
   */
  readonly images?: ImageLeaser;
}

/** Extents per MapExtents message (~15 bytes each on the wire). */
const EXTENTS_PER_MESSAGE = 4096;

const WIRE_KIND: Readonly<Record<ExtentKind, WireExtent['kind']>> = {
  data: 'EXTENT_KIND_DATA',
  hole: 'EXTENT_KIND_HOLE',
  zero: 'EXTENT_KIND_ZERO',
};

/** Sends extents in messages of EXTENTS_PER_MESSAGE; always at least one, so `size` always arrives. */
async function sendExtents(extents: AsyncIterable<Extent> | Iterable<Extent>, size: number, send: StreamSink<MapExtentsResponse>): Promise<void> {
  let batch: WireExtent[] = [];
  let sent = false;
  for await (const e of extents) {
    batch.push({ offset: e.offset, length: e.length, kind: WIRE_KIND[e.kind] });
    if (batch.length === EXTENTS_PER_MESSAGE) {
      await send({ extents: batch, size });
      batch = [];
      sent = true;
    }
  }
  if (batch.length > 0 || !sent) await send({ extents: batch, size });
}

/** Runs `fn` on an image, given its size, resolved path and the signal it runs under. */
type ImageFn<T> = (fh: FileHandle, size: number, resolved: string, signal: AbortSignal) => Promise<T>;
/** Runs `fn` on the request's image (imageRunner). */
type WithImage = <T>(req: { path: string }, ctx: { signal: AbortSignal }, fn: ImageFn<T>) => Promise<T>;

/** Runs `fn` on the request's image, opened once (image-lease.ts), with the call's signal (and the lease's); an I/O error names the image. */
function imageRunner(lease: ImageLeaser): WithImage {
  return async <T>(req: { path: string }, ctx: { signal: AbortSignal }, fn: ImageFn<T>): Promise<T> => {
    try {
      // Opening reads the image's header too: a disk that fails from its first byte fails here.
      return await withLease(await lease(req, 'path'), ctx.signal, (image, signal) => fn(image.fh, image.size, image.path, signal));
    } catch (err) {
      throw withErrnoPath(err, req.path);
    }
  };
}

/** The live views, for a request naming a view path; NOT_FOUND on an agent that has none. */
function liveViews(deps: DiskServiceDeps): LiveViews {
  if (deps.views === undefined) throw notFound('this service has no live views');
  return deps.views;
}

/** StatImage, MapExtents, HashBlocks and DigestImage: what an image holds, told without its bytes. */
function describingHandlers(deps: DiskServiceDeps, withImage: WithImage): Pick<DiskServiceHandlers, 'StatImage' | 'MapExtents' | 'HashBlocks' | 'DigestImage'> {
  const { rpc, roots, hashMemory } = deps;
  const views = (): LiveViews => liveViews(deps);
  return {
    StatImage: unary('StatImage', rpc, async (req, ctx) =>
      isViewPath(req.path) ? viewStatImage(views(), req.path) : withImage(req, ctx, (fh, _size, path, signal) => statImage({ fh, path }, signal)),
    ),

    MapExtents: serverStream('MapExtents', rpc, async (req, send, ctx) => {
      if (isViewPath(req.path)) return viewMapExtents(views(), req, ctx, (extents, size) => sendExtents(extents, size, send));
      if (req.dirtyOnly) throw invalidArgument('dirty_only: only a live view has changed blocks to list');
      const layer: unknown = req.layer;
      if (layer === 'EXTENT_LAYER_GUEST') {
        if (req.detectZeroes) throw invalidArgument('detect_zeroes: only the FILE layer detects zeroes; the GUEST layer reports what qemu-img knows');
        // Every backing file must lie under the roots: qemu-img reads the chain the headers name.
        const { size, extents } = await mapGuestExtents(await roots.existing(req.path, 'path'), ctx.signal, { roots });
        return sendExtents(extents, size, send);
      }
      if (layer !== 'EXTENT_LAYER_FILE' && layer !== 'EXTENT_LAYER_UNSPECIFIED') throw invalidArgument(`layer: ${String(layer)} is not a known extent layer`);
      return withImage(req, ctx, (fh, size, _path, signal) => sendExtents(mapFileExtents(fh, size, req.detectZeroes, signal), size, send));
    }),

    HashBlocks: serverStream('HashBlocks', rpc, async (req, send, ctx) => {
      const blockSize = checkBlockSize(req.blockSize);
      const batchBlocks = checkBatchBlocks(req.batchBlocks);
      const offset = checkByteCount(req.offset, 'offset');
      const length = checkByteCount(req.length, 'length');
      if (offset % blockSize !== 0) throw invalidArgument(`offset: ${offset} is not a multiple of block_size ${blockSize}`);
      if (isViewPath(req.path)) return viewHashBlocks(views(), req.path, { blockSize, offset, length, batchBlocks }, send, ctx);
      if (isGuestLayer(req.layer)) return guestHashBlocks(req.path, { blockSize, offset, length, batchBlocks }, send, ctx, deps);
      await withImage(req, ctx, async (fh, size, resolved, signal) => {
        let sent = false;
        for await (const batch of rememberedHashBlocks(fh, resolved, size, { blockSize, offset, length, batchBlocks }, hashMemory, signal)) {
          await send({ offset: batch.offset, blockSize, blockCount: batch.blockCount, hashes: batch.hashes, fileSize: size });
          sent = true;
        }
        // Nothing to hash (offset at the end of the file): one empty batch still tells the file size.
        if (!sent) await send({ offset, blockSize, blockCount: 0, hashes: Buffer.alloc(0), fileSize: size });
      });
    }),

    DigestImage: unary('DigestImage', rpc, (req, ctx) =>
      isViewPath(req.path)
        ? viewDigestImage(views(), req, ctx)
        : req.ranges.length > 0
          ? Promise.reject(invalidArgument('ranges: only a live view is digested by ranges'))
          : isGuestLayer(req.layer)
            ? guestDigestImage(req.path, ctx, deps)
            : withImage(req, ctx, async (fh, size, resolved, signal) => ({ size, digest: await rememberedDigest(fh, resolved, size, hashMemory, signal) })),
    ),
  };
}

/** ReadRanges and WriteRanges: an image's bytes leaving this agent, and a staging file's arriving. */
function rangeHandlers(deps: DiskServiceDeps, withImage: WithImage, rateLimits: RateLimits): Pick<DiskServiceHandlers, 'ReadRanges' | 'WriteRanges'> {
  const { rpc, roots, hashMemory } = deps;
  const views = (): LiveViews => liveViews(deps);
  return {
    ReadRanges: serverStream('ReadRanges', rpc, async (req, unpaced, ctx) => {
      const rate = checkRateLimit(req.rateLimit);
      const compress = checkCompress(req.compress);
      const batchBytes = checkBatchBytes(req.batchBytes);
      // Compressed after hashing (hashes cover plain bytes), then paced where the bytes leave this agent,
      // one bucket shared by every stream of the operation (--compress, --bwlimit).
      // Small pieces packed several to a message (batch_bytes) after compression, so a batch is what is paced.
      return rateLimits.paced(currentOperationId(), rate, unpaced, ctx.signal, async (paced) => {
        const batches = batchingSink(batchBytes, paced);
        const send = compressingSink(compress, batches.send);
        if (isViewPath(req.path)) await viewReadRanges(views(), req, send, ctx);
        else {
          const chunkSize = checkChunkSize(req.chunkSize);
          await withImage(req, ctx, async (fh, size, resolved, signal) => {
            const totals = await rememberedReadRanges(fh, resolved, size, normalizeRanges(req.ranges, size), chunkSize, send, hashMemory, signal, req.blockHashes, ctx.readDepth);
            ctx.log.debug({ path: req.path, rate, batchBytes, ...totals }, 'ranges read');
          });
        }
        await batches.flush();
      });
    }),

    WriteRanges: clientStream('WriteRanges', rpc, async (messages, ctx) => {
      const result = await writeRanges(messages, roots, ctx.signal);
      ctx.log.info({ stagingId: result.stagingId, stagingPath: result.stagingPath, bytes: result.bytesWritten, zeroBytes: result.zeroBytes }, 'staging written');
      return result;
    }),
  };
}

/** CommitStaging, RebaseStaging, RemoveImage and AbortStaging: what becomes of staging files and images. */
function stagingHandlers(deps: DiskServiceDeps): Pick<DiskServiceHandlers, 'CommitStaging' | 'RebaseStaging' | 'RemoveImage' | 'AbortStaging'> {
  const { rpc, roots } = deps;
  return {
    CommitStaging: unary('CommitStaging', rpc, async (req, ctx) => {
      const result = await commitStaging(req, roots, ctx.signal);
      ctx.log.info({ path: result.path, stagingId: req.stagingId, replace: req.replace, size: result.size }, 'staging committed');
      return result;
    }),

    RebaseStaging: unary('RebaseStaging', rpc, async (req, ctx) => {
      const result = await rebaseStaging(req, roots, ctx.signal);
      ctx.log.info({ targetPath: req.targetPath, stagingId: req.stagingId, backing: result.backingReference }, 'staging rebased');
      return result;
    }),

    RemoveImage: unary('RemoveImage', rpc, async (req, ctx) => {
      const result = await removeImage(req.path, roots, deps.libvirt, ctx.signal);
      ctx.log.info({ path: req.path, removed: result.removed }, 'image removed');
      return result;
    }),

    AbortStaging: unary('AbortStaging', rpc, async (req, ctx) => {
      const result = await abortStaging(req, roots);
      ctx.log.info({ targetPath: req.targetPath, stagingId: req.stagingId, removed: result.removed }, 'staging aborted');
      return result;
    }),
  };
}

/** Builds the DiskService handlers for the agent's gRPC server. */
export function createDiskService(deps: DiskServiceDeps): DiskServiceHandlers {
  const lease = deps.images ?? openingLeaser(deps.roots);
  const rateLimits = deps.rateLimits ?? new RateLimits();
  const withImage = imageRunner(lease);
  return { ...describingHandlers(deps, withImage), ...rangeHandlers(deps, withImage, rateLimits), ...stagingHandlers(deps) };
}
