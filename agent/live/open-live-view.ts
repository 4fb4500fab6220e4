/**
 * OpenLiveView: a point-in-time view of a running domain's disks, through
 * libvirt's backup API in pull mode (ARCHITECTURE, "Running VMs").
 *
 * The domain definition never changes — no external snapshot, no overlay —
 * so however this ends (the controller cancels, dies, or this agent is
 * killed), the guest keeps running on its own images. The job is ended in a
 * `finally` on every path this process survives; a job left by a killed
 * agent is ended at its next start (stale-jobs.ts).
 *
 * Changed-block tracking: with `cbt`, the job also creates the checkpoint
 * `kvmclone.<replica>.<n>` (dirty bitmaps inside the qcow2 images); with
 * `incremental_from`, the view exposes the blocks dirtied since that
 * checkpoint. Whenever incremental is asked but cannot be given, the view is
 * full and `delta_reason` says why — the caller then compares hashes.
 *
 * The request is checked in open-live-view-request.ts; jobs a view meets or
 * may leave behind are ended in live-view-jobs.ts.
 */
import type { Logger } from 'pino';
import { failedPrecondition, KvmcloneError, permissionDenied } from '../../shared/errors.js';
import type { LiveViewEvent } from '../../shared/generated/kvmclone/agent/v1/LiveViewEvent.js';
import type { OpenLiveViewRequest__Output } from '../../shared/generated/kvmclone/agent/v1/OpenLiveViewRequest.js';
import { checkId } from '../../shared/validation.js';
import { qemuImgInfo } from '../images/qemu-img.js';
import { readDomainFacts } from '../libvirt/domain-xml.js';
import type { BackupJobRecord, DomainStateName, LibvirtLivePort, LibvirtPort } from '../libvirt/libvirt-port.js';
import { BlockHashLog } from '../guest/guest-ranges-digest.js';
import type { ImageRoots } from '../paths/image-roots.js';
import type { StreamSink } from '../rpc/handlers.js';
import type { TicketRegistry } from '../transfer/ticket-registry.js';
import { planBackup, type BackupPlan, type PlannedDisk } from './backup-plan.js';
import { nextCheckpointName } from './checkpoint-names.js';
import { endJobBegunUnseen, endOwnStaleJob } from './live-view-jobs.js';
import type { LiveViews, ViewDisk } from './live-views.js';
import { checkLiveViewRequest, type LiveViewRequest } from './open-live-view-request.js';
import { quiescedStart } from './quiesce.js';
import { backupSocketFor, checkScratchSpace, prepareLiveSocketDir, removeLeftovers, scratchPathFor } from './scratch-files.js';
import { viewPathOf } from './view-path.js';
import { dirtyContextOf } from './live-views.js';
import { endViewJob } from './end-view-job.js';
import { openShutOffView } from './open-shut-off-view.js';

/** What OpenLiveView needs from the agent. */
export interface LiveViewDeps {
  readonly libvirt: LibvirtPort & LibvirtLivePort;
  readonly roots: ImageRoots;
  readonly views: LiveViews;
  readonly tickets: TicketRegistry;
  /** The agent's runtime directory (NBD sockets go to its `live/`). */
  readonly runtimeDir: string;
  /** Where scratch files go. */
  readonly scratchDir: string;
  /** Longest wait for the guest agent to freeze or thaw. */
  readonly freezeTimeoutMs: number;
  /** The peer socket announced with the ticket. */
  readonly peerSocket: string;
}

/**
 * The file-backed disks of a domain, confined to the image roots, with their
 * formats and sizes; `flag` is what the user asked with (`--live`,
 * `--flatten`), for the refusals.
 */
