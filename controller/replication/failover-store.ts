/**
 * What a replica's disaster recovery has to remember between commands, in
 * the history database beside the replicas: the failover in force (when,
 * by which operation, what the source was found to be — failback must warn
 * before overwriting an original that may hold writes the copy never saw —
 * and whether the schedule was paused before it, so failback --switch
 * restores it as it was; the checkpoint of the copy made at its first
 * instant, or why none was, so failback knows whether the copy's dirty
 * bitmap can be its delta), and the test failover's throw-away VM (its name
 * and UUID, so that `--cleanup` removes that VM and no other).
 */
import type Database from 'better-sqlite3';

/**
 * What the split-brain check found of the source VM at failover:
 * shut off (cleanly), crashed (libvirt's state), absent (no VM of that name
 * on its host), or unreachable (neither SSH nor its agent answered: `--force`).
 */
export type SourceAtFailover = 'shutoff' | 'crashed' | 'absent' | 'unreachable';

/** A failover in force. */
export interface FailoverRecord {
  replica: string;
  operationId: string;
  at: string;
  source: SourceAtFailover;
  /** The restore point the copy was brought to, or null for the copy as last synced. */
  point: string | null;
  /** The schedule was paused already before the failover. */
  pausedBefore: boolean;
  /**
   * The checkpoint of the copy made before its guest ran, with the original
   * and the copy equal (failover-checkpoint.ts); null when none was made.
   */
  checkpoint: string | null;
  /** Why no checkpoint was made (failback then compares hashes), or ''. */
  noCheckpoint: string;
}

/** A test failover's VM on the replica's destination. */
export interface DrillRecord {
  replica: string;
  operationId: string;
  at: string;
  host: string;
  vm: string;
  uuid: string;
}

interface FailoverRow {
  replica: string;
  operation_id: string;
  at: string;
  source: SourceAtFailover;
  point: string | null;
  paused_before: number;
  checkpoint: string | null;
  no_checkpoint: string;
}

/** The failover and drill tables of the history database. */
export class FailoverStore {
  /** `db` is the history database as OperationStore opened it (its schema: history-schema.ts). */
  constructor(private readonly db: Database.Database) {}

  /** The failover in force for `replica`, or undefined. */
  failover(replica: string): FailoverRecord | undefined {
    const r = this.db.prepare(`SELECT * FROM replica_failovers WHERE replica = ?`).get(replica) as FailoverRow | undefined;
    return (
      r && {
        replica: r.replica,
        operationId: r.operation_id,
        at: r.at,
        source: r.source,
        point: r.point,
        pausedBefore: r.paused_before === 1,
        checkpoint: r.checkpoint,
        noCheckpoint: r.no_checkpoint,
      }
    );
  }

  /**
   * Records a failover. A replica fails over only while active, so a record
   * still there is stale (the replica was removed and added again): replaced.
   */
  recordFailover(f: FailoverRecord): void {
    this.db
      .prepare(`INSERT OR REPLACE INTO replica_failovers (replica, operation_id, at, source, point, paused_before, checkpoint, no_checkpoint) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(f.replica, f.operationId, f.at, f.source, f.point, f.pausedBefore ? 1 : 0, f.checkpoint, f.noCheckpoint);
  }

  /** Forgets the failover once failback --switch restored the roles. */
  clearFailover(replica: string): void {
    this.db.prepare(`DELETE FROM replica_failovers WHERE replica = ?`).run(replica);
  }

  /** The replica's test failover VM, or undefined. */
  drill(replica: string): DrillRecord | undefined {
    const r = this.db.prepare(`SELECT replica, operation_id AS operationId, at, host, vm, uuid FROM replica_drills WHERE replica = ?`).get(replica) as DrillRecord | undefined;
    return r && { ...r };
  }

  /** Records the test failover VM a drill made. */
  recordDrill(d: DrillRecord): void {
    this.db.prepare(`INSERT INTO replica_drills (replica, operation_id, at, host, vm, uuid) VALUES (?, ?, ?, ?, ?, ?)`).run(d.replica, d.operationId, d.at, d.host, d.vm, d.uuid);
  }

  /** Forgets the drill once its VM is gone. */
  clearDrill(replica: string): void {
    this.db.prepare(`DELETE FROM replica_drills WHERE replica = ?`).run(replica);
  }
}
