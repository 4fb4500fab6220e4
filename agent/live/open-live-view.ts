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
 */
import type { Logger } from 'pino';
import { failedPrecondition, invalidArgument, KvmcloneError, permissionDenied } from '../../shared/errors.js';
import type { LiveViewEvent } from '../../shared/generated/kvmclone/agent/v1/LiveViewEvent.js';
import type { OpenLiveViewRequest__Output } from '../../shared/generated/kvmclone/agent/v1/OpenLiveViewRequest.js';
import { checkId, checkVmName } from '../../shared/validation.js';
import { qemuImgInfo } from '../images/qemu-img.js';
import { readDomainFacts } from '../libvirt/domain-xml.js';
import type { LibvirtLivePort, LibvirtPort } from '../libvirt/libvirt-port.js';
import { BlockHashLog } from '../guest/guest-ranges-digest.js';
import type { ImageRoots } from '../paths/image-roots.js';
import type { StreamSink } from '../rpc/handlers.js';
import type { TicketRegistry } from '../transfer/ticket-registry.js';
import { planBackup, type PlannedDisk } from './backup-plan.js';
import { checkCheckpointName, checkReplicaId, nextCheckpointName } from './checkpoint-names.js';
import type { LiveViews, ViewDisk } from './live-views.js';
import { quiescedStart, type QuiesceMode } from './quiesce.js';
import { backupSocketFor, checkScratchSpace, isOwnBackupSocket, prepareLiveSocketDir, removeLeftovers, scratchPathFor } from './scratch-files.js';
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

const QUIESCE: Record<string, QuiesceMode> = {
  QUIESCE_UNSPECIFIED: 'try',
  QUIESCE_TRY: 'try',
  QUIESCE_REQUIRE: 'require',
  QUIESCE_OFF: 'off',
};

/** Validated request. */
interface LiveViewRequest {
  vm: string;
  operationId: string;
  replicaId: string;
  incrementalFrom: string;
  incrementalFromXml: string;
  cbt: boolean;
  quiesce: QuiesceMode;
}

function checkRequest(req: OpenLiveViewRequest__Output): LiveViewRequest {
  const vm = checkVmName(req.vmName, 'vm_name');
  const operationId = checkId(req.operationId, 'operation_id');
  const quiesce = QUIESCE[String(req.quiesce)];
  if (quiesce === undefined) throw invalidArgument(`quiesce: ${String(req.quiesce)} is not a quiesce mode`);
  const needsReplica = req.cbt || req.incrementalFrom !== '';
  const replicaId = needsReplica ? checkReplicaId(req.replicaId) : '';
  const incrementalFrom = req.incrementalFrom === '' ? '' : checkCheckpointName(req.incrementalFrom, replicaId, 'incremental_from');
  if (req.incrementalFromXml.length > 1024 * 1024) throw invalidArgument('incremental_from_xml: longer than 1 MiB');
  return { vm, operationId, replicaId, incrementalFrom, incrementalFromXml: req.incrementalFromXml, cbt: req.cbt, quiesce };
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

/**
 * A backup job already on the domain: one of ours that no open view holds (an
 * agent killed while libvirtd was unreachable at its restart) is ended; any
 * other job is another tool's, and is left alone with a refusal.
 */
async function endOwnStaleJob(deps: LiveViewDeps, vm: string, log: Logger, signal: AbortSignal): Promise<void> {
  const job = await deps.libvirt.backupJob(vm, { signal });
  if (job === undefined) return;
  const held = job.socket !== '' && deps.views.list().some((v) => v.socket === job.socket);
  if (!held && isOwnBackupSocket(deps.runtimeDir, job.socket)) {
    await deps.libvirt.abortJob(vm, { signal });
    log.warn({ vm, socket: job.socket }, 'ended a backup job of an earlier live view that nothing holds any more');
    return;
  }
  throw failedPrecondition(
    `${vm} already runs a backup job (${held ? 'another kvmclone operation copies it' : `not kvmclone's: NBD on ${job.socket || 'TCP'}`}); wait for it to end, or end it with virsh domjobabort`,
  );
}

/** Resolves when `signal` aborts. */
function untilAborted(signal: AbortSignal): Promise<void> {
  return signal.aborted ? Promise.resolve() : new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/**
 * Opens the view, sends its description, holds it until `signal` aborts (the
 * call ended), then ends the job and removes what it made.
 */
export async function openLiveView(req: OpenLiveViewRequest__Output, deps: LiveViewDeps, send: StreamSink<LiveViewEvent>, signal: AbortSignal, log: Logger): Promise<void> {
  const r = checkRequest(req);
  const domain = await deps.libvirt.getDomain(r.vm, { signal });
  if (req.shutOff && domain.state === 'shutoff') {
    if (deps.views.list().some((v) => v.vm === r.vm)) throw new KvmcloneError('ABORTED', `${r.vm} already has a view open (another operation copies it)`);
    return openShutOffView(r, deps, send, signal, log);
  }
  if (domain.state !== 'running' && domain.state !== 'paused') {
    throw failedPrecondition(`${r.vm} is ${domain.state}: a live view needs a running VM (copy a shut-off VM without --live)`);
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
    const served = new Map<string, ViewDisk>(
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
    if (ticket !== undefined) deps.tickets.revoke(ticket);
    deps.views.remove(r.operationId);
    if (begun) {
      // However the call ended: the job goes, and with it the NBD server and (libvirt removes them) the scratch files —
      // waiting for libvirtd if it is restarting right now (the job outlives the restart).
      try {
        await endViewJob(deps.libvirt, r.vm);
        log.info({ vm: r.vm, operationId: r.operationId }, 'live view closed: backup job ended');
      } catch (err) {
        log.error({ vm: r.vm, operationId: r.operationId, err }, 'could not end the backup job of a live view; it is ended at the next agent start');
      }
    } else if (beginning) {
      await endJobBegunUnseen(deps, r.vm, plan.socket, log);
    }
    await removeLeftovers(deps.scratchDir, deps.runtimeDir, new Set(deps.views.list().map((v) => v.operationId)), log).catch(() => undefined);
  }
}

/** How often, and how far apart, a begin cut short is looked for. */
const UNSEEN_JOB_LOOKS = 5;
const UNSEEN_JOB_LOOK_MS = 400;

/**
 * A backup-begin the call's end cut short (the SSH connection dropped while
 * `virsh backup-begin` ran: virsh is killed, libvirtd carries on) may still
 * start the job a moment later, serving on this operation's socket with no
 * view to end it. Looked for a few times; a job on this socket is ended (the
 * socket file then goes with the leftovers). Another tool's job is left alone.
 */
async function endJobBegunUnseen(deps: LiveViewDeps, vm: string, socket: string, log: Logger): Promise<void> {
  for (let look = 0; look < UNSEEN_JOB_LOOKS; look += 1) {
    const job = await deps.libvirt.backupJob(vm).catch(() => undefined);
    if (job !== undefined) {
      if (job.socket !== socket) return;
      await endViewJob(deps.libvirt, vm).catch((err: unknown) =>
        log.error({ vm, err }, 'could not end a backup job whose begin was cut short; it is ended at the next agent start or live view'),
      );
      log.warn({ vm, socket }, 'ended a backup job whose begin the end of its call had cut short');
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, UNSEEN_JOB_LOOK_MS));
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
