/**
 * PLAN of a live sync (live-sync.ts): whether the view can be incremental
 * from the checkpoint the destination last confirmed, each disk's delta
 * (dirty bitmap, or hashes of both guest views), the dry run's answer, and
 * the destination's room for the journals (and restore points) before
 * anything moves.
 */
import { failedPrecondition } from '../../../shared/errors.js';
import { formatBytes } from '../../cli/reporter.js';
import type { LiveReplicaState } from '../../history/live-replica-store.js';
import type { HostSession } from '../../transport/host-session.js';
import { checkInPlaceSpace } from '../sync/point-space.js';
import type { SyncPair } from '../sync/sync-plan.js';
import { syncResultHead } from '../sync/sync-result-fields.js';
import { imageIdentities, sameIdentities } from './live-confirm.js';
import { diskDelta, type DiskDelta } from './live-delta.js';
import type { LivePath } from './live-path.js';
import type { LiveSyncInput } from './live-sync.js';
import { describeConsistency } from './live-view-request.js';

/** A live sync once its view is open: what each of its steps works with. */
export interface LiveRun extends LiveSyncInput {
  readonly shutOff: boolean;
  /** The disks (pulled from the view) and the state files (NVRAM: pulled whole under their own ticket). */
  readonly disks: SyncPair[];
  readonly files: SyncPair[];
  readonly path: LivePath;
  /** The destination's format of each disk, by target. */
  readonly destFormats: Map<string, string>;
  /** --keep N (0 when absent). */
  readonly keep: number;
}

/** What PLAN found. */
export interface LivePlan {
  /** Why the delta is found by hashes ('' when every disk has a dirty bitmap). */
  readonly reason: string;
  readonly deltas: Map<SyncPair, DiskDelta>;
  readonly changedBlocks: number;
}

/** "bitmap" or "hash" when every disk took that path, else "mixed". */
export function deltaKind(deltas: ReadonlyMap<SyncPair, DiskDelta>): 'bitmap' | 'hash' | 'mixed' {
  const kinds = new Set([...deltas.values()].map((d) => d.kind));
  return kinds.size === 1 ? [...kinds][0] : 'mixed';
}

/** The destination image's virtual size (a resize is a change even when no block differs). */
async function destVirtualSize(dst: HostSession, path: string, signal: AbortSignal): Promise<number> {
  return (await dst.call(dst.clients.disk, dst.clients.disk.statImage, { path }, signal)).virtualSize;
}

/**
 * The checkpoint to view incrementally from, or why not. The bitmap is only
 * sound if the destination is exactly what the confirmed sync left: each
 * image's identity must be the one recorded then.
 */
export async function incrementalBase(
  { req, dst, deps }: LiveSyncInput,
  shutOff: boolean,
  recorded: LiveReplicaState | undefined,
  disks: readonly SyncPair[],
): Promise<{ base: { checkpoint: string; xml: string } | undefined; why: string }> {
  let base: { checkpoint: string; xml: string } | undefined;
  let why = '';
  if (shutOff) why = '';
  else if (!req.live.cbt) why = '--cbt=off';
  else if (!recorded || recorded.checkpoint === '') why = 'no checkpoint of this copy was confirmed yet (first live sync, or the last one compared hashes on raw disks)';
  else {
    const same = sameIdentities(
      recorded.images,
      await imageIdentities(
        dst,
        disks.map((p) => ({ target: p.label, path: p.targetPath })),
        deps.signal,
      ),
    );
    if (same.same) base = { checkpoint: recorded.checkpoint, xml: recorded.checkpointXml };
    else why = same.why;
  }
  return { base, why };
}

/**
 * PLAN, once the view is open: reports and records the view, then finds
 * each disk's delta — by the dirty bitmap the view offers, else by hashing
 * both guest views — and records what would change.
 */
export async function planDeltas({ op, deps, req, src, dst, disks, path }: LiveRun, why: string): Promise<LivePlan> {
  const { reporter, store, signal } = deps;
  const view = path.view;
  const reason = [why, view.deltaReason].filter((r) => r !== '').join('; ');
  reporter.info(`  ${describeConsistency(view, req.from)}`);
  store.event(op.id, 'live-view', { consistency: view.consistency, checkpoint: view.checkpoint, incrementalFrom: view.incrementalFrom, reason });
  const deltas = new Map<SyncPair, DiskDelta>();
  for (const pair of disks) {
    const disk = view.disks.find((d) => d.target === pair.label);
    if (!disk) throw failedPrecondition(`disk ${pair.label} is not in the source's point-in-time view`);
    const delta = await diskDelta(src, dst, disk, pair.targetPath, reporter, signal);
    deltas.set(pair, delta);
    const bytes = delta.ranges.reduce((n, r) => n + r.length, 0);
    reporter.itemDone(
      `${pair.label} ${delta.kind}`,
      `${delta.changedBlocks} changed block(s), ${formatBytes(bytes)} at most to fetch (${delta.kind === 'bitmap' ? `dirty bitmap since ${view.incrementalFrom}` : `hashes compared${reason ? `: ${reason}` : ''}`})`,
    );
  }
  if (reason !== '') reporter.info(`  delta by hashes: ${reason}`);
  const changedBlocks = [...deltas.values()].reduce((n, d) => n + d.changedBlocks, 0);
  store.event(op.id, 'plan', { changedBlocks, deltas: [...deltas].map(([p, d]) => ({ disk: p.label, kind: d.kind, ranges: d.ranges.length })) });
  return { reason, deltas, changedBlocks };
}

/** A dry run ends after PLAN: the delta it found, recorded as a plan. */
export function succeedDryRun({ op, req, shutOff }: LiveRun, { reason, deltas, changedBlocks }: LivePlan): number {
  return op.succeed({
    ...syncResultHead(op, req),
    ...(shutOff ? { flattened: true } : { live: true }),
    dryRun: true,
    changedBlocks,
    delta: deltaKind(deltas),
    deltaReason: reason,
    bytesOnWire: 0,
    seconds: op.seconds(),
  });
}

/**
 * The journals (and with --keep the restore points) need room beside the
 * images before anything moves. Resolves with each destination disk's
 * virtual size now: a resize is a change even when no block differs.
 */
export async function checkRoom({ req, deps, dst, keep }: LiveRun, { deltas }: LivePlan): Promise<Map<SyncPair, number>> {
  const { signal } = deps;
  const destSizes = new Map<SyncPair, number>();
  for (const pair of deltas.keys()) destSizes.set(pair, await destVirtualSize(dst, pair.targetPath, signal));
  const space = await checkInPlaceSpace(
    dst,
    [...deltas].map(([pair, d]) => ({ targetPath: pair.targetPath, diff: { ranges: d.ranges, sourceSize: d.sourceSize, destSize: destSizes.get(pair) ?? d.sourceSize } })),
    keep,
    signal,
  );
  if (keep > 0)
    deps.reporter.info(`  restore points: keeping the newest ${keep}; this sync's takes about ${formatBytes(space.reduce((n, s) => n + s.neededBytes, 0) / 2)} on ${req.to}`);
  return destSizes;
}
