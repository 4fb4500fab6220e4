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
import { pullSettingsFor } from '../transfer-rate.js';
import { dataLoss, failedPrecondition } from '../../../shared/errors.js';
import type { DescribeDomainResponse__Output } from '../../../shared/generated/kvmclone/agent/v1/DescribeDomainResponse.js';
import { formatBytes } from '../../cli/reporter.js';
import { LiveReplicaStore, type ReplicaKey } from '../../history/live-replica-store.js';
import type { HostSession } from '../../transport/host-session.js';
import type { LiveOptions } from '../clone/preflight.js';
import { pullFile } from '../clone/transfer-files.js';
import type { OperationRun } from '../operation-run.js';
import { defineFollowingSource } from '../sync/define-follow.js';
import type { SyncDeps, SyncRequest } from '../sync/run-sync.js';
import { isStateFile, type SyncPair } from '../sync/sync-plan.js';
import { confirmReplica, imageIdentities, sameIdentities } from './live-confirm.js';
import { diskDelta, type DiskDelta } from './live-delta.js';
import { openLivePath } from './live-path.js';
import { describeConsistency, flatViewRequest, liveViewRequest, viewBytesRead } from './live-view-request.js';
import { checkInPlaceSpace } from '../sync/point-space.js';

/** What the sync's PREFLIGHT hands over. */
export interface LiveSyncInput {
  op: OperationRun;
  req: SyncRequest & { live: LiveOptions };
  deps: SyncDeps;
  src: HostSession;
  dst: HostSession;
  source: DescribeDomainResponse__Output;
  dest: DescribeDomainResponse__Output;
  pairs: SyncPair[];
  /** The source is shut off and read through a view of its own (sync --flatten): no checkpoint, no replica record. */
  shutOff?: boolean;
}

