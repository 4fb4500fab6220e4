/**
 * `kvmctl failover NAME [--point ID] [--force]`: the replica's copy becomes
 * the running VM. CHECK asks the source host whether the VM still runs there
 * (split-brain.ts: refused while it does, and while the host cannot be
 * reached unless --force). A planned failover (the source found shut off, no
 * --point) first runs a final offline sync original -> copy (EQUAL): the copy
 * starts with the original's last writes, and equal to it. With --point,
 * RESTORE rolls the shut-off copy back to that restore point (the
 * points/restore logic of vm-points.ts: that point and the newer ones are
 * used up). START starts it under the copy's operation lock — after EQUAL,
 * and when every disk of the copy is qcow2, paused, with a checkpoint made
 * before it runs (failover-checkpoint.ts), so that failback can send what
 * the copy's dirty bitmap marks. Then, in one transaction, the replica is
 * recorded as failed over — direction reverse, schedule paused, what the
 * source was found to be (the failback warns when it crashed or could not
 * be reached), the checkpoint or why there is none — and the operation is in
 * the history like a sync. EQUAL is in failover-equal.ts; the copy's
 * shut-off check, RESTORE and START are in failover-start.ts.
 */
import { failedPrecondition } from '../../shared/errors.js';
import type { AgentCapability } from '../../shared/capabilities.js';
import type { ReplicaKey } from '../history/live-replica-store.js';
import { underLock } from '../operations/hold-lock.js';
import { OperationRun, type OperationDeps } from '../operations/operation-run.js';
import type { VmPoint } from '../operations/points/vm-points.js';
import type { HostSession } from '../transport/host-session.js';
import { changedSinceEqual, equalStep, type EqualImages, type EqualOutcome } from './failover-equal.js';
import { requireShutOffCopy, restoreToPoint, startCopy, type StartedCopy } from './failover-start.js';
import type { FailoverStore, SourceAtFailover } from './failover-store.js';
import { openRecoverySession } from './recovery-session.js';
import { withReplicaClaim } from './replica-claim.js';
import type { Replica, ReplicaStore } from './replica-store.js';
import { decideFailover, probeSource, type FailoverVerdict } from './split-brain.js';

/** What a failover, failback or test failover needs from its command. */
export interface RecoveryDeps extends OperationDeps {
  replicas: ReplicaStore;
  failovers: FailoverStore;
  /** --yes: never ask. */
  yes: boolean;
  /** --json: no prompt is possible (what would ask needs --yes). */
  json: boolean;
}

/** What the user asked for. */
export interface FailoverRequest {
  replica: string;
  /** --point: the restore point to bring the copy to first; absent = the copy as last synced. */
  point?: string;
  /** --force: go ahead when the source host cannot be reached. */
  force: boolean;
}

/** Refuses a replica that cannot fail over: already failed over, or never copied. */
export function requireActiveCopy(replica: Replica, verb: string): void {
  if (replica.lifecycle === 'failed-over') {
    throw failedPrecondition(
      `replica ${replica.name} is failed over already: ${replica.destVm} on ${replica.to} is the running VM (kvmctl failback ${replica.name} brings it home)`,
    );
  }
  if (replica.seededAt === null) throw failedPrecondition(`replica ${replica.name} has no copy yet (its first run never succeeded): nothing to ${verb}`);
}

/** The live-replica key of the way back: the copy on its host as the source, the original as the destination. */
export function reverseKey(replica: Pick<Replica, 'vm' | 'from' | 'destVm' | 'to'>): ReplicaKey {
  return { sourceHost: replica.to, vm: replica.destVm, destHost: replica.from, destVm: replica.vm };
}

/** Why a failover that is not planned (source shut off, no --point) makes no checkpoint. */
export function unplannedNoCheckpoint(source: string, point: string | undefined, replica: Pick<Replica, 'vm' | 'from'>): string {
  if (point !== undefined) return `the copy started from restore point ${point}, not equal to the original`;
  if (source === 'crashed') return `${replica.vm} had crashed on ${replica.from}: it may hold writes the copy never saw`;
  if (source === 'unreachable') return `${replica.from} could not be reached: the original could not be made equal to the copy`;
  if (source === 'absent') return `there was no ${replica.vm} on ${replica.from} to make equal to the copy`;
  return '';
}

/** Runs the failover; resolves with the exit code. */
export async function runFailover(req: FailoverRequest, deps: RecoveryDeps): Promise<number> {
  const replica = deps.replicas.get(req.replica);
  requireActiveCopy(replica, 'fail over to');
  return withReplicaClaim(deps.replicas, replica.name, () => failoverClaimed(deps.replicas.get(replica.name), req, deps));
}

/**
 * CHECK: is the VM still running on the source host? The probe goes into the
 * history; the verdict refuses a running source (split brain), and a host
 * that cannot be reached unless --force, and says on whose word the
 * failover goes ahead: a warning when the original may hold writes the copy
 * never saw.
 */
