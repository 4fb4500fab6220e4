/**
 * A failback under way (failback.ts), and what its steps share: the agent
 * sessions it opens (all closed when it ends), the syncs it runs from the
 * copy back to the original, and the copy's checkpoints of the way back,
 * which go before --switch stops the copy or when the delta decision
 * refused them as a base.
 */
import { confirm } from '../cli/confirm.js';
import { EXIT_OK } from '../cli/exit-codes.js';
import { formatBytes } from '../cli/reporter.js';
import type { LiveReplicaStore, ReplicaKey } from '../history/live-replica-store.js';
import type { OperationRun } from '../operations/operation-run.js';
import { runSync } from '../operations/sync/run-sync.js';
import type { HostSession } from '../transport/host-session.js';
import type { FailbackDelta } from './failback-delta.js';
import type { FailbackRequest } from './failback.js';
import type { FailoverRecord } from './failover-store.js';
import type { RecoveryDeps } from './failover.js';
import { nestedError, nestedReporter } from './nested-reporter.js';
import { openRecoverySession } from './recovery-session.js';
import type { Replica } from './replica-store.js';

/** One sync a failback ran. */
export interface FailbackSync {
  id: string;
  live: boolean;
  delta: string;
  bytesOnWire: number;
  seconds: number;
}

/** A failback under way: what it brings back, and what its steps have opened, run and decided so far. */
export interface FailbackRun {
  replica: Replica;
  req: FailbackRequest;
  deps: RecoveryDeps;
  op: OperationRun;
  /** How the failover left the source; undefined when it is not recorded. */
  failover: FailoverRecord | undefined;
  /** The sessions open now, closed when the failback ends. */
  sessions: HostSession[];
  /** The syncs run so far, in order. */
  syncs: FailbackSync[];
  liveReplicas: LiveReplicaStore;
  /** The live-replica key of the way back (reverseKey). */
  back: ReplicaKey;
  /** How the changed blocks are found, once CHECK decided it. */
  decision: FailbackDelta | undefined;
}

/** Opens a session on `host` for the failback's operation, closed with the others when the failback ends. */
export async function openFailbackSession(run: FailbackRun, host: string): Promise<HostSession> {
  const s = await openRecoverySession(run.deps, host, ['domain.describe', 'domain.lifecycle', 'transfer.lock', 'disk.stat'], run.op.id);
  run.sessions.push(s);
  return s;
}

/** One sync from the copy to the original (live when the copy runs; by the bitmap when that was decided); throws its error. */
export async function syncBack(run: FailbackRun, live: boolean): Promise<void> {
  const { replica, deps, op, decision } = run;
  const { reporter, signal } = deps;
  const nested = nestedReporter(reporter);
  const code = await runSync(
    { vm: replica.destVm, from: replica.to, to: replica.from, destVm: replica.vm, dryRun: false, ...(live && { live: { quiesce: 'try', cbt: decision?.delta === 'bitmap' } }) },
    { ...deps, reporter: nested, confirmDiskChanges: (question) => confirm(question, { yes: deps.yes, json: deps.json, signal, unattended: false }) },
  );
  const r = nested.captured;
  if (code !== EXIT_OK) throw nestedError(r, `the sync back to ${replica.from} failed (exit ${code})`);
  const sync: FailbackSync = {
    id: typeof r?.id === 'string' ? r.id : '',
    live,
    delta: typeof r?.delta === 'string' ? r.delta : 'hash',
    bytesOnWire: typeof r?.bytesOnWire === 'number' ? r.bytesOnWire : 0,
    seconds: typeof r?.seconds === 'number' ? r.seconds : 0,
  };
  run.syncs.push(sync);
  op.bytesOnWire += sync.bytesOnWire;
  reporter.info(`  sync ${sync.id}: ${formatBytes(sync.bytesOnWire)} on the wire (${live ? 'from a point-in-time view of the running copy' : 'offline'}, ${sync.delta} delta)`);
}

/**
 * The copy's checkpoints of the way back go (best effort), and the store
 * forgets them: before --switch stops the copy (their bitmaps sit in the
 * copy's qcow2 images, and the final offline sync copies those files into
 * the original's), and when the decision refused them as a base. libvirt
 * 9.0 deletes checkpoints of running domains only: a shut-off copy keeps
 * them until the next failover of the replica deletes them (it prunes
 * every older checkpoint of the way back once it made its own).
 */
export async function dropCheckpoints(run: FailbackRun, away: HostSession, copyRunning: boolean): Promise<void> {
  const { replica, deps, liveReplicas, back } = run;
  const { reporter, signal } = deps;
  const state = liveReplicas.get(back);
  if (state === undefined) return;
  if (!copyRunning) {
    if (state.checkpoint !== '') {
      reporter.info(
        `  ${replica.destVm} is shut off: its checkpoint ${state.checkpoint} stays (libvirt deletes checkpoints of running VMs only; the next failover of ${replica.name} deletes it), and its unused bitmap goes into ${replica.vm}'s images with the final sync`,
      );
    }
  } else {
    try {
      const pruned = await away.call(away.clients.transfer, away.clients.transfer.pruneCheckpoints, { vmName: replica.destVm, replicaId: state.replicaId, keep: '' }, signal);
      if (pruned.deleted.length > 0) reporter.info(`  deleted checkpoint(s) of ${replica.destVm}: ${pruned.deleted.join(', ')}`);
    } catch (err) {
      reporter.warn(
        `could not delete the checkpoints of ${replica.destVm} on ${replica.to} (${err instanceof Error ? err.message : String(err)}); the next failover of ${replica.name} deletes them`,
      );
    }
  }
  liveReplicas.forgetCheckpoint(back);
}
