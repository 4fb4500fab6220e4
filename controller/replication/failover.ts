/**
 * `kvmctl failover NAME [--point ID] [--force]`: the replica's copy becomes
 * the running VM. CHECK asks the source host whether the VM still runs there
 * (split-brain.ts: refused while it does, and while the host cannot be
 * reached unless --force); with --point, RESTORE rolls the shut-off copy back
 * to that restore point (the points/restore logic of vm-points.ts: that point
 * and the newer ones are used up); START starts it under the copy's operation
 * lock. Then, in one transaction, the replica is recorded as failed over —
 * direction reverse, schedule paused, what the source was found to be (the
 * failback warns when it crashed or could not be reached) — and the
 * operation is in the history like a sync.
 */
import { failedPrecondition, KvmcloneError } from '../../shared/errors.js';
import { holdLock } from '../operations/hold-lock.js';
import { OperationRun, type OperationDeps } from '../operations/operation-run.js';
import { findVmPoint, listVmPoints, restoreDisk, type VmPoint } from '../operations/points/vm-points.js';
import { HostSession } from '../transport/host-session.js';
import type { FailoverStore } from './failover-store.js';
import { withReplicaClaim } from './replica-claim.js';
import type { Replica, ReplicaStore } from './replica-store.js';
import { decideFailover, probeSource } from './split-brain.js';

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

function stateName(state: string | undefined): string {
  return (state ?? 'unknown').replace('DOMAIN_STATE_', '').toLowerCase();
}

/** Refuses a replica that cannot fail over: already failed over, or never copied. */
export function requireActiveCopy(replica: Replica, verb: string): void {
  if (replica.lifecycle === 'failed-over') {
    throw failedPrecondition(`replica ${replica.name} is failed over already: ${replica.destVm} on ${replica.to} is the running VM (kvmctl failback ${replica.name} brings it home)`);
  }
  if (replica.seededAt === null) throw failedPrecondition(`replica ${replica.name} has no copy yet (its first run never succeeded): nothing to ${verb}`);
}

/** Runs the failover; resolves with the exit code. */
export async function runFailover(req: FailoverRequest, deps: RecoveryDeps): Promise<number> {
  const replica = deps.replicas.get(req.replica);
  requireActiveCopy(replica, 'fail over to');
  return withReplicaClaim(deps.replicas, replica.name, () => failoverClaimed(deps.replicas.get(replica.name), req, deps));
}

async function failoverClaimed(replica: Replica, req: FailoverRequest, deps: RecoveryDeps): Promise<number> {
  const { engine, options, reporter, signal } = deps;
  requireActiveCopy(replica, 'fail over to');
  const op = new OperationRun(deps, { kind: 'failover', vm: replica.vm, destVm: replica.destVm, from: replica.from, to: replica.to });
  let session: HostSession | undefined;
  try {
    op.step('CHECK', `is ${replica.vm} still running on ${replica.from}?`);
    const probe = await probeSource(engine, options, replica.from, replica.vm, signal);
    deps.store.event(op.id, 'source', probe);
    const verdict = decideFailover(probe, req.force, { vm: replica.vm, from: replica.from, replica: replica.name });
    if (verdict.source === 'shutoff' || verdict.source === 'absent') reporter.info(`  ${verdict.note}`);
    else reporter.warn(verdict.note);

    session = await HostSession.open(engine, replica.to, {
      agentSocket: options.agentSocket,
      callMs: options.timeouts.callMs,
      signal,
      needs: ['domain.describe', 'domain.lifecycle', 'transfer.lock', ...(req.point !== undefined ? (['transfer.restore-points'] as const) : [])],
      operationId: op.id,
    });
    const dst = session;
    const lock = await holdLock(dst, replica.destVm, op.id, `failover of replica ${replica.name}`);
    try {
      const described = await dst.call(dst.clients.domain, dst.clients.domain.describeDomain, { name: replica.destVm }, signal);
      if (described.domain?.state !== 'DOMAIN_STATE_SHUTOFF') {
        throw failedPrecondition(`${replica.destVm} on ${replica.to} is ${stateName(described.domain?.state)}, not shut off: it was started outside kvmctl failover; shut it down, or use it as it is`);
      }
      let point: VmPoint | undefined;
      if (req.point !== undefined) {
        const points = await listVmPoints(dst, described, signal);
        point = findVmPoint(points, req.point, replica.destVm);
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
      }

      op.step('START', `${replica.destVm} on ${replica.to}`);
      op.phase = 'run';
      // The copy's lock is ours: the agent starts it only with this operation's id.
      const started = await dst.call(dst.clients.domain, dst.clients.domain.startDomain, { name: replica.destVm, operationId: op.id }, signal);
      if (started.domain?.state !== 'DOMAIN_STATE_RUNNING') {
        throw new KvmcloneError('INTERNAL', `${replica.destVm} on ${replica.to} is ${stateName(started.domain?.state)} after start`);
      }
      const at = new Date().toISOString();
      deps.replicas.transaction(() => {
        deps.failovers.recordFailover({ replica: replica.name, operationId: op.id, at, source: verdict.source, point: point?.id ?? null, pausedBefore: replica.paused });
        deps.replicas.setRoles(replica.name, { direction: 'reverse', lifecycle: 'failed-over', paused: true });
      });
      reporter.info(`  ${replica.destVm} is running on ${replica.to}; replica ${replica.name} is failed over (its schedule paused; kvmctl failback ${replica.name} brings it home)`);
      return op.succeed({
        ok: true,
        operation: 'failover',
        id: op.id,
        replica: replica.name,
        vm: replica.destVm,
        host: replica.to,
        source: { vm: replica.vm, host: replica.from, state: verdict.source },
        point: point?.id ?? null,
        lifecycle: 'failed-over',
        paused: true,
        bytesOnWire: 0,
        seconds: op.seconds(),
      });
    } finally {
      lock.release();
    }
  } catch (thrown) {
    return await op.fail(thrown);
  } finally {
    await session?.close().catch(() => undefined);
    await op.close();
  }
}
