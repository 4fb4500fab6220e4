/**
 * Replicas — a VM kept copied to another host on a schedule — in the
 * controller's history database, beside the operations they run: what each
 * replica is (VM, hosts, copy name, interval, restore points to keep, live),
 * its schedule state (paused, consecutive failures, when to try again), which
 * notifications it has already sent, who is running it right now (a claim,
 * so that a second `kvmctl replicate` skips it), and the history of its runs,
 * each linked to the clone or sync operation it was.
 *
 * A replica also has a direction and a lifecycle: `forward` / `active` while
 * the schedule keeps the copy; failover sets `reverse` / `failed-over` and
 * failback --switch sets them back (setRoles), without a schema change (what
 * a failover found and did is in failover-store.ts). Tables are created when missing; later columns are
 * added, never changed. The rows' columns and their mapping to these types
 * are in replica-rows.ts.
 */
import type Database from 'better-sqlite3';
import { alreadyExists, failedPrecondition, notFound } from '../../shared/errors.js';
import { isAlive, type ProcessIdentity } from './process-identity.js';
import { toReplica, toRun, type ReplicaRow, type RunRow } from './replica-rows.js';

/** What the user declares of a replica. */
export interface ReplicaSpec {
  name: string;
  vm: string;
  from: string;
  to: string;
  /** Name of the copy on `to`. */
  destVm: string;
  /** Directory of the copy's disks on `to` (the first run's clone); null = the source's directories. */
  targetDir: string | null;
  everySeconds: number;
  /** Restore points to keep on the destination; null = none. */
  keep: number | null;
  /** Sync a running source from a point-in-time view. */
  live: boolean;
}

/** Which way the copy flows: forward is from → to; failback reverses it. */
export type ReplicaDirection = 'forward' | 'reverse';
/** active: the schedule keeps the copy; failed-over: the copy has become the running VM. */
export type ReplicaLifecycle = 'active' | 'failed-over';

/** The notifications a replica has sent and not yet answered with `recovered`. */
export interface ReplicaAlerts {
  failing: boolean;
  breached: boolean;
}

/** A replica as stored. */
export interface Replica extends ReplicaSpec {
  paused: boolean;
  direction: ReplicaDirection;
  lifecycle: ReplicaLifecycle;
  createdAt: string;
  updatedAt: string;
  /** When the first run's clone made the copy; null until then (the next run clones). */
  seededAt: string | null;
  consecutiveFailures: number;
  /** After a failure: not before this (backoff). */
  nextAttemptAt: string | null;
  lastError: string | null;
  alerts: ReplicaAlerts;
  /** The process running it now, or null. */
  claim: (ProcessIdentity & { at: string }) | null;
}

/** How a run ended. */
export type RunOutcome = 'succeeded' | 'failed' | 'interrupted';
/** How the changed blocks were found: a whole copy, hashes of both sides, a dirty bitmap, or both kinds across disks. */
export type DeltaMethod = 'full' | 'hash' | 'bitmap' | 'mixed';

/** One run of a replica. */
export interface ReplicaRun {
  replica: string;
  /** The clone or sync in the operations table; null when none was started. */
  operationId: string | null;
  kind: 'clone' | 'sync';
  startedAt: string;
  finishedAt: string;
  seconds: number;
  bytesOnWire: number;
  delta: DeltaMethod | null;
  outcome: RunOutcome;
  errorCode: string | null;
  errorMessage: string | null;
}

/** What a finished run changes on its replica. */
export interface RunEffect {
  consecutiveFailures: number;
  nextAttemptAt: string | null;
  lastError: string | null;
  seededAt: string | null;
}

/** The fields `replica apply` and future verbs may change in place. */
export type ReplicaSettings = Pick<ReplicaSpec, 'everySeconds' | 'keep' | 'live'>;

