/**
 * The checkpoint a planned failover makes of the copy at its first instant,
 * so that failback can send what the copy's dirty bitmap marks instead of
 * hashing both disks whole (failback-delta.ts says when that is sound).
 *
 * The copy is started with its CPUs paused (StartDomain paused): the guest
 * has not written yet. A point-in-time view with changed-block tracking
 * (OpenLiveView, cbt on, no freeze: nothing runs to freeze) creates the
 * checkpoint `kvmclone.<replica>.<n>` of the reverse pair — the copy as the
 * source, the original as the destination — in the same way a live sync
 * makes its checkpoints; the view is ended at once, unread. Only qcow2
 * images hold dirty bitmaps (libvirt 9.0), so every disk of the copy must be
 * qcow2.
 */
import { KvmcloneError } from '../../shared/errors.js';
import type { DescribeDomainResponse__Output } from '../../shared/generated/kvmclone/agent/v1/DescribeDomainResponse.js';
import type { LiveViewEvent__Output } from '../../shared/generated/kvmclone/agent/v1/LiveViewEvent.js';
import { firstMessage } from '../operations/live/live-path.js';
import { imageDisks } from '../operations/points/vm-points.js';
import type { HostSession } from '../transport/host-session.js';

/**
 * Why the copy cannot get a checkpoint at its first instant, or '' when it
 * can: every disk qcow2, and an agent that starts a VM paused and opens
 * live views.
 */
export function checkpointBlocker(copy: DescribeDomainResponse__Output, host: string, capabilities: readonly string[]): string {
  const disks = imageDisks(copy);
  if (disks.length === 0) return 'the copy has no file-backed disk';
  const notQcow2 = disks.filter((d) => d.format !== 'qcow2').map((d) => `${d.target} (${d.format || 'raw'})`);
  if (notQcow2.length > 0) return `disk ${notQcow2.join(', ')} of the copy is not qcow2: dirty bitmaps live in qcow2 images only`;
  const missing = (['domain.start-paused', 'transfer.live'] as const).filter((c) => !capabilities.includes(c));
  if (missing.length > 0) return `the agent on ${host} lacks ${missing.join(', ')} (upgrade it)`;
  return '';
}

/** The checkpoint made, with its XML (to redefine it if libvirt loses its metadata). */
export interface FirstInstantCheckpoint {
  checkpoint: string;
  xml: string;
}

const VIEW_END_WAIT_MS = 30_000;

/**
 * Makes the checkpoint of the paused `vm` on `session`'s host and ends the
 * view; resolves once the agent dropped it (a later live sync of the VM
 * would otherwise find a view still open). Throws when no checkpoint was made.
 */
export async function firstInstantCheckpoint(session: HostSession, vm: string, operationId: string, replicaId: string, signal: AbortSignal): Promise<FirstInstantCheckpoint> {
  const call = session.clients.transfer.openLiveView({ vmName: vm, operationId, replicaId, cbt: true, quiesce: 'QUIESCE_OFF', incrementalFrom: '', incrementalFromXml: '' });
  let view: LiveViewEvent__Output;
  try {
    view = await firstMessage(call, session, signal);
  } finally {
    call.on('error', () => undefined);
    call.cancel();
  }
  // Cancelling ends the backup job on the agent; wait until it let the view go.
  const deadline = Date.now() + VIEW_END_WAIT_MS;
  for (;;) {
    try {
      await session.call(session.clients.transfer, session.clients.transfer.describeLiveView, { operationId }, signal);
    } catch (err) {
      if (err instanceof KvmcloneError && err.code === 'NOT_FOUND') break;
      throw err;
    }
    if (Date.now() > deadline)
      throw new KvmcloneError('DEADLINE_EXCEEDED', `${session.host}: the view that made the checkpoint of ${vm} did not end within ${VIEW_END_WAIT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
  if (view.checkpoint === '') throw new KvmcloneError('FAILED_PRECONDITION', `${session.host}: no checkpoint of ${vm} was made${view.deltaReason ? ` (${view.deltaReason})` : ''}`);
  return { checkpoint: view.checkpoint, xml: view.checkpointXml };
}
