/**
 * The copy's side of a failover, under its operation lock: the copy must
 * still be shut off; RESTORE (with --point) rolls it back to a restore point
 * (the points/restore logic of vm-points.ts); START starts it — paused and
 * checkpointed at its first instant when EQUAL left it equal to the original
 * (failover-checkpoint.ts), so that failback can send what its dirty bitmap
 * marks; plainly otherwise, and failback will compare hashes.
 */
import { domainStateName } from '../operations/domain-state.js';
import { failedPrecondition, KvmcloneError, messageOf } from '../../shared/errors.js';
import type { DescribeDomainResponse__Output } from '../../shared/generated/kvmclone/agent/v1/DescribeDomainResponse.js';
import { LiveReplicaStore, type ReplicaKey } from '../history/live-replica-store.js';
import type { OperationRun } from '../operations/operation-run.js';
import { findVmPoint, listVmPoints, restoreDisk, type VmPoint } from '../operations/points/vm-points.js';
import type { HostSession } from '../transport/host-session.js';
import { firstInstantCheckpoint } from './failover-checkpoint.js';
import type { EqualImages, EqualOutcome } from './failover-equal.js';
import type { RecoveryDeps } from './failover.js';
import { describeVm } from './recovery-session.js';
import type { Replica } from './replica-store.js';

/** How long resuming the paused copy may take; it is not cut short by an interrupt. */
const RESUME_MS = 30_000;

/** The checkpoint START made of the copy, or null and why there is none. */
export interface StartedCopy {
  checkpoint: string | null;
  noCheckpoint: string;
}

/** What a START with a checkpoint works on: the copy, the way back's live-replica state, and EQUAL's images. */
interface CheckpointStart {
  replica: Replica;
  op: OperationRun;
  dst: HostSession;
  liveReplicas: LiveReplicaStore;
  back: ReplicaKey;
  equal: EqualImages;
}

/**
 * The copy must be shut off: one started outside kvmctl failover is already
 * in use, and is neither restored nor started over. Resolves with its
 * description (RESTORE lists its points from it).
 */
export async function requireShutOffCopy(dst: HostSession, replica: Replica, signal: AbortSignal): Promise<DescribeDomainResponse__Output> {
  const described = await describeVm(dst, replica.destVm, signal);
  if (described.domain?.state !== 'DOMAIN_STATE_SHUTOFF') {
    throw failedPrecondition(
      `${replica.destVm} on ${replica.to} is ${domainStateName(described.domain?.state)}, not shut off: it was started outside kvmctl failover; shut it down, or use it as it is`,
    );
  }
  return described;
}

/**
 * RESTORE (--point): the copy's disks back to restore point `pointId`, each
 * verified. Only a point that covers every disk brings the VM back whole;
 * it and the newer points are used up. Resolves with the point.
 */
export async function restoreToPoint(
  dst: HostSession,
  described: DescribeDomainResponse__Output,
  replica: Replica,
  pointId: string,
  op: OperationRun,
  { reporter, signal }: RecoveryDeps,
): Promise<VmPoint> {
  const points = await listVmPoints(dst, described, signal);
  const point = findVmPoint(points, pointId, replica.destVm);
  if (!point.complete) throw failedPrecondition(`restore point ${point.id} of ${replica.destVm} does not cover every disk: it cannot bring the VM back whole`);
  const newer = points.slice(0, points.indexOf(point));
  op.step('RESTORE', `${replica.destVm} back to point ${point.id} (${new Date(point.createdUnix * 1000).toISOString()}); it and ${newer.length} newer point(s) are used up`);
  op.phase = 'run';
  for (const d of point.disks) {
    const digest = await restoreDisk(dst, { targetPath: d.path, pointId: d.pointId, destVm: replica.destVm, operationId: op.id }, signal, (e) => {
      if (e.phase === 'apply') reporter.progress(`${d.target} restore`, e.pointsDone, e.pointsTotal);
    });
    reporter.itemDone(`${d.target} restore`, `${d.path} back to point ${d.pointId}, verified ${digest.slice(0, 23)}…`);
  }
  return point;
}

/**
 * START of a planned failover: the copy started paused, checkpointed at its
 * first instant (recorded for the way back, older ones pruned) and resumed —
 * resumed however the checkpoint went, even when the command is
 * interrupted: the copy is the VM in service now. Resolves with the
 * checkpoint, or null and why there is none.
 */