export async function viewDisks(
  deps: Pick<LiveViewDeps, 'libvirt' | 'roots' | 'scratchDir'>,
  vm: string,
  operationId: string,
  signal: AbortSignal,
  flag = '--live',
): Promise<PlannedDisk[]> {
  const facts = readDomainFacts(await deps.libvirt.getDomainXml(vm, { signal }));
  const disks: PlannedDisk[] = [];
  for (const d of facts.disks) {
    if (d.device !== 'disk') continue;
    if (d.type !== 'file' || d.source === '') throw failedPrecondition(`${vm}: disk ${d.target} is a ${d.type} disk; ${flag} copies file-backed disks only`);
    if (d.shareable) throw failedPrecondition(`${vm}: disk ${d.target} is shareable (another VM may write it): it has no point in time of its own`);
    const sourcePath = await deps.roots.existing(d.source, `disk ${d.target}`).catch((err: unknown) => {
      throw err instanceof KvmcloneError && err.code === 'PERMISSION_DENIED' ? permissionDenied(`${vm}: disk ${d.target} (${d.source}) is outside this agent's image roots`) : err;
    });
    // The format QEMU runs it with (the domain's driver type; none means raw), never probed.
    const format = d.format === '' ? 'raw' : d.format;
    if (format !== 'qcow2' && format !== 'raw') throw failedPrecondition(`${vm}: disk ${d.target} is ${format}; ${flag} copies qcow2 and raw disks`);
    const info = await qemuImgInfo(sourcePath, signal, format);
    disks.push({ target: d.target, sourcePath, format, virtualSize: info.virtualSize, scratch: scratchPathFor(deps.scratchDir, operationId, d.target) });
  }
  if (disks.length === 0) throw failedPrecondition(`${vm} has no file-backed disk to copy`);
  return disks;
}

