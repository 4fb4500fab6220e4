/**
 * TRANSFER of a live sync (live-sync.ts): each disk's delta is pulled agent
 * to agent from the source's point-in-time view into the destination's
 * journal, applied through the image's format, and checked by digest (its
 * VERIFY): of the whole image after a hash delta, of the changed blocks
 * (read back after the apply) after a bitmap delta. The VM's state files
 * (UEFI NVRAM) follow, whole.
 *
 * With --keep N every disk is pulled, an unchanged one with no ranges, so
 * that each disk has a restore point of this sync and the VM's point is whole.
 */
import { dataLoss } from '../../../shared/errors.js';
import type { LiveDisk__Output } from '../../../shared/generated/kvmclone/agent/v1/LiveDisk.js';
import { formatBytes } from '../../cli/reporter.js';
import { pullFile } from '../clone/pull-file.js';
import type { SyncPair } from '../sync/sync-plan.js';
import { pullSettingsFor } from '../transfer-rate.js';
import type { DiskDelta } from './live-delta.js';
import type { LivePlan, LiveRun } from './live-sync-plan.js';

/** One disk of the view, pulled (or found unchanged) and verified. */
export interface LiveDiskResult {
  pair: SyncPair;
  delta: DiskDelta;
  digest: string;
  bytesTransferred: number;
  verified: 'changed-blocks' | 'whole-image';
}

/** One in-place pull over the live path, with the operation's timeouts and transfer settings. */
function pullInPlace({ op, req, deps, dst }: LiveRun, request: Record<string, unknown>, pair: SyncPair): ReturnType<typeof pullFile> {
  return pullFile(dst, request, pair, deps.reporter, { ...deps.options.timeouts, ...pullSettingsFor(deps.options.transfer, req.from, req.to) }, op.revert, deps.signal);
}

/** The digest the destination's must equal: of the changed blocks after a bitmap delta, else of the whole image. */
async function expectedDigest({ src, deps }: LiveRun, disk: LiveDisk__Output, delta: DiskDelta): Promise<string> {
  const { signal } = deps;
  return delta.kind === 'bitmap'
    ? (await src.call(src.clients.disk, src.clients.disk.digestImage, { path: disk.viewPath, layer: 'EXTENT_LAYER_GUEST', ranges: delta.ranges }, signal)).digest
    : (delta.sourceDigest ?? (await src.call(src.clients.disk, src.clients.disk.digestImage, { path: disk.viewPath, layer: 'EXTENT_LAYER_GUEST' }, signal)).digest);
}

/**
 * Pulls one disk's delta from the view and verifies it. An unchanged disk
 * is not pulled at all unless --keep wants its restore point.
 */
async function pullDisk(run: LiveRun, pair: SyncPair, delta: DiskDelta, disk: LiveDisk__Output, destSize: number | undefined): Promise<LiveDiskResult> {
  const { op, req, deps, path, destFormats, keep } = run;
  const { reporter } = deps;
  const byRanges = delta.kind === 'bitmap';
  const verified = byRanges ? 'changed-blocks' : 'whole-image';
  const unchanged = delta.ranges.length === 0 && delta.sourceSize === destSize;
  if (unchanged && keep === 0) {
    reporter.itemDone(pair.label, 'unchanged');
    return { pair, delta, digest: delta.sourceDigest ?? '', bytesTransferred: 0, verified };
  }
  const final = await pullInPlace(
    run,
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
  );
  if (unchanged && byRanges) {
    // Pulled only to keep its point: nothing was written, and the bitmap vouches for the disk as before.
    reporter.itemDone(pair.label, 'unchanged (restore point kept)');
    return { pair, delta, digest: '', bytesTransferred: 0, verified };
  }
  const expected = await expectedDigest(run, disk, delta);
  if (expected !== final.digest) throw dataLoss(`${pair.label}: after the sync ${pair.targetPath} on ${req.to} does not match the point in time (${final.digest} vs ${expected})`);
  op.bytesOnWire += final.bytesTransferred;
  op.bytesData += final.bytesData || final.bytesTransferred;
  reporter.itemDone(pair.label, `${formatBytes(final.bytesTransferred)} sent, verified ${final.digest.slice(0, 30)}…`);
  return { pair, delta, digest: final.digest, bytesTransferred: final.bytesTransferred, verified };
}

/** UEFI NVRAM: small (KiB to a few MiB), moved whole as a file, on the same path under its own ticket. */
async function pullStateFile(run: LiveRun, pair: SyncPair): Promise<void> {
  const { op, req, deps, src, path } = run;
  const { fileSize } = await src.call(src.clients.disk, src.clients.disk.statImage, { path: pair.sourcePath }, deps.signal);
  const final = await pullInPlace(
    run,
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
  );
  op.bytesOnWire += final.bytesTransferred;
  op.bytesData += final.bytesData || final.bytesTransferred;
}

/** TRANSFER (with each disk's VERIFY): every disk of the view, then the state files. */
export async function transferDeltas(run: LiveRun, { deltas, changedBlocks }: LivePlan, destSizes: ReadonlyMap<SyncPair, number>): Promise<LiveDiskResult[]> {
  run.op.step('TRANSFER', `${changedBlocks} changed block(s), agent to agent`);
  const results: LiveDiskResult[] = [];
  for (const [pair, delta] of deltas) {
    const disk = run.path.view.disks.find((d) => d.target === pair.label);
    if (!disk) continue;
    results.push(await pullDisk(run, pair, delta, disk, destSizes.get(pair)));
  }
  for (const pair of run.files) await pullStateFile(run, pair);
  return results;
}
