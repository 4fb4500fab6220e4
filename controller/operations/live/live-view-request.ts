/**
 * The OpenLiveView request a live clone or sync sends, and how its answer is
 * told to the user.
 */
import type { LiveViewEvent__Output } from '../../../shared/generated/kvmclone/agent/v1/LiveViewEvent.js';
import type { OpenLiveViewRequest } from '../../../shared/generated/kvmclone/agent/v1/OpenLiveViewRequest.js';
import type { Quiesce } from '../../../shared/generated/kvmclone/agent/v1/Quiesce.js';
import type { HostSession } from '../../transport/host-session.js';
import type { LiveOptions } from '../clone/preflight.js';

const QUIESCE: Record<LiveOptions['quiesce'], Quiesce> = { try: 'QUIESCE_TRY', require: 'QUIESCE_REQUIRE', off: 'QUIESCE_OFF' };

/** The request; `base` is the checkpoint the destination confirmed, for an incremental view. */
export function liveViewRequest(
  vm: string,
  operationId: string,
  replicaId: string,
  options: LiveOptions,
  base: { checkpoint: string; xml: string } | undefined,
): OpenLiveViewRequest {
  return {
    vmName: vm,
    operationId,
    replicaId,
    cbt: options.cbt,
    quiesce: QUIESCE[options.quiesce],
    incrementalFrom: base?.checkpoint ?? '',
    incrementalFromXml: base?.xml ?? '',
  };
}

/**
 * The request of a --flatten copy of a shut-off VM: a view whose disks are
 * served with their chains merged (agent/live/open-shut-off-view.ts); no
 * checkpoint, nothing to freeze.
 */
export function flatViewRequest(vm: string, operationId: string): OpenLiveViewRequest {
  return { vmName: vm, operationId, replicaId: '', cbt: false, quiesce: 'QUIESCE_OFF', incrementalFrom: '', incrementalFromXml: '', shutOff: true };
}

/** One line for the user: the point in time, its consistency, the checkpoint made. */
export function describeConsistency(view: LiveViewEvent__Output, host: string): string {
  if (view.consistency === 'shut-off')
    return `${host}: the VM is shut off; each disk is read with its backing chain merged (qemu-nbd, read-only: it cannot start until the copy is in)`;
  const consistency = view.consistency === 'filesystem' ? 'filesystem-consistent (guest filesystems frozen around it)' : 'crash-consistent (no guest agent froze the filesystems)';
  const checkpoint = view.checkpoint !== '' ? `; checkpoint ${view.checkpoint} made for the next sync` : '';
  const reason = view.deltaReason !== '' ? `; ${view.deltaReason}` : '';
  return `point in time taken on ${host}: ${consistency}${checkpoint}${reason}`;
}

/** Bytes read from each disk of the view so far, by target. */
export async function viewBytesRead(src: HostSession, operationId: string, signal: AbortSignal): Promise<Map<string, number>> {
  const described = await src.call(src.clients.transfer, src.clients.transfer.describeLiveView, { operationId }, signal);
  return new Map(described.disks.map((d) => [d.target, d.bytesRead]));
}
