/**
 * DiskService on live view paths (`/.kvmclone-live/<operation>/<target>`):
 * the same calls and wire semantics as on files, at guest offsets, answered
 * from the backup job's NBD export of the disk as it was at the point in
 * time. Every data byte read from the export is counted (LiveDisk.bytes_read).
 *
 * Two things are remembered per disk for the operation's checks: the digest
 * of a whole-view ReadRanges or HashBlocks (so DigestImage does not read the
 * export a second time) and the block hashes of what ReadRanges sent (so the
 * RangesDigest of a changed-block sync comes from the blocks that went out).
 */
import { ImageDigest } from '../../shared/block-hash.js';
import { invalidArgument } from '../../shared/errors.js';
import type { DigestImageRequest__Output } from '../../shared/generated/kvmclone/agent/v1/DigestImageRequest.js';
import type { DigestImageResponse } from '../../shared/generated/kvmclone/agent/v1/DigestImageResponse.js';
import type { HashBlocksResponse } from '../../shared/generated/kvmclone/agent/v1/HashBlocksResponse.js';
import type { MapExtentsRequest__Output } from '../../shared/generated/kvmclone/agent/v1/MapExtentsRequest.js';
import type { ReadRangesRequest__Output } from '../../shared/generated/kvmclone/agent/v1/ReadRangesRequest.js';
import type { ReadRangesResponse } from '../../shared/generated/kvmclone/agent/v1/ReadRangesResponse.js';
import type { StatImageResponse__Output } from '../../shared/generated/kvmclone/agent/v1/StatImageResponse.js';
import { hashEnd, type HashPlan } from '../disk/block-hasher.js';
import type { Extent } from '../disk/extent-map.js';
import { checkChunkSize, normalizeRanges } from '../disk/request-limits.js';
import { StreamDigester } from '../disk/stream-digest.js';
import { isGuestLayer } from '../guest/guest-disk-calls.js';
import { AllocationCursor, flaggedSpans, guestExtents } from '../guest/guest-extents.js';
import { guestDigest, guestHashBatches } from '../guest/guest-hashes.js';
import { digestGuestRanges } from '../guest/guest-ranges-digest.js';
import { readGuestRanges } from '../guest/guest-reads.js';
import type { CallContext, StreamSink } from '../rpc/handlers.js';
import type { LiveViews } from './live-views.js';

/** Dirty-bitmap bit of a `qemu:dirty-bitmap:*` context. */
const DIRTY = 1;

/** StatImage of a view: the format and virtual size of the disk (no file behind it). */
export function viewStatImage(views: LiveViews, path: string): StatImageResponse__Output {
  const { disk } = views.resolve(path);
  return {
    path,
    format: disk.format,
    virtualSize: disk.virtualSize,
    fileSize: disk.virtualSize,
    allocatedSize: 0,
    backingReference: '',
    backingFormat: '',
    dev: 0,
    ino: 0,
    mtimeNs: '0',
    ctimeNs: '0',
  };
}

/** MapExtents of a view: its allocation, or with dirty_only just the changed blocks (each as data, zero or hole), sending through `sendExtents` (disk-service.ts's batching). */
export async function viewMapExtents(
  views: LiveViews,
  req: MapExtentsRequest__Output,
  ctx: CallContext,
  sendExtents: (extents: AsyncIterable<Extent>, size: number) => Promise<void>,
): Promise<void> {
  if (req.detectZeroes) throw invalidArgument('detect_zeroes: a live view reports what QEMU knows of the allocation');
  isGuestLayer(req.layer);
  await views.withExport(req.path, ctx.signal, async (client, disk) => {
    if (!req.dirtyOnly) return sendExtents(guestExtents(client, ctx.signal), client.size);
    if (disk.dirtyContext === '') throw invalidArgument(`dirty_only: the view of ${disk.target} is not incremental (no checkpoint to compare with)`);
    // The dirty spans first (a few block-status answers), then their allocation in one walk over their span.
    const dirty: { offset: number; length: number }[] = [];
    for await (const span of flaggedSpans(client, disk.dirtyContext, DIRTY, ctx.signal)) dirty.push(span);
    const allocation = new AllocationCursor(client, dirty, ctx.signal);
    async function* changed(): AsyncGenerator<Extent> {
      for (const span of dirty) yield* allocation.within(span.offset, span.length);
    }
    return sendExtents(changed(), client.size);
  });
}