/** Runs the live sync; resolves with the exit code (through op.succeed). */
export async function syncLive({ op, req, deps, src, dst, source, dest, pairs, shutOff = false }: LiveSyncInput): Promise<number> {
  const { reporter, store, signal } = deps;
  const structural = pairs.filter((p) => p.kind !== 'update');
  if (structural.length > 0) {
    throw failedPrecondition(
      `disks were added or removed at the source (${structural.map((p) => `${p.kind} ${p.label}`).join(', ')}); a live sync keeps the disk set: sync once with the source shut off`,
    );
  }
  const disks = pairs.filter((p) => !isStateFile(p));
  const files = pairs.filter((p) => isStateFile(p));
  const key: ReplicaKey = { sourceHost: req.from, vm: req.vm, destHost: req.to, destVm: req.destVm };
  const replicas = new LiveReplicaStore(store.database);
  const recorded = replicas.get(key);
  const replicaId = replicas.replicaId(key);
  const destFormats = new Map(dest.disks.map((d) => [d.target, d.format]));

  // The bitmap is only sound if the destination is exactly what the confirmed sync left.
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
        signal,
      ),
    );
    if (same.same) base = { checkpoint: recorded.checkpoint, xml: recorded.checkpointXml };
    else why = same.why;
  }

  op.step('PLAN', 'point in time on the source, then the changed blocks of each disk');
  const request = shutOff ? flatViewRequest(req.vm, op.id) : liveViewRequest(req.vm, op.id, replicaId, req.live, base);
  const path = await openLivePath(
    src,
    dst,
    request,
    files.map((f) => f.sourcePath),
    signal,
  );
  try {
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
    if (req.dryRun) {
      return op.succeed({
        ok: true,
        operation: 'sync',
        id: op.id,
        vm: req.vm,
        destVm: req.destVm,
        ...(shutOff ? { flattened: true } : { live: true }),
        dryRun: true,
        changedBlocks,
        delta: deltaKind(deltas),
        deltaReason: reason,
        bytesOnWire: 0,
        seconds: op.seconds(),
      });
    }
    const keep = req.keep ?? 0;
    // The virtual size of each destination disk now: a resize is a change even when no block differs.
    const destSizes = new Map<SyncPair, number>();
    for (const pair of deltas.keys()) destSizes.set(pair, await destVirtualSize(dst, pair.targetPath, signal));
    // The journals (and with --keep the restore points) need room beside the images before anything moves.
    const space = await checkInPlaceSpace(
      dst,
      [...deltas].map(([pair, d]) => ({ targetPath: pair.targetPath, diff: { ranges: d.ranges, sourceSize: d.sourceSize, destSize: destSizes.get(pair) ?? d.sourceSize } })),
      keep,
      signal,
    );
    if (keep > 0)
      reporter.info(`  restore points: keeping the newest ${keep}; this sync's takes about ${formatBytes(space.reduce((n, s) => n + s.neededBytes, 0) / 2)} on ${req.to}`);
    op.phase = 'run';

    op.step('TRANSFER', `${changedBlocks} changed block(s), agent to agent`);
    const results: { pair: SyncPair; delta: DiskDelta; digest: string; bytesTransferred: number; verified: 'changed-blocks' | 'whole-image' }[] = [];
    for (const [pair, delta] of deltas) {
      const disk = view.disks.find((d) => d.target === pair.label);
      if (!disk) continue;
      const byRanges = delta.kind === 'bitmap';
      const verified = byRanges ? 'changed-blocks' : 'whole-image';
      const unchanged = delta.ranges.length === 0 && delta.sourceSize === destSizes.get(pair);
      if (unchanged && keep === 0) {
        results.push({ pair, delta, digest: delta.sourceDigest ?? '', bytesTransferred: 0, verified });
        reporter.itemDone(pair.label, 'unchanged');
        continue;
      }
      const final = await pullFile(
        dst,
        {
          peerSocket: path.remotePeer,
          ticket: path.ticket,
          sourcePath: disk.viewPath,
          targetPath: pair.targetPath,
          stagingId: '',
          operationId: op.id,
          ranges: delta.ranges,
          mode: 'PULL_MODE_IN_PLACE',
          destVm: req.destVm,
          layer: 'EXTENT_LAYER_GUEST',
          format: destFormats.get(pair.label) ?? disk.format,
          digestRanges: byRanges,
          ...(keep > 0 && { keepPoints: keep, pointLabel: req.pointLabel ?? `sync ${op.id}` }),
        },
        pair,
        reporter,
        { ...deps.options.timeouts, ...pullSettingsFor(deps.options.transfer, req.from, req.to) },
        op.revert,
        signal,
      );
      if (unchanged && byRanges) {
        // Pulled only to keep its point: nothing was written, and the bitmap vouches for the disk as before.
        results.push({ pair, delta, digest: '', bytesTransferred: 0, verified });
        reporter.itemDone(pair.label, 'unchanged (restore point kept)');
        continue;
      }
      const expected = byRanges
        ? (await src.call(src.clients.disk, src.clients.disk.digestImage, { path: disk.viewPath, layer: 'EXTENT_LAYER_GUEST', ranges: delta.ranges }, signal)).digest
        : (delta.sourceDigest ?? (await src.call(src.clients.disk, src.clients.disk.digestImage, { path: disk.viewPath, layer: 'EXTENT_LAYER_GUEST' }, signal)).digest);
      if (expected !== final.digest)
        throw dataLoss(`${pair.label}: after the sync ${pair.targetPath} on ${req.to} does not match the point in time (${final.digest} vs ${expected})`);
      op.bytesOnWire += final.bytesTransferred;
      op.bytesData += final.bytesData || final.bytesTransferred;
      reporter.itemDone(pair.label, `${formatBytes(final.bytesTransferred)} sent, verified ${final.digest.slice(0, 30)}…`);
      results.push({ pair, delta, digest: final.digest, bytesTransferred: final.bytesTransferred, verified });
    }
    for (const pair of files) {
      // UEFI NVRAM: small (KiB to a few MiB), moved whole as a file, on the same path under its own ticket.
      const { fileSize } = await src.call(src.clients.disk, src.clients.disk.statImage, { path: pair.sourcePath }, signal);
      const final = await pullFile(
        dst,
        {
          peerSocket: path.remotePeer,
          ticket: path.fileTicket,
          sourcePath: pair.sourcePath,
          targetPath: pair.targetPath,
          stagingId: '',
          operationId: op.id,
          ranges: fileSize > 0 ? [{ offset: 0, length: fileSize }] : [],
          mode: 'PULL_MODE_IN_PLACE',
          destVm: req.destVm,
        },
        pair,
        reporter,
        { ...deps.options.timeouts, ...pullSettingsFor(deps.options.transfer, req.from, req.to) },
        op.revert,
        signal,
      );
      op.bytesOnWire += final.bytesTransferred;
      op.bytesData += final.bytesData || final.bytesTransferred;
    }
    const bytesRead = await viewBytesRead(src, op.id, signal);
    await path.close();
    op.step('VERIFY', `${results.length} disk(s) equal the point in time by digest`);

    op.step('DEFINE', `${req.destVm} follows ${req.vm}'s definition, keeping its own name, UUID, MACs and paths`);
    await defineFollowingSource(dst, source, dest, pairs, { ...req, operationId: op.id }, signal);
    op.revert.success();
    if (!shutOff)
      await confirmReplica(
        replicas,
        key,
        replicaId,
        view,
        await imageIdentities(
          dst,
          disks.map((p) => ({ target: p.label, path: p.targetPath })),
          signal,
        ),
        src,
        reporter,
        signal,
      );

    return op.succeed({
      ok: true,
      operation: 'sync',
      id: op.id,
      vm: req.vm,
      destVm: req.destVm,
      from: req.from,
      to: req.to,
      ...(shutOff ? { flattened: true } : { live: true }),
      consistency: view.consistency,
      checkpoint: view.checkpoint,
      delta: deltaKind(deltas),
      ...(reason !== '' && { deltaReason: reason }),
      changedBlocks,
      disks: results.map((r) => ({
        source: r.pair.sourcePath,
        target: r.pair.targetPath,
        kind: r.pair.kind,
        virtualSize: r.pair.virtualSize,
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
    });
  } finally {
    await path.close();
  }
}

/** "bitmap" or "hash" when every disk took that path, else "mixed". */
function deltaKind(deltas: ReadonlyMap<SyncPair, DiskDelta>): 'bitmap' | 'hash' | 'mixed' {
  const kinds = new Set([...deltas.values()].map((d) => d.kind));
  return kinds.size === 1 ? [...kinds][0] : 'mixed';
}

/** The destination image's virtual size (a resize is a change even when no block differs). */
async function destVirtualSize(dst: HostSession, path: string, signal: AbortSignal): Promise<number> {
  return (await dst.call(dst.clients.disk, dst.clients.disk.statImage, { path }, signal)).virtualSize;
}
