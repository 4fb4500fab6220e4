/**
 * The restore point RPCs: ListRestorePoints, RestorePoint and
 * RemoveRestorePoints (TransferService), on the points in-place pulls with
 * keep_points leave beside an image (restore-point-files.ts).
 *
 * A restore rolls the image back through its points newest first, each
 * applied exactly like a sync journal: the point is renamed into the
 * image's journal slot (one atomic rename: from then on it is a committed
 * journal, which the next agent start or pull rolls forward if the agent
 * dies during the apply) and settled. Every point on the way is consumed —
 * like `zfs rollback -r`, the newer points are gone afterwards, and the one
 * restored to as well (the image now is that state). Before anything
 * changes, every point needed is checked whole and the image is checked to
 * be in the state the newest point's pull left; afterwards the image's
 * digest must equal the one recorded with the point.
 *
 * A point kept by a live sync is a guest-layer undo (pull-point.ts): applied
 * through the image's format, its digest that of what the guest saw, and so
 * are the checks around it. Of a raw image the two layers are the same bytes,
 * so any chain restores. Of a qcow2 they are not: once anything was written
 * through the format (a live sync's apply, or a restore of its point), the
 * file's clusters are no longer those an offline sync's file-layer point was
 * read from: such points are removed when that happens
 * (restore-point-chain.ts), and a chain that would still apply one after a
 * live point is refused, with nothing changed.
 */
import { constants } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { aborted, dataLoss, errnoCode, invalidArgument, notFound } from '../../shared/errors.js';
import { checkVmName } from '../../shared/validation.js';
import type { ListRestorePointsRequest__Output } from '../../shared/generated/kvmclone/agent/v1/ListRestorePointsRequest.js';
import type { ListRestorePointsResponse } from '../../shared/generated/kvmclone/agent/v1/ListRestorePointsResponse.js';
import type { RemoveRestorePointsRequest__Output } from '../../shared/generated/kvmclone/agent/v1/RemoveRestorePointsRequest.js';
import type { RemoveRestorePointsResponse } from '../../shared/generated/kvmclone/agent/v1/RemoveRestorePointsResponse.js';
import type { RestorePointInfo } from '../../shared/generated/kvmclone/agent/v1/RestorePointInfo.js';
import type { RestorePointProgress } from '../../shared/generated/kvmclone/agent/v1/RestorePointProgress.js';
import type { RestorePointRequest__Output } from '../../shared/generated/kvmclone/agent/v1/RestorePointRequest.js';
import { identityOf } from '../disk/hash-memory.js';
import type { LibvirtPort } from '../libvirt/libvirt-port.js';
import { refuseHardLinked } from '../paths/hard-links.js';
import type { ImageRoots } from '../paths/image-roots.js';
import { openDirectory, openImage } from '../paths/open-beneath.js';
import type { StreamSink } from '../rpc/handlers.js';
import { journalPathFor } from './journal-file.js';
import { recoverJournal, settleJournal } from './journal-recovery.js';
import { requireDestShutOff } from './dest-vm-state.js';
import { openBeside, openLockedBeside, readPointHead, renameBeside, syncBeside, unlinkBeside, type PointPlace } from './restore-point-chain.js';
import { checkPoint, checkTip, digestAs, kindOfLayer, refuseMixedQcow2, type CheckedPoint, type HeldImage } from './restore-point-checks.js';
import { listPointFiles, recordedTip, recordTip, type PointFile } from './restore-point-files.js';
import { hasQcow2Magic } from '../images/image-header.js';

/** What the restore point calls need from the agent. */
export interface RestorePointDeps {
  readonly roots: ImageRoots;
  readonly runtimeDir: string;
  readonly log: Logger;
  readonly libvirt?: Pick<LibvirtPort, 'getDomain'>;
}

/** Opens the image of a request read-only beneath the roots (refused if hard-linked), with its directory held. */
async function holdImage(roots: ImageRoots, targetPath: string): Promise<HeldImage> {
  const opened = await openImage(roots, targetPath, constants.O_RDONLY, 'target_path');
  try {
    refuseHardLinked(opened.links, opened.path, 'target_path', 'restore');
    const dir = await openDirectory(roots, dirname(opened.path), 'target_path');
    return { target: opened.path, fh: opened.fh, dir };
  } catch (err) {
    await opened.fh.close();
    throw err;
  }
}

async function releaseImage(held: HeldImage): Promise<void> {
  await held.fh.close().catch(() => undefined);
  held.dir.close();
}