/** The replica tables of the history database. */
export class ReplicaStore {
  constructor(
    private readonly db: Database.Database,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private row(name: string): ReplicaRow | undefined {
    return this.db.prepare(`SELECT * FROM replicas WHERE name = ?`).get(name) as ReplicaRow | undefined;
  }

  /** One replica, or undefined. */
  find(name: string): Replica | undefined {
    const row = this.row(name);
    return row && toReplica(row);
  }

  /** One replica; NOT_FOUND names it. */
  get(name: string): Replica {
    const found = this.find(name);
    if (!found) throw notFound(`no replica named ${name} (kvmctl replica list shows them)`);
    return found;
  }

  /** All replicas by name. */
  list(): Replica[] {
    return (this.db.prepare(`SELECT * FROM replicas ORDER BY name`).all() as ReplicaRow[]).map(toReplica);
  }

  /** Adds a replica; refuses a taken name, or a copy another replica already keeps. */
  add(spec: ReplicaSpec): Replica {
    if (this.row(spec.name)) throw alreadyExists(`a replica named ${spec.name} exists already`);
    const other = this.db.prepare(`SELECT name FROM replicas WHERE dest_host = ? AND dest_vm = ?`).get(spec.to, spec.destVm) as { name: string } | undefined;
    if (other) throw failedPrecondition(`replica ${other.name} already keeps ${spec.destVm} on ${spec.to}: two replicas cannot write one copy (choose another --dest-name)`);
    const at = this.now().toISOString();
    this.db
      .prepare(`INSERT INTO replicas (name, vm, source_host, dest_host, dest_vm, target_dir, every_s, keep, live, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(spec.name, spec.vm, spec.from, spec.to, spec.destVm, spec.targetDir, spec.everySeconds, spec.keep, spec.live ? 1 : 0, at, at);
    return this.get(spec.name);
  }

  /** Changes interval, restore points kept and live. */
  update(name: string, settings: ReplicaSettings): Replica {
    this.get(name);
    this.db
      .prepare(`UPDATE replicas SET every_s = ?, keep = ?, live = ?, updated_at = ? WHERE name = ?`)
      .run(settings.everySeconds, settings.keep, settings.live ? 1 : 0, this.now().toISOString(), name);
    return this.get(name);
  }

  /** Pauses or resumes the schedule. */
  setPaused(name: string, paused: boolean): Replica {
    this.get(name);
    this.db.prepare(`UPDATE replicas SET paused = ?, updated_at = ? WHERE name = ?`).run(paused ? 1 : 0, this.now().toISOString(), name);
    return this.get(name);
  }

  /**
   * Records which way the copy flows and whether it is the running VM, and
   * pauses or resumes the schedule with it, in one statement: failover
   * swaps the roles (reverse, failed-over, paused), failback --switch
   * restores them (forward, active, resumed).
   */
  setRoles(name: string, roles: { direction: ReplicaDirection; lifecycle: ReplicaLifecycle; paused: boolean }): Replica {
    this.get(name);
    this.db
      .prepare(`UPDATE replicas SET direction = ?, lifecycle = ?, paused = ?, updated_at = ? WHERE name = ?`)
      .run(roles.direction, roles.lifecycle, roles.paused ? 1 : 0, this.now().toISOString(), name);
    return this.get(name);
  }

  /** Runs `work` in one transaction (all of it or nothing). */
  transaction(work: () => void): void {
    this.db.transaction(work)();
  }

  /** Removes a replica and its run history (the operations stay in the operation history). */
  remove(name: string): void {
    this.get(name);
    this.db.transaction(() => {
      this.db.prepare(`DELETE FROM replica_runs WHERE replica = ?`).run(name);
      this.db.prepare(`DELETE FROM replicas WHERE name = ?`).run(name);
    })();
  }

  /**
   * Claims a replica for `owner` unless a live process holds it (atomic across
   * processes: an IMMEDIATE transaction). Returns the live holder when busy.
   */
  claim(name: string, owner: ProcessIdentity): { claimed: true } | { claimed: false; holder: ProcessIdentity & { at: string } } {
    const attempt = this.db.transaction(() => {
      const current = this.get(name).claim;
      if (current && !(current.host === owner.host && current.pid === owner.pid) && isAlive(current)) return { claimed: false as const, holder: current };
      this.db
        .prepare(`UPDATE replicas SET claim_host = ?, claim_pid = ?, claim_start = ?, claim_at = ? WHERE name = ?`)
        .run(owner.host, owner.pid, owner.startTicks, this.now().toISOString(), name);
      return { claimed: true as const };
    });
    return attempt.immediate();
  }

  /** Gives up a claim `owner` holds (another holder's is left alone). */
  release(name: string, owner: ProcessIdentity): void {
    this.db
      .prepare(`UPDATE replicas SET claim_host = NULL, claim_pid = NULL, claim_start = NULL, claim_at = NULL WHERE name = ? AND claim_host = ? AND claim_pid = ?`)
      .run(name, owner.host, owner.pid);
  }

  /** The live process running the replica, or undefined. */
  busyWith(name: string): (ProcessIdentity & { at: string }) | undefined {
    const claim = this.get(name).claim;
    return claim && isAlive(claim) ? claim : undefined;
  }

  /** Records a finished run and what it changes on its replica, in one transaction. */
  recordRun(run: ReplicaRun, effect: RunEffect): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO replica_runs (replica, operation_id, kind, started_at, finished_at, seconds, bytes_on_wire, delta, outcome, error_code, error_message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(run.replica, run.operationId, run.kind, run.startedAt, run.finishedAt, run.seconds, run.bytesOnWire, run.delta, run.outcome, run.errorCode, run.errorMessage);
      this.db
        .prepare(`UPDATE replicas SET consecutive_failures = ?, next_attempt_at = ?, last_error = ?, seeded_at = ? WHERE name = ?`)
        .run(effect.consecutiveFailures, effect.nextAttemptAt, effect.lastError, effect.seededAt, run.replica);
    })();
  }

  /** The newest successful run, or undefined. */
  lastSuccess(name: string): ReplicaRun | undefined {
    const row = this.db.prepare(`SELECT * FROM replica_runs WHERE replica = ? AND outcome = 'succeeded' ORDER BY seq DESC LIMIT 1`).get(name) as RunRow | undefined;
    return row && toRun(row);
  }

  /** The newest runs first. */
  runs(name: string, limit = 20): ReplicaRun[] {
    return (this.db.prepare(`SELECT * FROM replica_runs WHERE replica = ? ORDER BY seq DESC LIMIT ?`).all(name, limit) as RunRow[]).map(toRun);
  }

  /**
   * Reads the replica's alerts, lets `decide` work out the new ones, and
   * stores them — in one IMMEDIATE transaction, so two kvmctl processes
   * that see the same transition send its notification once.
   */
  transitionAlerts<T>(name: string, decide: (replica: Replica) => { alerts: ReplicaAlerts; value: T }): T {
    const step = this.db.transaction(() => {
      const { alerts, value } = decide(this.get(name));
      this.db.prepare(`UPDATE replicas SET alert_failing = ?, alert_breached = ? WHERE name = ?`).run(alerts.failing ? 1 : 0, alerts.breached ? 1 : 0, name);
      return value;
    });
    return step.immediate();
  }
}
