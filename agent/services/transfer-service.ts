/**
 * TransferService: tickets for the peer socket (source side), image pulls
 * (destination side) and operation locks (both sides). Long-lived state —
 * tickets and locks — is tied to open calls, so it ends when they end.
 */
import { once } from 'node:events';
import type { TransferServiceHandlers } from '../../shared/generated/kvmclone/agent/v1/TransferService.js';
import { invalidArgument } from '../../shared/errors.js';
import { checkId, checkVmName } from '../../shared/validation.js';
import type { HashMemory } from '../disk/hash-memory.js';
import type { ImageRoots } from '../paths/image-roots.js';
import { serverStream, unary, type RpcDeps } from '../rpc/handlers.js';
import type { LockRegistry } from '../transfer/lock-registry.js';
import { pullImage } from '../transfer/pull-image.js';
import type { InPlaceTransfer, PullInPlaceDeps } from '../transfer/in-place-transfer.js';
import type { ParkedPulls } from '../transfer/parked-pulls.js';
import type { TicketRegistry } from '../transfer/ticket-registry.js';
import type { LibvirtLivePort, LibvirtPort } from '../libvirt/libvirt-port.js';
import type { LiveViews } from '../live/live-views.js';
import { describeLiveView, openLiveView } from '../live/open-live-view.js';
import { pruneCheckpoints } from '../live/prune-checkpoints.js';
import { removePeerSocket } from '../server/forward-dir.js';
import type { RunningOperations } from '../leftovers/running-operations.js';
import { listLeftoversCall, removeLeftoversCall } from '../leftovers/leftover-calls.js';
import type { LeftoverScope } from '../leftovers/scan-leftovers.js';
import { listRestorePoints, removeRestorePoints, restorePoint } from '../transfer/restore-points.js';

/** What TransferService needs. */
export interface TransferServiceDeps {
  rpc: RpcDeps;
  roots: ImageRoots;
  tickets: TicketRegistry;
  locks: LockRegistry;
  /** The agent's runtime directory (where its sockets live). */
  runtimeDir: string;
  /** Where controllers bind per-operation peer sockets (forward-dir.ts). */
  forwardDir: string;
  /** The peer socket path announced with each ticket. */
  peerSocket: string;
  /** Block hashes already taken of unchanged files: an in-place pull digests only what it changed. */
  hashMemory: HashMemory;
  libvirt: LibvirtPort & LibvirtLivePort;
  /** Open live views (OpenLiveView), shared with DiskService's view paths. */
  views: LiveViews;
  /** Where backup scratch files go. */
  scratchDir: string;
  /** Longest wait for a guest agent's freeze or thaw. */
  freezeTimeoutMs: number;
  /** Operations with an open call here (leftovers of those are never removed). */
  operations: RunningOperations;
  /** In-place pulls cut short by a dropped connection, kept for the same operation's retry. */
  parkedPulls: ParkedPulls<InPlaceTransfer>;
}

/** Most paths one ticket may name (a VM's disks, backing files, NVRAM, TPM state). */
const MAX_TICKET_PATHS = 256;

/** Resolves when `signal` aborts (the call ended). */
function untilAborted(signal: AbortSignal): Promise<void> {
  return signal.aborted ? Promise.resolve() : once(signal, 'abort').then(() => undefined);
}

/** The leftover scope of this agent (leftover-calls.ts), logging to `log`. */
function leftoverScope(deps: TransferServiceDeps, log: LeftoverScope['log']): LeftoverScope {
  const { roots, locks, views } = deps;
  return {
    roots,
    forwardDir: deps.forwardDir,
    scratchDir: deps.scratchDir,
    runtimeDir: deps.runtimeDir,
    operations: deps.operations,
    views,
    locks,
    log,
  };
}

/** ListLeftovers, RemoveLeftovers and the restore points: what earlier operations left here, and going back to it. */
function leftoverHandlers(
  deps: TransferServiceDeps,
): Pick<TransferServiceHandlers, 'ListLeftovers' | 'RemoveLeftovers' | 'ListRestorePoints' | 'RemoveRestorePoints' | 'RestorePoint'> {
  const { rpc, roots, libvirt } = deps;
  return {
    ListLeftovers: unary('ListLeftovers', rpc, async (_req, ctx) => listLeftoversCall(leftoverScope(deps, ctx.log))),
    RemoveLeftovers: unary('RemoveLeftovers', rpc, async (req, ctx) => removeLeftoversCall(leftoverScope(deps, ctx.log), req)),
    ListRestorePoints: unary('ListRestorePoints', rpc, async (req) => listRestorePoints(req, roots)),
    RemoveRestorePoints: unary('RemoveRestorePoints', rpc, async (req, ctx) => removeRestorePoints(req, roots, ctx.log)),
    RestorePoint: serverStream('RestorePoint', rpc, async (req, send, ctx) => {
      checkId(req.operationId, 'operation_id');
      const log = ctx.log.child({ operationId: req.operationId });
      log.info({ target: req.targetPath, point: req.pointId, destVm: req.destVm }, 'restore started');
      await restorePoint(req, { roots, runtimeDir: deps.runtimeDir, log, libvirt }, send, ctx.signal);
    }),
  };
}

