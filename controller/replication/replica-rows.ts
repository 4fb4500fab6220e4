/**
 * How the replica tables' rows read in TypeScript: the columns as stored
 * (snake_case, SQLite's 0/1 for flags, the claim in four nullable columns)
 * and their mapping to the Replica and ReplicaRun objects ReplicaStore
 * (replica-store.ts) hands out. Kept apart from the store's SQL so that the
 * store reads as its queries and the shape of a row is in one place.
 */
import type { DeltaMethod, Replica, ReplicaDirection, ReplicaLifecycle, ReplicaRun, RunOutcome } from './replica-store.js';

/** A row of the replicas table, as better-sqlite3 returns it. */
export interface ReplicaRow {
  name: string;
  vm: string;
  source_host: string;
  dest_host: string;
  dest_vm: string;
  target_dir: string | null;
  every_s: number;
  keep: number | null;
  live: number;
  paused: number;
  direction: ReplicaDirection;
  lifecycle: ReplicaLifecycle;
  created_at: string;
  updated_at: string;
  seeded_at: string | null;
  consecutive_failures: number;
  next_attempt_at: string | null;
  last_error: string | null;
  alert_failing: number;
  alert_breached: number;
  claim_host: string | null;
  claim_pid: number | null;
  claim_start: string | null;
  claim_at: string | null;
}

/** A row of the replica_runs table. */
export interface RunRow {
  replica: string;
  operation_id: string | null;
  kind: 'clone' | 'sync';
  started_at: string;
  finished_at: string;
  seconds: number;
  bytes_on_wire: number;
  delta: DeltaMethod | null;
  outcome: RunOutcome;
  error_code: string | null;
  error_message: string | null;
}

/** A replicas row as the Replica the rest of kvmctl reads: flags as booleans, the claim as one object or null. */
export function toReplica(r: ReplicaRow): Replica {
  return {
    name: r.name,
    vm: r.vm,
    from: r.source_host,
    to: r.dest_host,
    destVm: r.dest_vm,
    targetDir: r.target_dir,
    everySeconds: r.every_s,
    keep: r.keep,
    live: r.live === 1,
    paused: r.paused === 1,
    direction: r.direction,
    lifecycle: r.lifecycle,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    seededAt: r.seeded_at,
    consecutiveFailures: r.consecutive_failures,
    nextAttemptAt: r.next_attempt_at,
    lastError: r.last_error,
    alerts: { failing: r.alert_failing === 1, breached: r.alert_breached === 1 },
    claim: r.claim_pid === null || r.claim_host === null ? null : { host: r.claim_host, pid: r.claim_pid, startTicks: r.claim_start ?? '', at: r.claim_at ?? '' },
  };
}

/** A replica_runs row as a ReplicaRun. */
export function toRun(r: RunRow): ReplicaRun {
  return {
    replica: r.replica,
    operationId: r.operation_id,
    kind: r.kind,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    seconds: r.seconds,
    bytesOnWire: r.bytes_on_wire,
    delta: r.delta,
    outcome: r.outcome,
    errorCode: r.error_code,
    errorMessage: r.error_message,
  };
}
