/**
 * The space an in-place sync takes on the destination beside each image:
 * its journal (the changed bytes, before they are applied) and, with
 * `--keep`, the restore point it keeps (the bytes it overwrites, roughly as
 * many again, plus the tail a shrink cuts off). Checked once PLAN knows the
 * changed bytes, before anything is transferred, so a sync that would fill
 * the destination's filesystem halfway is refused up front.
 *
 * A live sync's point is the same size: the guest bytes it overwrites,
 * read through the image's format (zeros as zero records, which cost nothing).
 *
 * The points kept from earlier syncs are already on disk (the free space
 * counts them); pruning to --keep only frees space after the apply.
 */
import { dirname } from 'node:path';
import { resourceExhausted } from '../../../shared/errors.js';
import { formatBytes } from '../../cli/reporter.js';
import type { HostSession } from '../../transport/host-session.js';
import type { BlockDiff } from './block-diff.js';

/** Headroom over the estimate: record heads, hashes, filesystem rounding. */
const HEADROOM = 1.05;

/** What the estimate needs of a disk's delta: its ranges and the sizes before and after (virtual sizes for a live sync). */
export type InPlaceDiff = Pick<BlockDiff, 'ranges' | 'sourceSize' | 'destSize'>;

/** Bytes one in-place pull of `diff` needs beside its image: journal, plus the undo record when points are kept. */
export function inPlaceBytes(diff: InPlaceDiff, keep: boolean): number {
  const changed = diff.ranges.reduce((n, r) => n + r.length, 0);
  const undo = keep ? Math.min(changed, diff.destSize) + Math.max(0, diff.destSize - diff.sourceSize) : 0;
  return Math.ceil((changed + undo) * HEADROOM);
}

/** What was checked, per destination directory. */
export interface PointSpace {
  readonly dir: string;
  readonly neededBytes: number;
  readonly availableBytes: number;
}

/** RESOURCE_EXHAUSTED unless each directory holding images to sync in place has room for their journals (and points). */
export async function checkInPlaceSpace(dst: HostSession, pulls: readonly { targetPath: string; diff: InPlaceDiff }[], keep: number, signal: AbortSignal): Promise<PointSpace[]> {
  const needed = new Map<string, number>();
  for (const p of pulls) needed.set(dirname(p.targetPath), (needed.get(dirname(p.targetPath)) ?? 0) + inPlaceBytes(p.diff, keep > 0));
  const checked: PointSpace[] = [];
  for (const [dir, neededBytes] of needed) {
    if (neededBytes === 0) continue;
    const free = await dst.call(dst.clients.storage, dst.clients.storage.getFreeSpace, { path: dir }, signal);
    const availableBytes = Number(free.availableBytes);
    checked.push({ dir, neededBytes, availableBytes });
    if (availableBytes < neededBytes) {
      throw resourceExhausted(
        `${dst.host}: ${dir} has ${formatBytes(availableBytes)} free; the sync needs ${formatBytes(neededBytes)} there (its journal${keep > 0 ? ' and the restore point --keep makes: the changed bytes twice' : ': the changed bytes'})`,
      );
    }
  }
  return checked;
}