async function startWithCheckpoint(start: CheckpointStart, deps: RecoveryDeps): Promise<StartedCopy> {
  const { replica, op, dst } = start;
  const { signal } = deps;
  const paused = await dst.call(dst.clients.domain, dst.clients.domain.startDomain, { name: replica.destVm, operationId: op.id, paused: true }, signal);
  if (paused.domain?.state !== 'DOMAIN_STATE_PAUSED')
    throw new KvmcloneError('INTERNAL', `${replica.destVm} on ${replica.to} is ${domainStateName(paused.domain?.state)} after a paused start`);
  const outcome = await checkpointFirstInstant(start, deps).catch((err: unknown) =>
    signal.aborted ? { interrupted: err } : { checkpoint: null, noCheckpoint: `no checkpoint of the copy could be made (${messageOf(err)})` },
  );
  // However the checkpoint went, interrupted included: the copy is the VM in service now.
  const resumed = await dst
    .call(dst.clients.domain, dst.clients.domain.resumeDomain, { name: replica.destVm, operationId: op.id }, AbortSignal.timeout(RESUME_MS))
    .catch((err: unknown) => {
      throw new KvmcloneError(
        'INTERNAL',
        `${replica.destVm} on ${replica.to} was started paused and could not be resumed (${messageOf(err)}): resume it with virsh resume ${replica.destVm}`,
      );
    });
  if (resumed.domain?.state !== 'DOMAIN_STATE_RUNNING')
    throw new KvmcloneError('INTERNAL', `${replica.destVm} on ${replica.to} is ${domainStateName(resumed.domain?.state)} after resume`);
  if ('interrupted' in outcome) throw outcome.interrupted;
  return outcome;
}

/**
 * The checkpoint of the paused copy's first instant, confirmed for the way
 * back against the original's images EQUAL left; the copy's checkpoints of
 * an earlier failover of this replica are no base any more and go (best
 * effort). Rejects when no checkpoint could be made.
 */
async function checkpointFirstInstant({ replica, op, dst, liveReplicas, back, equal }: CheckpointStart, { reporter, signal }: RecoveryDeps): Promise<StartedCopy> {
  const replicaId = liveReplicas.replicaId(back);
  const made = await firstInstantCheckpoint(dst, replica.destVm, op.id, replicaId, signal);
  liveReplicas.confirm(back, { checkpoint: made.checkpoint, checkpointXml: made.xml, images: equal.original });
  reporter.info(`  checkpoint ${made.checkpoint} of ${replica.destVm} made before its guest ran: failback can send what its dirty bitmap marks`);
  // A checkpoint of an earlier failover of this replica is no base any more.
  const pruned = await dst
    .call(dst.clients.transfer, dst.clients.transfer.pruneCheckpoints, { vmName: replica.destVm, replicaId, keep: made.checkpoint }, signal)
    .catch(() => undefined);
  if (pruned && pruned.deleted.length > 0) reporter.info(`  deleted older checkpoint(s) of ${replica.destVm}: ${pruned.deleted.join(', ')}`);
  return { checkpoint: made.checkpoint, noCheckpoint: '' };
}

/**
 * START: the copy starts under its operation lock (the agent starts it only
 * with this operation's id) — with a checkpoint of its first instant when
 * EQUAL left it equal to the original. Without one, a checkpoint an earlier
 * failover confirmed is forgotten (it says nothing of this one), and
 * failback will compare hashes. `back` is the replica's way back
 * (reverseKey). Resolves with the checkpoint, or null and why there is none.
 */
export async function startCopy(replica: Replica, op: OperationRun, dst: HostSession, back: ReplicaKey, ready: EqualOutcome, deps: RecoveryDeps): Promise<StartedCopy> {
  const { reporter, signal } = deps;
  const { equal } = ready;
  let { noCheckpoint } = ready;
  const liveReplicas = new LiveReplicaStore(deps.store.database);
  let checkpoint: string | null = null;
  if (equal && noCheckpoint === '') {
    op.step('START', `${replica.destVm} on ${replica.to}, paused until a checkpoint of its first instant is made`);
    op.phase = 'run';
    ({ checkpoint, noCheckpoint } = await startWithCheckpoint({ replica, op, dst, liveReplicas, back, equal }, deps));
  } else {
    op.step('START', `${replica.destVm} on ${replica.to}`);
    op.phase = 'run';
    // The copy's lock is ours: the agent starts it only with this operation's id.
    const started = await dst.call(dst.clients.domain, dst.clients.domain.startDomain, { name: replica.destVm, operationId: op.id }, signal);
    if (started.domain?.state !== 'DOMAIN_STATE_RUNNING') {
      throw new KvmcloneError('INTERNAL', `${replica.destVm} on ${replica.to} is ${domainStateName(started.domain?.state)} after start`);
    }
  }
  if (checkpoint === null) {
    // A checkpoint an earlier failover confirmed says nothing of this one.
    if (liveReplicas.get(back)) liveReplicas.forgetCheckpoint(back);
    reporter.info(`  failback will compare hashes: ${noCheckpoint}`);
  }
  return { checkpoint, noCheckpoint };
}