/** Resolves when `signal` aborts. */
function untilAborted(signal: AbortSignal): Promise<void> {
  return signal.aborted ? Promise.resolve() : new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/**
 * What the view will be: the domain running and not copied already, a stale
 * job of ours ended, the disks checked, room for scratch files, and the job
 * planned.
 */
async function planLiveView(deps: LiveViewDeps, r: LiveViewRequest, state: DomainStateName, signal: AbortSignal, log: Logger): Promise<{ disks: PlannedDisk[]; plan: BackupPlan }> {
  if (state !== 'running' && state !== 'paused') {
    throw failedPrecondition(`${r.vm} is ${state}: a live view needs a running VM (copy a shut-off VM without --live)`);
  }
  if (deps.views.list().some((v) => v.vm === r.vm)) throw new KvmcloneError('ABORTED', `${r.vm} already has a live view open (another operation copies it)`);
  await endOwnStaleJob(deps, r.vm, log, signal);
  const disks = await viewDisks(deps, r.vm, r.operationId, signal);
  await checkScratchSpace(
    deps.scratchDir,
    disks.reduce((n, d) => n + d.virtualSize, 0),
  );
  const checkpoints = r.cbt || r.incrementalFrom !== '' ? await deps.libvirt.listCheckpoints(r.vm, { signal }) : [];
  const plan = await planBackup(deps.libvirt, {
    vm: r.vm,
    disks,
    socket: backupSocketFor(deps.runtimeDir, r.operationId),
    incrementalFrom: r.incrementalFrom,
    incrementalFromXml: r.incrementalFromXml,
    checkpoint: r.cbt
      ? nextCheckpointName(
          checkpoints.map((c) => c.name),
          r.replicaId,
        )
      : '',
    existing: checkpoints.map((c) => c.name),
    signal,
    log,
  });
  return { disks, plan };
}

/** The view's disks as the job exports them: export names, and the dirty bitmap's context when it is incremental. */
function servedDisks(disks: readonly PlannedDisk[], job: BackupJobRecord, started: BackupPlan): Map<string, ViewDisk> {
  return new Map<string, ViewDisk>(
    disks.map((d) => {
      const exported = job.disks.find((j) => j.target === d.target);
      const dirtyContext = started.incrementalFrom !== '' && exported && exported.exportBitmap !== '' ? dirtyContextOf(exported.exportBitmap) : '';
      const disk: ViewDisk = {
        target: d.target,
        sourcePath: d.sourcePath,
        format: d.format,
        virtualSize: d.virtualSize,
        exportName: exported?.exportName || d.target,
        dirtyContext,
        bytesRead: 0,
        digest: '',
        sent: new BlockHashLog(),
      };
      return [d.target, disk];
    }),
  );
}

/** How far an open got: its ticket, and whether the job's begin was called and came back. */
interface OpenedSoFar {
  ticket: string | undefined;
  beginning: boolean;
  begun: boolean;
}

/** However the call ended: the ticket and view gone, the job ended (or one cut short looked for), leftovers removed. */
async function closeLiveView(deps: LiveViewDeps, r: LiveViewRequest, opened: OpenedSoFar, socket: string, log: Logger): Promise<void> {
  if (opened.ticket !== undefined) deps.tickets.revoke(opened.ticket);
  deps.views.remove(r.operationId);
  if (opened.begun) {
    // However the call ended: the job goes, and with it the NBD server and (libvirt removes them) the scratch files —
    // waiting for libvirtd if it is restarting right now (the job outlives the restart).
    try {
      await endViewJob(deps.libvirt, r.vm);
      log.info({ vm: r.vm, operationId: r.operationId }, 'live view closed: backup job ended');
    } catch (err) {
      log.error({ vm: r.vm, operationId: r.operationId, err }, 'could not end the backup job of a live view; it is ended at the next agent start');
    }
  } else if (opened.beginning) {
    await endJobBegunUnseen(deps, r.vm, socket, log);
  }
  await removeLeftovers(deps.scratchDir, deps.runtimeDir, new Set(deps.views.list().map((v) => v.operationId)), log).catch(() => undefined);
}

/**
 * Opens the view, sends its description, holds it until `signal` aborts (the
 * call ended), then ends the job and removes what it made.
 */
export async function openLiveView(req: OpenLiveViewRequest__Output, deps: LiveViewDeps, send: StreamSink<LiveViewEvent>, signal: AbortSignal, log: Logger): Promise<void> {
  const r = checkLiveViewRequest(req);
  const domain = await deps.libvirt.getDomain(r.vm, { signal });
  if (req.shutOff && domain.state === 'shutoff') {
    if (deps.views.list().some((v) => v.vm === r.vm)) throw new KvmcloneError('ABORTED', `${r.vm} already has a view open (another operation copies it)`);
    return openShutOffView(r, deps, send, signal, log);
  }
  const { disks, plan } = await planLiveView(deps, r, domain.state, signal, log);
  await prepareLiveSocketDir(deps.runtimeDir);
  let begun = false;
  let beginning = false;
  let ticket: string | undefined;
  try {
    const {
      consistency,
      plan: { plan: started, job },
    } = await quiescedStart(deps.libvirt, r.vm, r.quiesce, deps.freezeTimeoutMs, log, async () => {
      beginning = true;
      const result = await plan.begin(plan);
      begun = true;
      return result;
    });
    const served = servedDisks(disks, job, started);
    deps.views.add({ operationId: r.operationId, vm: r.vm, socket: plan.socket, disks: served });
    ticket = deps.tickets.issue(
      disks.map((d) => viewPathOf(r.operationId, d.target)),
      r.operationId,
    );
    const checkpointXml = started.checkpoint === '' ? '' : await deps.libvirt.checkpointXml(r.vm, started.checkpoint, { signal });
    log.info(
      { vm: r.vm, operationId: r.operationId, consistency, checkpoint: started.checkpoint, incrementalFrom: started.incrementalFrom, reason: started.reason },
      'live view open',
    );
    await send({
      ticket,
      peerSocket: deps.peerSocket,
      operationId: r.operationId,
      consistency,
      checkpoint: started.checkpoint,
      incrementalFrom: started.incrementalFrom,
      deltaReason: started.reason,
      checkpointXml,
      disks: [...served.values()].map((d) => ({
        target: d.target,
        sourcePath: d.sourcePath,
        viewPath: viewPathOf(r.operationId, d.target),
        format: d.format,
        virtualSize: d.virtualSize,
        incremental: d.dirtyContext !== '',
        bytesRead: 0,
      })),
    });
    await untilAborted(signal);
  } finally {
    await closeLiveView(deps, r, { ticket, begun, beginning }, plan.socket, log);
  }
}

/** Bytes read so far from each disk of an open view (DescribeLiveView). */
export function describeLiveView(views: LiveViews, operationId: string): LiveViewEvent {
  const view = views.get(checkId(operationId, 'operation_id'));
  return {
    operationId: view.operationId,
    disks: [...view.disks.values()].map((d) => ({
      target: d.target,
      sourcePath: d.sourcePath,
      viewPath: viewPathOf(view.operationId, d.target),
      format: d.format,
      virtualSize: d.virtualSize,
      incremental: d.dirtyContext !== '',
      bytesRead: d.bytesRead,
    })),
  };
}