/** HashBlocks of a view; a pass over the whole view leaves its digest for DigestImage. */
export async function viewHashBlocks(views: LiveViews, path: string, plan: HashPlan, send: StreamSink<HashBlocksResponse>, ctx: CallContext): Promise<void> {
  await views.withExport(path, ctx.signal, async (client, disk) => {
    const end = hashEnd(plan, client.size);
    const whole = plan.offset === 0 && end === client.size ? new ImageDigest(client.size) : undefined;
    let sent = false;
    for await (const batch of guestHashBatches(client, plan, ctx.signal, disk)) {
      whole?.update(batch.hashes);
      await send({ offset: batch.offset, blockSize: plan.blockSize, blockCount: batch.blockCount, hashes: batch.hashes, fileSize: client.size });
      sent = true;
    }
    if (!sent) await send({ offset: plan.offset, blockSize: plan.blockSize, blockCount: 0, hashes: Buffer.alloc(0), fileSize: client.size });
    if (whole && plan.blockSize === 64 * 1024) disk.digest = whole.digest();
  });
}

/** ReadRanges of a view; a whole-view read leaves its digest, every read its sent blocks' hashes. */
export async function viewReadRanges(views: LiveViews, req: ReadRangesRequest__Output, send: StreamSink<ReadRangesResponse>, ctx: CallContext): Promise<void> {
  const chunkSize = checkChunkSize(req.chunkSize);
  await views.withExport(req.path, ctx.signal, async (client, disk) => {
    const whole = req.ranges.length === 0;
    const ranges = whole ? [{ offset: 0, length: client.size }] : normalizeRanges(req.ranges, client.size);
    const digester = whole ? new StreamDigester(client.size) : undefined;
    const log = disk.sent;
    const observed: StreamSink<ReadRangesResponse> = (message, written) => {
      if (message.data)
        log.data(
          Number(message.data.offset),
          message.data.data as Uint8Array,
          (message.data.blockHashes as Uint8Array | undefined)?.length ? (message.data.blockHashes as Uint8Array) : undefined,
        );
      else if (message.zero) log.zero(Number(message.zero.offset), Number(message.zero.length));
      return send(message, written);
    };
    const totals = await readGuestRanges(client, ranges, chunkSize, observed, ctx.signal, {
      blockHashes: req.blockHashes,
      counters: disk,
      ...(digester && { digester }),
      ...(ctx.readDepth && { readDepth: ctx.readDepth }),
    });
    const digest = digester?.finish()?.digest;
    if (digest) disk.digest = digest;
    ctx.log.debug({ path: req.path, ...totals, bytesRead: disk.bytesRead }, 'view ranges read');
  });
}

/** DigestImage of a view: whole (remembered when a full pass was made) or of the given ranges. */
export async function viewDigestImage(views: LiveViews, req: DigestImageRequest__Output, ctx: CallContext): Promise<DigestImageResponse> {
  isGuestLayer(req.layer);
  const { disk } = views.resolve(req.path);
  if (req.ranges.length === 0 && disk.digest !== '') return { size: disk.virtualSize, digest: disk.digest };
  return views.withExport(req.path, ctx.signal, async (client) => {
    if (req.ranges.length > 0) return { size: client.size, digest: await digestGuestRanges(client, normalizeRanges(req.ranges, client.size), client.size, disk.sent) };
    disk.digest = await guestDigest(client, ctx.signal, disk);
    return { size: client.size, digest: disk.digest };
  });
}