/** One point's description for the wire. */
async function describePoint(place: PointPlace, point: PointFile): Promise<RestorePointInfo> {
  const fh = await openBeside(place, point.name);
  try {
    const st = await fh.stat();
    const { header, note } = await readPointHead(fh).catch(() => ({ header: undefined, note: undefined }));
    return {
      id: String(point.id),
      createdUnix: (note?.createdMs ?? st.mtimeMs) / 1000,
      digest: note?.digest ?? '',
      sizeBytes: st.blocks * 512,
      imageSize: header?.size ?? 0,
      label: note?.label ?? '',
      operationId: note?.operationId ?? '',
    };
  } finally {
    await fh.close();
  }
}

/** ListRestorePoints: the image's points, newest first, and the space they take. */
export async function listRestorePoints(req: ListRestorePointsRequest__Output, roots: ImageRoots): Promise<ListRestorePointsResponse> {
  const held = await holdImage(roots, req.targetPath);
  try {
    const place = { image: held.target, dir: held.dir };
    const points: RestorePointInfo[] = [];
    for (const p of await listPointFiles(held.target)) {
      try {
        points.push(await describePoint(place, p));
      } catch (err) {
        // Removed under us (a restore or a prune): not a point any more.
        if (!(errnoCode(err) === 'ENOENT' || (err instanceof Error && /does not exist/.test(err.message)))) throw err;
      }
    }
    return { points, totalBytes: points.reduce((n, p) => n + Number(p.sizeBytes ?? 0), 0) };
  } finally {
    await releaseImage(held);
  }
}

/** RemoveRestorePoints: the oldest points beyond the newest `keep`. */
export async function removeRestorePoints(req: RemoveRestorePointsRequest__Output, roots: ImageRoots, log: Logger): Promise<RemoveRestorePointsResponse> {
  const held = await holdImage(roots, req.targetPath);
  try {
    const place = { image: held.target, dir: held.dir };
    const old = (await listPointFiles(held.target)).slice(req.keep);
    for (const p of old) await unlinkBeside(place, p.name);
    if (old.length > 0) await syncBeside(place);
    log.info({ image: held.target, removed: old.map((p) => String(p.id)), keep: req.keep }, 'restore points removed');
    return { removed: old.map((p) => String(p.id)) };
  } finally {
    await releaseImage(held);
  }
}

/** One RestorePoint call with its image held: what each stage of the restore reads. */
interface RestoreCall {
  readonly req: RestorePointRequest__Output;
  readonly deps: RestorePointDeps;
  readonly send: StreamSink<RestorePointProgress>;
  readonly signal: AbortSignal;
  readonly held: HeldImage;
  readonly place: PointPlace;
  readonly log: Logger;
}

/** The points a restore applies, newest first, each checked whole, and the one restored to (the chain's last). */
interface CheckedChain {
  readonly chain: readonly PointFile[];
  readonly target: CheckedPoint;
}

/**
 * Settles a journal left beside the image, finds the chain down to the
 * wanted point, and checks all of it and the image's state before anything
 * changes (restore-point-checks.ts): a refused restore changed nothing.
 */
async function checkChain(r: RestoreCall, wanted: bigint): Promise<CheckedChain> {
  const { req, deps, send, signal, held, place, log } = r;
  // A journal left beside the image (a sync, or a restore cut short) is settled first.
  await recoverJournal(held.target, log, { runtimeDir: deps.runtimeDir, dir: held.dir });
  const points = await listPointFiles(held.target);
  const at = points.findIndex((p) => p.id === wanted);
  if (at < 0) throw notFound(`point_id: ${held.target} has no restore point ${req.pointId} (it has ${points.length === 0 ? 'none' : points.map((p) => String(p.id)).join(', ')})`);
  const chain = points.slice(0, at + 1);
  await send({ phase: 'check', pointId: req.pointId, pointsDone: 0, pointsTotal: chain.length, done: false });
  const image = await held.fh.stat({ bigint: true });
  const checked: CheckedPoint[] = [];
  for (const p of chain) checked.push(await checkPoint(place, p, image));
  const target = checked.at(-1);
  if (target === undefined) throw new Error('internal: an empty restore chain');
  const qcow2 = await hasQcow2Magic(held.fh);
  const tip = recordedTip(held.dir.pathOf(chain[0].name));
  if (qcow2) refuseMixedQcow2(held, chain, checked);
  await checkTip(held, chain[0], tip, qcow2, deps, log, signal);
  return { chain, target };
}