async function checkSource(replica: Replica, req: FailoverRequest, op: OperationRun, deps: RecoveryDeps): Promise<FailoverVerdict> {
  const { engine, options, reporter, signal } = deps;
  op.step('CHECK', `is ${replica.vm} still running on ${replica.from}?`);
  const probe = await probeSource(engine, options, replica.from, replica.vm, signal);
  deps.store.event(op.id, 'source', probe);
  const verdict = decideFailover(probe, req.force, { vm: replica.vm, from: replica.from, replica: replica.name });
  if (verdict.source === 'shutoff' || verdict.source === 'absent') reporter.info(`  ${verdict.note}`);
  else reporter.warn(verdict.note);
  return verdict;
}

/** What the copy's host must offer: RESTORE reads restore points, EQUAL stats images. */
function copyHostNeeds(req: FailoverRequest, planned: boolean): AgentCapability[] {
  return [
    'domain.describe',
    'domain.lifecycle',
    'transfer.lock',
    ...(req.point !== undefined ? (['transfer.restore-points'] as const) : []),
    ...(planned ? (['disk.stat'] as const) : []),
  ];
}

/**
 * Records, in one transaction, that the replica is failed over — what the
 * source was found to be, the restore point, whether the schedule was paused
 * before (failback --switch restores that), the checkpoint or why there is
 * none — and turns its roles: direction reverse, lifecycle failed-over,
 * schedule paused.
 */
function recordFailedOver(replica: Replica, op: OperationRun, source: SourceAtFailover, point: VmPoint | undefined, started: StartedCopy, deps: RecoveryDeps): void {
  const { checkpoint, noCheckpoint } = started;
  const at = new Date().toISOString();
  deps.replicas.transaction(() => {
    deps.failovers.recordFailover({
      replica: replica.name,
      operationId: op.id,
      at,
      source,
      point: point?.id ?? null,
      pausedBefore: replica.paused,
      checkpoint,
      noCheckpoint: checkpoint === null ? noCheckpoint : '',
    });
    deps.replicas.setRoles(replica.name, { direction: 'reverse', lifecycle: 'failed-over', paused: true });
  });
  deps.reporter.info(
    `  ${replica.destVm} is running on ${replica.to}; replica ${replica.name} is failed over (its schedule paused; kvmctl failback ${replica.name} brings it home)`,
  );
}

/** The failover's result line: the copy now running, what the source was, and which delta failback will use. */
function failoverResult(
  replica: Replica,
  op: OperationRun,
  source: SourceAtFailover,
  point: VmPoint | undefined,
  equal: EqualImages | undefined,
  started: StartedCopy,
): Record<string, unknown> {
  const { checkpoint, noCheckpoint } = started;
  return {
    ok: true,
    operation: 'failover',
    id: op.id,
    replica: replica.name,
    vm: replica.destVm,
    host: replica.to,
    source: { vm: replica.vm, host: replica.from, state: source },
    point: point?.id ?? null,
    ...(equal && { finalSync: equal.syncId }),
    checkpoint,
    failbackDelta: checkpoint !== null ? 'bitmap' : 'hash',
    ...(checkpoint === null && { noCheckpoint }),
    lifecycle: 'failed-over',
    paused: true,
    bytesOnWire: op.bytesOnWire,
    seconds: op.seconds(),
  };
}

/**
 * The failover, holding the replica's claim: CHECK the source, EQUAL when
 * planned, then under the copy's operation lock RESTORE (--point) and START,
 * and the record of it. The sessions close and the lock is released however
 * it ends.
 */
async function failoverClaimed(replica: Replica, req: FailoverRequest, deps: RecoveryDeps): Promise<number> {
  requireActiveCopy(replica, 'fail over to');
  const op = new OperationRun(deps, { kind: 'failover', vm: replica.vm, destVm: replica.destVm, from: replica.from, to: replica.to });
  let session: HostSession | undefined;
  let home: HostSession | undefined;
  try {
    const verdict = await checkSource(replica, req, op, deps);
    const planned = verdict.source === 'shutoff' && req.point === undefined;
    session = await openRecoverySession(deps, replica.to, copyHostNeeds(req, planned), op.id);
    const dst = session;
    let ready: EqualOutcome = { equal: undefined, noCheckpoint: unplannedNoCheckpoint(verdict.source, req.point, replica) };
    if (planned) {
      home = await openRecoverySession(deps, replica.from, ['domain.describe', 'disk.stat'], op.id);
      ready = await equalStep(replica, op, home, dst, deps);
    }
    return await underLock(dst, replica.destVm, op.id, `failover of replica ${replica.name}`, async () => {
      const described = await requireShutOffCopy(dst, replica, deps.signal);
      const point = req.point !== undefined ? await restoreToPoint(dst, described, replica, req.point, op, deps) : undefined;
      // Both sides still as the final sync left them (nothing started or wrote either since)?
      if (ready.equal && ready.noCheckpoint === '' && home) ready.noCheckpoint = await changedSinceEqual(home, dst, ready.equal, deps.signal);
      const started = await startCopy(replica, op, dst, reverseKey(replica), ready, deps);
      recordFailedOver(replica, op, verdict.source, point, started, deps);
      return op.succeed(failoverResult(replica, op, verdict.source, point, ready.equal, started));
    });
  } catch (thrown) {
    return await op.fail(thrown);
  } finally {
    await session?.close().catch(() => undefined);
    await home?.close().catch(() => undefined);
    await op.close();
  }
}