/** OpenTicket and PullImage: an image copied between agents, the source's ticket and the destination's pull. */
function copyHandlers(deps: TransferServiceDeps): Pick<TransferServiceHandlers, 'OpenTicket' | 'PullImage'> {
  const { rpc, roots, tickets, libvirt } = deps;
  return {
    OpenTicket: serverStream('OpenTicket', rpc, async (req, send, ctx) => {
      const operationId = checkId(req.operationId, 'operation_id');
      if (req.paths.length === 0 || req.paths.length > MAX_TICKET_PATHS) throw invalidArgument(`paths: 1 to ${MAX_TICKET_PATHS} paths are required`);
      const resolved = await Promise.all(req.paths.map((p, i) => roots.existing(p, `paths[${i}]`)));
      const ticket = tickets.issue(resolved, operationId);
      ctx.log.info({ operationId, paths: resolved }, 'ticket issued');
      try {
        await send({ ticket, peerSocket: deps.peerSocket });
        await untilAborted(ctx.signal);
      } finally {
        tickets.revoke(ticket);
        ctx.log.info({ operationId }, 'ticket revoked');
      }
    }),

    PullImage: serverStream('PullImage', rpc, async (req, send, ctx) => {
      checkId(req.operationId, 'operation_id');
      const log = ctx.log.child({ operationId: req.operationId, mode: req.mode });
      log.info({ source: req.sourcePath, target: req.targetPath, resume: req.stagingId !== '', ranges: req.ranges.length }, 'pull started');
      // libvirt rides along for pull-in-place.ts (PullInPlaceDeps): an in-place pull naming dest_vm checks that VM is shut off before it applies.
      const pullDeps: PullInPlaceDeps = { roots, runtimeDir: deps.runtimeDir, log, hashMemory: deps.hashMemory, libvirt, parked: deps.parkedPulls };
      await pullImage(req, pullDeps, send, ctx.signal);
      log.info({ target: req.targetPath }, 'pull finished');
    }),
  };
}

/** OpenLiveView, DescribeLiveView and PruneCheckpoints: copies of a running VM. */
function liveViewHandlers(deps: TransferServiceDeps): Pick<TransferServiceHandlers, 'OpenLiveView' | 'DescribeLiveView' | 'PruneCheckpoints'> {
  const { rpc, roots, tickets, libvirt, views } = deps;
  return {
    OpenLiveView: serverStream('OpenLiveView', rpc, async (req, send, ctx) => {
      const log = ctx.log.child({ operationId: req.operationId, vm: req.vmName });
      await openLiveView(
        req,
        { libvirt, roots, views, tickets, runtimeDir: deps.runtimeDir, scratchDir: deps.scratchDir, freezeTimeoutMs: deps.freezeTimeoutMs, peerSocket: deps.peerSocket },
        send,
        ctx.signal,
        log,
      );
    }),

    DescribeLiveView: unary('DescribeLiveView', rpc, async (req) => describeLiveView(views, req.operationId)),

    PruneCheckpoints: unary('PruneCheckpoints', rpc, async (req, ctx) => pruneCheckpoints(req, libvirt, ctx.log, ctx.signal)),
  };
}

/** RemovePeerSocket and HoldLock: what an operation holds on this agent while it runs. */
function operationHandlers(deps: TransferServiceDeps): Pick<TransferServiceHandlers, 'RemovePeerSocket' | 'HoldLock'> {
  const { rpc, locks } = deps;
  return {
    RemovePeerSocket: unary('RemovePeerSocket', rpc, async (req, ctx) => {
      const removed = await removePeerSocket(req.path, deps.forwardDir);
      ctx.log.debug({ path: req.path, removed }, 'peer socket removed');
      return { removed };
    }),

    HoldLock: serverStream('HoldLock', rpc, async (req, send, ctx) => {
      const vm = checkVmName(req.vmName, 'vm_name');
      const operationId = checkId(req.operationId, 'operation_id');
      const purpose = req.purpose.slice(0, 200);
      const release = locks.acquire(vm, operationId, purpose);
      ctx.log.info({ vm, operationId, purpose }, 'lock taken');
      try {
        await send({ held: true });
        await untilAborted(ctx.signal);
      } finally {
        release();
        ctx.log.info({ vm, operationId }, 'lock released');
      }
    }),
  };
}

/** Builds the TransferService handlers. */
export function createTransferService(deps: TransferServiceDeps): TransferServiceHandlers {
  return { ...leftoverHandlers(deps), ...copyHandlers(deps), ...liveViewHandlers(deps), ...operationHandlers(deps) };
}
