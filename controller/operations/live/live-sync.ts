/**
 * kvmctl sync --live of a running source: the body that runs inside sync's
 * operation once PREFLIGHT found the source running.
 *
 * PLAN opens a point-in-time view on the source — incremental from the
 * checkpoint the destination last confirmed when the destination images are
 * exactly what that sync left, else full, with the reason — and computes
 * each disk's delta (dirty bitmap, or hashes of both guest views). TRANSFER
 * pulls the ranges agent to agent into the destination's journal, applied
 * through the image's format. VERIFY compares digests: of the whole image
 * after a hash delta, of the changed blocks (read back after the apply)
 * after a bitmap delta. DEFINE follows the source's definition; then the
 * new checkpoint is confirmed and the older ones deleted on the source.
 *
 * With --keep N the destination keeps a restore point of each disk as it was
 * before this sync, taken through the image's format (agent/transfer/
 * pull-point.ts); every disk is pulled then, an unchanged one with no ranges,
 * so that each disk has a point of this sync and the VM's point is whole.
 */
import { failedPrecondition } from '../../../shared/errors.js';
import { LiveReplicaStore, type LiveReplicaState, type ReplicaKey } from '../../history/live-replica-store.js';
import type { OperationStore } from '../../history/operation-store.js';
import type { LiveOptions } from '../clone/preflight.js';
import type { OperationRun } from '../operation-run.js';
import { defineFollowingSource } from '../sync/define-follow.js';
import type { SyncDeps, SyncRequest, SyncSides } from '../sync/run-sync.js';
import { isStateFile, type SyncPair } from '../sync/sync-plan.js';
import { pairResultFields, syncResultHead } from '../sync/sync-result-fields.js';
import { confirmReplica, imageIdentities } from './live-confirm.js';
import { openLivePath } from './live-path.js';
import { checkRoom, deltaKind, incrementalBase, planDeltas, succeedDryRun, type LivePlan, type LiveRun } from './live-sync-plan.js';
import { transferDeltas, type LiveDiskResult } from './live-sync-transfer.js';
import { flatViewRequest, liveViewRequest, viewBytesRead } from './live-view-request.js';

/** What the sync's PREFLIGHT hands over. */
export interface LiveSyncInput extends SyncSides {
  op: OperationRun;
  req: SyncRequest & { live: LiveOptions };
  deps: SyncDeps;
  /** The source is shut off and read through a view of its own (sync --flatten): no checkpoint, no replica record. */
  shutOff?: boolean;
}

/** The copy as the live-replica table knows it: its key, its id, and what the last confirmed sync left. */
interface Replica {
  readonly store: LiveReplicaStore;
  readonly key: ReplicaKey;
  readonly id: string;
  readonly recorded: LiveReplicaState | undefined;
}

/** A live sync keeps the disk set: an added or removed disk needs a sync with the source shut off. */
function requireSameDiskSet(pairs: readonly SyncPair[]): void {
  const structural = pairs.filter((p) => p.kind !== 'update');
  if (structural.length > 0) {
    throw failedPrecondition(
      `disks were added or removed at the source (${structural.map((p) => `${p.kind} ${p.label}`).join(', ')}); a live sync keeps the disk set: sync once with the source shut off`,
    );
  }
}

/** The copy's row in the live-replica table (its id made on first use). */
function replicaOf(store: OperationStore, req: SyncRequest): Replica {
  const key: ReplicaKey = { sourceHost: req.from, vm: req.vm, destHost: req.to, destVm: req.destVm };
  const replicas = new LiveReplicaStore(store.database);
  const recorded = replicas.get(key);
  const id = replicas.replicaId(key);
  return { store: replicas, key, id, recorded };
}

/**
 * DEFINE: the copy's definition follows the source's, keeping its own name,
 * UUID, MACs and paths. Then, for a running source, the new checkpoint is
 * confirmed with each destination image's identity, and the older ones are
 * deleted on the source — only now, so a failed sync never loses the base
 * the next one needs.
 */
async function defineAndConfirm({ op, req, deps, src, dst, source, dest, pairs, disks, shutOff, path }: LiveRun, replica: Replica): Promise<void> {
  const { reporter, signal } = deps;
  op.step('DEFINE', `${req.destVm} follows ${req.vm}'s definition, keeping its own name, UUID, MACs and paths`);
  await defineFollowingSource(dst, source, dest, pairs, { ...req, operationId: op.id }, signal);
  op.revert.success();
  if (!shutOff)
    await confirmReplica(
      replica.store,
      replica.key,
      replica.id,
      path.view,
      await imageIdentities(
        dst,
        disks.map((p) => ({ target: p.label, path: p.targetPath })),
        signal,
      ),
      src,
      reporter,
      signal,
    );
}

/** The result line of a live (or flattened) sync. */
function liveResult(
  { op, req, shutOff, path }: LiveRun,
  { reason, deltas, changedBlocks }: LivePlan,
  results: readonly LiveDiskResult[],
  bytesRead: ReadonlyMap<string, number>,
): Record<string, unknown> {
  return {
    ...syncResultHead(op, req),
    from: req.from,
    to: req.to,
    ...(shutOff ? { flattened: true } : { live: true }),
    consistency: path.view.consistency,
    checkpoint: path.view.checkpoint,
    delta: deltaKind(deltas),
    ...(reason !== '' && { deltaReason: reason }),
    changedBlocks,
    disks: results.map((r) => ({
      ...pairResultFields(r.pair),
      delta: r.delta.kind,
      changedBlocks: r.delta.changedBlocks,
      bytesRead: bytesRead.get(r.pair.label) ?? 0,
      bytesTransferred: r.bytesTransferred,
      digest: r.digest,
      verified: r.verified,
    })),
    bytesOnWire: op.bytesOnWire,
    bytesData: op.bytesData,
    seconds: op.seconds(),
  };
}

/**
 * Runs the live sync; resolves with the exit code (through op.succeed):
 * PLAN (the view opened, each disk's delta), TRANSFER, VERIFY, DEFINE. The
 * view is closed as soon as the bytes are in, and however the sync ends.
 */
export async function syncLive(input: LiveSyncInput): Promise<number> {
  const { op, req, deps, src, dst, dest, pairs, shutOff = false } = input;
  requireSameDiskSet(pairs);
  const disks = pairs.filter((p) => !isStateFile(p));
  const files = pairs.filter((p) => isStateFile(p));
  const replica = replicaOf(deps.store, req);
  const destFormats = new Map(dest.disks.map((d) => [d.target, d.format]));
  const { base, why } = await incrementalBase(input, shutOff, replica.recorded, disks);

  op.step('PLAN', 'point in time on the source, then the changed blocks of each disk');
  const request = shutOff ? flatViewRequest(req.vm, op.id) : liveViewRequest(req.vm, op.id, replica.id, req.live, base);
  const path = await openLivePath(
    src,
    dst,
    request,
    files.map((f) => f.sourcePath),
    deps.signal,
  );
  try {
    const run: LiveRun = { ...input, shutOff, disks, files, path, destFormats, keep: req.keep ?? 0 };
    const plan = await planDeltas(run, why);
    if (req.dryRun) return succeedDryRun(run, plan);
    const destSizes = await checkRoom(run, plan);
    op.phase = 'run';
    const results = await transferDeltas(run, plan, destSizes);
    const bytesRead = await viewBytesRead(src, op.id, deps.signal);
    await path.close();
    op.step('VERIFY', `${results.length} disk(s) equal the point in time by digest`);
    await defineAndConfirm(run, replica);
    return op.succeed(liveResult(run, plan, results, bytesRead));
  } finally {
    await path.close();
  }
}
