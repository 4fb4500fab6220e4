/**
 * The controller's operation history and audit trail, in SQLite under
 * $XDG_STATE_HOME/kvmclone: every clone and sync is recorded when it starts,
 * each step it takes is appended as an event, and its outcome is written when
 * it ends (failover, failback and test failovers too). `kvmctl ops list|show` read it, and a rerun of an
 * interrupted clone or sync finds there what to resume from.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { migrateHistory } from './history-schema.js';

/**
 * Lifecycle of a recorded operation. `planned`: a --dry-run that got to its
 * plan — nothing was changed, so it is never taken for a copy made, nor for
 * the run a rerun resumes.
 */
export type OperationState = 'running' | 'succeeded' | 'failed' | 'interrupted' | 'planned';

/**
 * What an operation was: a copy (clone, sync), or a step of a replica's
 * disaster recovery (failover, failback, a test failover's drill and its
 * cleanup), or a VM deleted (kvmctl delete) — recorded here so that
 * `kvmctl ops` shows them beside the syncs.
 */
export type OperationKind = 'clone' | 'sync' | 'failover' | 'failback' | 'drill' | 'drill-cleanup' | 'delete';

/** One operation as stored. */
export interface OperationRecord {
  id: string;
  kind: OperationKind;
  vm: string;
  destVm: string;
  sourceHost: string;
  destHost: string;
  state: OperationState;
  startedAt: string;
  finishedAt: string | null;
  bytesOnWire: number;
  errorCode: string | null;
  errorMessage: string | null;
  /** The --json result object of a finished operation. */
  result: unknown;
}

/** One audit event of an operation. */
export interface OperationEvent {
  at: string;
  type: string;
  data: unknown;
}

interface OperationRow {
  id: string;
  kind: OperationKind;
  vm: string;
  dest_vm: string;
  source_host: string;
  dest_host: string;
  state: OperationState;
  started_at: string;
  finished_at: string | null;
  bytes_on_wire: number;
  error_code: string | null;
  error_message: string | null;
  result_json: string | null;
}

function toRecord(row: OperationRow): OperationRecord {
  return {
    id: row.id,
    kind: row.kind,
    vm: row.vm,
    destVm: row.dest_vm,
    sourceHost: row.source_host,
    destHost: row.dest_host,
    state: row.state,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    bytesOnWire: row.bytes_on_wire,
    errorCode: row.error_code,
    errorMessage: row.error_message,
    result: row.result_json ? (JSON.parse(row.result_json) as unknown) : null,
  };
}

/** The history database. */
export class OperationStore {
  private readonly db: Database.Database;

  constructor(path: string) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    migrateHistory(this.db, path);
  }

  /** Records the start of an operation. */
  begin(op: Pick<OperationRecord, 'id' | 'kind' | 'vm' | 'destVm' | 'sourceHost' | 'destHost'>): void {
    this.db
      .prepare(`INSERT INTO operations (id, kind, vm, dest_vm, source_host, dest_host, state, started_at) VALUES (?, ?, ?, ?, ?, ?, 'running', ?)`)
      .run(op.id, op.kind, op.vm, op.destVm, op.sourceHost, op.destHost, new Date().toISOString());
  }

  /** Appends an audit event. */
  event(id: string, type: string, data: unknown = {}): void {
    this.db.prepare(`INSERT INTO events (operation_id, at, type, data_json) VALUES (?, ?, ?, ?)`).run(id, new Date().toISOString(), type, JSON.stringify(data));
  }

  /** Records how an operation ended. */
  finish(id: string, state: Exclude<OperationState, 'running'>, outcome: { bytesOnWire?: number; errorCode?: string; errorMessage?: string; result?: unknown }): void {
    this.db
      .prepare(`UPDATE operations SET state = ?, finished_at = ?, bytes_on_wire = ?, error_code = ?, error_message = ?, result_json = ? WHERE id = ?`)
      .run(
        state,
        new Date().toISOString(),
        outcome.bytesOnWire ?? 0,
        outcome.errorCode ?? null,
        outcome.errorMessage ?? null,
        outcome.result === undefined ? null : JSON.stringify(outcome.result),
        id,
      );
  }

  /** Most recent operations first. */
  list(limit = 50): OperationRecord[] {
    const rows = this.db.prepare(`SELECT * FROM operations ORDER BY started_at DESC, rowid DESC LIMIT ?`).all(limit) as OperationRow[];
    return rows.map(toRecord);
  }

  /** Operations of one kind moving one VM between the same hosts, newest first (resume looks here); plans (dry runs) are not among them. */
  history(target: Pick<OperationRecord, 'kind' | 'vm' | 'destVm' | 'sourceHost' | 'destHost'>, limit = 20): OperationRecord[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM operations WHERE kind = ? AND vm = ? AND dest_vm = ? AND source_host = ? AND dest_host = ? AND state != 'planned' ORDER BY started_at DESC, rowid DESC LIMIT ?`,
      )
      .all(target.kind, target.vm, target.destVm, target.sourceHost, target.destHost, limit) as OperationRow[];
    return rows.map(toRecord);
  }

  /** One operation (by id or unique id prefix) and its events, or undefined. */
  get(idOrPrefix: string): { operation: OperationRecord; events: OperationEvent[] } | undefined {
    const rows = this.db
      .prepare(`SELECT * FROM operations WHERE id = ? OR id LIKE ? ORDER BY started_at DESC LIMIT 2`)
      .all(idOrPrefix, `${idOrPrefix.replace(/[%_]/g, '')}%`) as OperationRow[];
    const row = rows.find((r) => r.id === idOrPrefix) ?? (rows.length === 1 ? rows[0] : undefined);
    if (!row) return undefined;
    const events = (
      this.db.prepare(`SELECT at, type, data_json FROM events WHERE operation_id = ? ORDER BY seq`).all(row.id) as { at: string; type: string; data_json: string }[]
    ).map((e) => ({
      at: e.at,
      type: e.type,
      data: JSON.parse(e.data_json) as unknown,
    }));
    return { operation: toRecord(row), events };
  }

  /** The open database, for the stores that share it (live-replica-store.ts). */
  get database(): Database.Database {
    return this.db;
  }

  close(): void {
    this.db.close();
  }
}
