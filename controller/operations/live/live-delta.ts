/**
 * Which ranges of one disk a live sync moves: with an incremental view, the
 * blocks the source's dirty bitmap marks (MapExtents dirty_only, each
 * changed block whether now data, zero or a hole), widened to the 64 KiB
 * grid; otherwise the blocks whose hashes differ between the view and the
 * destination image's guest view (both sides hashed at once).
 */
import { DEFAULT_BLOCK_SIZE, ImageDigest } from '../../../shared/block-hash.js';
import { fromStatus } from '../../../shared/from-status.js';
import type { LiveDisk__Output } from '../../../shared/generated/kvmclone/agent/v1/LiveDisk.js';
import type { MapExtentsResponse__Output } from '../../../shared/generated/kvmclone/agent/v1/MapExtentsResponse.js';
import type { Reporter } from '../../cli/reporter.js';
import type { HostSession } from '../../transport/host-session.js';
import { diffBlocks, type DiffRange } from '../sync/block-diff.js';
import { hashStream } from '../sync/hash-streams.js';

/** The delta of one disk. */
export interface DiskDelta {
  kind: 'bitmap' | 'hash';
  ranges: DiffRange[];
  changedBlocks: number;
  sourceSize: number;
  /** Hash delta: the source view's whole-image digest, from the same hashes. */
  sourceDigest?: string;
}

/** Joins ranges widened to the block grid (clipped at `size`), sorted, neighbours merged. */
export function gridRanges(extents: readonly DiffRange[], size: number, blockSize = DEFAULT_BLOCK_SIZE): DiffRange[] {
  const out: DiffRange[] = [];
  for (const e of [...extents].sort((a, b) => a.offset - b.offset)) {
    if (e.length <= 0) continue;
    const start = Math.floor(e.offset / blockSize) * blockSize;
    const end = Math.min(size, Math.ceil((e.offset + e.length) / blockSize) * blockSize);
    const last = out.at(-1);
    if (last && start <= last.offset + last.length) last.length = Math.max(last.length, end - last.offset);
    else out.push({ offset: start, length: end - start });
  }
  return out;
}

/** The dirty ranges of an incremental view's disk. */
async function dirtyRanges(src: HostSession, disk: LiveDisk__Output, signal: AbortSignal): Promise<DiffRange[]> {
  const call = src.clients.disk.mapExtents({ path: disk.viewPath, layer: 'EXTENT_LAYER_GUEST', detectZeroes: false, dirtyOnly: true });
  const onAbort = (): void => call.cancel();
  signal.addEventListener('abort', onAbort, { once: true });
  const extents: DiffRange[] = [];
  try {
    for await (const m of call as AsyncIterable<MapExtentsResponse__Output>) for (const e of m.extents) extents.push({ offset: e.offset, length: e.length });
  } catch (err) {
    throw fromStatus(err, src.host);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  return gridRanges(extents, disk.virtualSize);
}

/** Computes the delta of one disk. */
export async function diskDelta(src: HostSession, dst: HostSession, disk: LiveDisk__Output, targetPath: string, reporter: Reporter, signal: AbortSignal): Promise<DiskDelta> {
  if (disk.incremental) {
    const ranges = await dirtyRanges(src, disk, signal);
    const changedBlocks = ranges.reduce((n, r) => n + Math.ceil(r.length / DEFAULT_BLOCK_SIZE), 0);
    return { kind: 'bitmap', ranges, changedBlocks, sourceSize: disk.virtualSize };
  }
  let digest: ImageDigest | undefined;
  const diff = await diffBlocks(
    hashStream(
      src,
      disk.viewPath,
      signal,
      (b) => {
        digest ??= new ImageDigest(b.fileSize);
        digest.update(b.hashes);
        reporter.progress(`${disk.target} hash`, b.offset + b.blockCount * b.blockSize, b.fileSize);
      },
      true,
    ),
    hashStream(dst, targetPath, signal, undefined, true),
    DEFAULT_BLOCK_SIZE,
  );
  return { kind: 'hash', ranges: diff.ranges, changedBlocks: diff.changedBlocks, sourceSize: diff.sourceSize, ...(digest && { sourceDigest: digest.digest() }) };
}
