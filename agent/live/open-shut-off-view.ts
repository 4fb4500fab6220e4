/**
 * OpenLiveView with `shut_off` on a shut-off domain (kvmctl clone --flatten):
 * a view of each disk as the guest would see it, its backing chain merged,
 * served read-only by a qemu-nbd of the agent's own per disk. Everything
 * after the open — DiskService on view paths, GUEST-layer pulls, digests of
 * the guest-visible content — is the live view's, unchanged.
 *
 * Each disk's chain is walked and checked by kvmclone first (every backing
 * file under the image roots, no external data file), held open, and given
 * to qemu-nbd through its descriptors in a `json:` filename, so qemu-nbd
 * opens nothing by name (held-chain.ts). A read-only qemu-nbd holds QEMU's
 * image locks without sharing write: the VM cannot be started, nor its images
 * written by another QEMU, while the view is open — the copy is of one state.
 * The servers stop when the call ends; a killed agent takes them with it
 * (qemu-nbd runs under `setpriv --pdeathsig`), and their sockets are removed
 * with the live-view leftovers at the next start.
 */
import type { Logger } from 'pino';
import { failedPrecondition, invalidArgument, KvmcloneError } from '../../shared/errors.js';
import type { LiveViewEvent } from '../../shared/generated/kvmclone/agent/v1/LiveViewEvent.js';
import { checkId, checkVmName } from '../../shared/validation.js';
import { BlockHashLog } from '../guest/guest-ranges-digest.js';
import { holdChain, heldChainSpec } from '../images/held-chain.js';
import { checkedChain } from '../images/qemu-img.js';
import { startQemuNbd, type QemuNbdServer } from '../nbd/qemu-nbd-server.js';
import type { StreamSink } from '../rpc/handlers.js';
import type { LiveViewDeps } from './open-live-view.js';
import { viewDisks } from './open-live-view.js';
import type { PlannedDisk } from './backup-plan.js';
import type { ViewDisk } from './live-views.js';
import { flatSocketFor, prepareLiveSocketDir, removeLeftovers } from './scratch-files.js';
import { viewPathOf } from './view-path.js';

/** What a shut-off view is asked for: the domain and the operation; nothing incremental. */
export interface ShutOffViewRequest {
  vm: string;
  operationId: string;
  cbt: boolean;
  incrementalFrom: string;
}

/** Serves one disk's merged chain read-only; the chain's descriptors are closed once qemu-nbd holds its own. */
async function serveDisk(
  deps: LiveViewDeps,
  operationId: string,
  disk: { target: string; sourcePath: string; format: 'raw' | 'qcow2' },
  signal: AbortSignal,
): Promise<QemuNbdServer> {
  const chain = await holdChain(await checkedChain(disk.sourcePath, { format: disk.format, roots: deps.roots }));
  try {
    return await startQemuNbd({
      image: heldChainSpec(chain),
      format: disk.format,
      fds: chain.fds,
      socketPath: flatSocketFor(deps.runtimeDir, operationId, disk.target),
      readOnly: true,
      exportName: disk.target,
      signal,
    });
  } catch (err) {
    if (err instanceof KvmcloneError && err.code === 'FAILED_PRECONDITION' && /lock/.test(err.message)) {
      throw failedPrecondition(`disk ${disk.target} (${disk.sourcePath}) is in use by another process (the VM was started, or another tool writes it): ${err.message}`);
    }
    throw err;
  } finally {
    await chain.close();
  }
}

/**
 * Serves each disk (serveDisk) and describes it as the view's; every server
 * goes into `servers` as soon as it runs, so the caller stops those already
 * started when a later one fails.
 */
async function serveDisks(deps: LiveViewDeps, operationId: string, disks: readonly PlannedDisk[], signal: AbortSignal, servers: QemuNbdServer[]): Promise<Map<string, ViewDisk>> {
  const shared = new Map<string, ViewDisk>();
  for (const d of disks) {
    const format = d.format === 'qcow2' ? 'qcow2' : 'raw';
    const server = await serveDisk(deps, operationId, { target: d.target, sourcePath: d.sourcePath, format }, signal);
    servers.push(server);
    shared.set(d.target, {
      target: d.target,
      sourcePath: d.sourcePath,
      format: d.format,
      virtualSize: d.virtualSize,
      exportName: server.exportName,
      socket: server.socketPath,
      dirtyContext: '',
      bytesRead: 0,
      digest: '',
      sent: new BlockHashLog(),
    });
  }
  return shared;
}

/**
 * Opens the view, sends its description, holds it until `signal` aborts (the
 * call ended), then stops the servers and removes their sockets.
 */
export async function openShutOffView(r: ShutOffViewRequest, deps: LiveViewDeps, send: StreamSink<LiveViewEvent>, signal: AbortSignal, log: Logger): Promise<void> {
  const vm = checkVmName(r.vm, 'vm_name');
  const operationId = checkId(r.operationId, 'operation_id');
  if (r.cbt || r.incrementalFrom !== '') throw invalidArgument(`cbt, incremental_from: ${vm} is shut off; changed-block tracking needs a running VM`);
  const disks = await viewDisks(deps, vm, operationId, signal, '--flatten');
  await prepareLiveSocketDir(deps.runtimeDir);
  const servers: QemuNbdServer[] = [];
  let ticket: string | undefined;
  try {
    const shared = await serveDisks(deps, operationId, disks, signal, servers);
    // Started while the servers came up, the VM holds its images and the last server failed on the lock; one that was
    // already running before the first is refused here.
    const domain = await deps.libvirt.getDomain(vm, { signal });
    if (domain.state !== 'shutoff') throw failedPrecondition(`${vm} was started while its disks were being opened: shut it down, or copy it with --live`);
    deps.views.add({ operationId, vm, socket: '', disks: shared });
    ticket = deps.tickets.issue(
      disks.map((d) => viewPathOf(operationId, d.target)),
      operationId,
    );
    log.info({ vm, operationId, disks: disks.map((d) => d.target) }, 'shut-off view open: qemu-nbd serves each disk with its chain merged');
    await send({
      ticket,
      peerSocket: deps.peerSocket,
      operationId,
      consistency: 'shut-off',
      checkpoint: '',
      incrementalFrom: '',
      deltaReason: '',
      checkpointXml: '',
      disks: [...shared.values()].map((d) => ({
        target: d.target,
        sourcePath: d.sourcePath,
        viewPath: viewPathOf(operationId, d.target),
        format: d.format,
        virtualSize: d.virtualSize,
        incremental: false,
        bytesRead: 0,
      })),
    });
    if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  } finally {
    if (ticket !== undefined) deps.tickets.revoke(ticket);
    deps.views.remove(operationId);
    for (const server of servers) {
      await server.close().catch((err: unknown) => log.warn({ vm, operationId, err }, 'qemu-nbd of a shut-off view did not stop cleanly'));
    }
    await removeLeftovers(deps.scratchDir, deps.runtimeDir, new Set(deps.views.list().map((v) => v.operationId)), log).catch(() => undefined);
    log.info({ vm, operationId }, 'shut-off view closed');
  }
}
