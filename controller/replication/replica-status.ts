/**
 * Where a replica stands, computed from what the store remembers: its state
 * (ok, late, failing, paused, failed-over), its last successful run, its lag
 * — how old the data on the destination is: now minus the start of the last
 * successful run, or minus the replica's creation while there was none — and
 * whether that lag is within its RPO (the interval, plus a grace for the
 * timer and the run itself). `kvmctl status` shows it; notifications and the
 * exit code follow it.
 */
import type { DeltaMethod, Replica, ReplicaRun, ReplicaStore } from './replica-store.js';
import { nextRunAt } from './schedule.js';

/** A replica's state, most pressing first: failed-over and paused say why nothing runs; failing beats late. */
export type ReplicaState = 'ok' | 'late' | 'failing' | 'paused' | 'failed-over';

/** The last successful run, as status shows it. */
export interface LastSync {
  at: string;
  operationId: string | null;
  kind: 'clone' | 'sync';
  seconds: number;
  bytesOnWire: number;
  delta: DeltaMethod | null;
}

/** One replica's status. */
export interface ReplicaStatus {
  replica: string;
  vm: string;
  from: string;
  to: string;
  destVm: string;
  state: ReplicaState;
  /** False when the lag is past the RPO plus grace (only meaningful when the schedule runs). */
  withinRpo: boolean;
  /** True when the replica counts for the exit code and RPO alerts: its schedule runs. */
  scheduled: boolean;
  rpoSeconds: number;
  lagSeconds: number;
  lastSync: LastSync | null;
  /** When the next run is due (ISO); null when paused or failed over. */
  nextRunAt: string | null;
  consecutiveFailures: number;
  lastError: string | null;
}

/** Computes the status of `replica` at `now` (ms since the epoch). */
export function replicaStatus(replica: Replica, lastSuccess: ReplicaRun | undefined, now: number, graceMs: number): ReplicaStatus {
  const since = Date.parse(lastSuccess?.startedAt ?? replica.createdAt);
  const lagSeconds = Math.max(0, Math.round((now - since) / 1000));
  const scheduled = !replica.paused && replica.lifecycle === 'active';
  const withinRpo = lagSeconds * 1000 <= replica.everySeconds * 1000 + graceMs;
  const state: ReplicaState =
    replica.lifecycle === 'failed-over' ? 'failed-over' : replica.paused ? 'paused' : replica.consecutiveFailures > 0 ? 'failing' : withinRpo ? 'ok' : 'late';
  const next = nextRunAt({ ...replica, lastSuccessAt: lastSuccess?.startedAt });
  return {
    replica: replica.name,
    vm: replica.vm,
    from: replica.from,
    to: replica.to,
    destVm: replica.destVm,
    state,
    withinRpo,
    scheduled,
    rpoSeconds: replica.everySeconds,
    lagSeconds,
    lastSync: lastSuccess
      ? {
          at: lastSuccess.startedAt,
          operationId: lastSuccess.operationId,
          kind: lastSuccess.kind,
          seconds: lastSuccess.seconds,
          bytesOnWire: lastSuccess.bytesOnWire,
          delta: lastSuccess.delta,
        }
      : null,
    nextRunAt: next === undefined ? null : new Date(next).toISOString(),
    consecutiveFailures: replica.consecutiveFailures,
    lastError: replica.lastError,
  };
}

/** True when every scheduled replica is within its RPO (status exits 0). */
export function allWithinRpo(statuses: readonly ReplicaStatus[]): boolean {
  return statuses.every((s) => !s.scheduled || s.withinRpo);
}

/** Every replica with its status at `now`. */
export function currentStatuses(store: ReplicaStore, graceMs: number, now: number = Date.now()): { replica: Replica; status: ReplicaStatus }[] {
  return store.list().map((replica) => ({ replica, status: replicaStatus(replica, store.lastSuccess(replica.name), now, graceMs) }));
}