/**
 * Applies one point: renamed into the image's journal slot (from then on
 * it is a committed journal, rolled forward by recovery after a crash), the
 * rename made durable, and settled. The point is held locked throughout.
 */
async function applyPoint(r: RestoreCall, p: PointFile, journalName: string): Promise<void> {
  const { deps, held, place, log } = r;
  const fh = await openLockedBeside(place, p.name);
  if (fh === undefined) throw aborted(`restore point ${p.id} of ${held.target} was removed while the restore ran; the image is at the state of the point before it`);
  try {
    try {
      // From this rename on the point is the image's committed journal: applied now, or by recovery after a crash.
      await renameBeside(place, p.name, journalName);
    } catch (err) {
      if (errnoCode(err) === 'EEXIST')
        throw aborted(`a sync journal appeared beside ${held.target} during the restore (another pull runs); the image is at the state of the point before ${p.id}`);
      throw err;
    }
    await syncBeside(place);
    const result = await settleJournal(fh, journalPathFor(held.target), held.target, { runtimeDir: deps.runtimeDir, dir: held.dir, log });
    if (result.outcome !== 'replayed') throw dataLoss(`restore point ${p.id} could not be applied (${result.outcome === 'none' ? 'gone' : result.reason})`);
  } finally {
    await fh.close();
  }
}

/**
 * The rollback's result must have the digest recorded with the point
 * restored to; the newest point left then records the restored state as
 * its tip, the one the chain continues from.
 */
async function verifyRestored(r: RestoreCall, { chain, target }: CheckedChain): Promise<void> {
  const { req, deps, send, signal, held, log } = r;
  await send({ phase: 'verify', pointId: req.pointId, pointsDone: chain.length, pointsTotal: chain.length, done: false });
  // The point's digest is of the layer its sync wrote: the file, or the guest view for a live sync's point.
  const kind = kindOfLayer(target.layer);
  const digest = await digestAs(held, kind, deps.runtimeDir, signal);
  const after = await held.fh.stat({ bigint: true });
  if (digest !== target.note.digest)
    throw dataLoss(`${held.target} was rolled back through ${chain.length} restore point(s) but its digest ${digest} is not point ${req.pointId}'s ${target.note.digest}`);
  // The newest point left is the one the restored state chains on from.
  const left = (await listPointFiles(held.target))[0];
  if (left !== undefined) {
    const fh = await held.dir.openFile(left.name, constants.O_RDWR, 'restore point');
    try {
      recordTip(fh, { digest, layer: kind.layer, identity: identityOf(after) });
    } finally {
      await fh.close();
    }
  }
  log.info({ consumed: chain.map((p) => String(p.id)), digest }, 'image restored to the point');
  await send({ phase: 'verify', pointId: req.pointId, pointsDone: chain.length, pointsTotal: chain.length, digest, done: true });
}

/** RestorePoint: rolls the image back to `point_id` (see the module comment): check, apply point by point, verify. */
export async function restorePoint(req: RestorePointRequest__Output, deps: RestorePointDeps, send: StreamSink<RestorePointProgress>, signal: AbortSignal): Promise<void> {
  if (!/^[0-9]{1,19}$/.test(req.pointId)) throw invalidArgument(`point_id: '${req.pointId}' is not a restore point id (digits, as ListRestorePoints gives them)`);
  const wanted = BigInt(req.pointId);
  if (req.destVm) checkVmName(req.destVm, 'dest_vm');
  const vmCheck = { destVm: req.destVm, targetPath: req.targetPath };
  await requireDestShutOff(vmCheck, deps, signal, 'before the restore');
  const held = await holdImage(deps.roots, req.targetPath);
  const log = deps.log.child({ target: held.target, point: req.pointId });
  try {
    const place = { image: held.target, dir: held.dir, log };
    const r: RestoreCall = { req, deps, send, signal, held, place, log };
    const checked = await checkChain(r, wanted);
    const { chain } = checked;

    const journalName = journalPathFor(held.target).slice(dirname(held.target).length + 1);
    for (const [i, p] of chain.entries()) {
      signal.throwIfAborted();
      await requireDestShutOff(vmCheck, deps, signal, 'during the restore');
      await send({ phase: 'apply', pointId: String(p.id), pointsDone: i, pointsTotal: chain.length, done: false });
      await applyPoint(r, p, journalName);
      log.info({ applied: String(p.id) }, 'restore point applied');
    }

    await verifyRestored(r, checked);
  } finally {
    await releaseImage(held);
  }
}
