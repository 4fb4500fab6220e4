/**
 * The history database's schema and its migrations, in one place. The
 * database (operations, their events, replicas and their runs, failovers,
 * drills, live-replica checkpoints) outlives any one kvmctl: a newer kvmctl
 * upgrades an older database when it opens it, and an older kvmctl refuses a
 * database a newer one has upgraded instead of misreading it. The version is
 * SQLite's `PRAGMA user_version`.
 *
 * To change the schema, append a migration (never edit a released one): its
 * number is the next version, and it runs once, in the transaction that sets
 * that version.
 */
import type Database from 'better-sqlite3';
import { failedPrecondition, KvmcloneError } from '../../shared/errors.js';

/** One step of the schema: run once on a database at version `version - 1`. */
export interface HistoryMigration {
  readonly version: number;
  /** What it changes: for the reader, and named when it fails. */
  readonly what: string;
  readonly up: (db: Database.Database) => void;
}

/** Tables as the first versioned kvmctl made them (a database from before versioning is brought to the same shape). */
const BASELINE = `
CREATE TABLE IF NOT EXISTS operations (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  vm TEXT NOT NULL,
  dest_vm TEXT NOT NULL,
  source_host TEXT NOT NULL,
  dest_host TEXT NOT NULL,
  state TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  bytes_on_wire INTEGER NOT NULL DEFAULT 0,
  error_code TEXT,
  error_message TEXT,
  result_json TEXT
);
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  operation_id TEXT NOT NULL REFERENCES operations(id),
  at TEXT NOT NULL,
  type TEXT NOT NULL,
  data_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_operation ON events(operation_id, seq);
CREATE TABLE IF NOT EXISTS live_replicas (
  source_host TEXT NOT NULL,
  vm TEXT NOT NULL,
  dest_host TEXT NOT NULL,
  dest_vm TEXT NOT NULL,
  replica_id TEXT NOT NULL,
  checkpoint TEXT NOT NULL DEFAULT '',
  checkpoint_xml TEXT NOT NULL DEFAULT '',
  images_json TEXT NOT NULL DEFAULT '[]',
  updated_at TEXT NOT NULL,
  PRIMARY KEY (source_host, vm, dest_host, dest_vm)
);
CREATE TABLE IF NOT EXISTS replicas (
  name TEXT PRIMARY KEY,
  vm TEXT NOT NULL,
  source_host TEXT NOT NULL,
  dest_host TEXT NOT NULL,
  dest_vm TEXT NOT NULL,
  target_dir TEXT,
  every_s INTEGER NOT NULL,
  keep INTEGER,
  live INTEGER NOT NULL DEFAULT 0,
  paused INTEGER NOT NULL DEFAULT 0,
  direction TEXT NOT NULL DEFAULT 'forward',
  lifecycle TEXT NOT NULL DEFAULT 'active',
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  seeded_at TEXT,
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT,
  last_error TEXT,
  alert_failing INTEGER NOT NULL DEFAULT 0,
  alert_breached INTEGER NOT NULL DEFAULT 0,
  claim_host TEXT,
  claim_pid INTEGER,
  claim_start TEXT,
  claim_at TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS replicas_by_copy ON replicas(dest_host, dest_vm);
CREATE TABLE IF NOT EXISTS replica_runs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  replica TEXT NOT NULL,
  operation_id TEXT,
  kind TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT NOT NULL,
  seconds REAL NOT NULL,
  bytes_on_wire INTEGER NOT NULL DEFAULT 0,
  delta TEXT,
  outcome TEXT NOT NULL,
  error_code TEXT,
  error_message TEXT
);
CREATE INDEX IF NOT EXISTS replica_runs_by_replica ON replica_runs(replica, seq);
CREATE TABLE IF NOT EXISTS replica_failovers (
  replica TEXT PRIMARY KEY,
  operation_id TEXT NOT NULL,
  at TEXT NOT NULL,
  source TEXT NOT NULL,
  point TEXT,
  paused_before INTEGER NOT NULL DEFAULT 0,
  checkpoint TEXT,
  no_checkpoint TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS replica_drills (
  replica TEXT PRIMARY KEY,
  operation_id TEXT NOT NULL,
  at TEXT NOT NULL,
  host TEXT NOT NULL,
  vm TEXT NOT NULL,
  uuid TEXT NOT NULL
);
`;

/** Columns that unversioned kvmctls added to replica_failovers after its first release. */
const UNVERSIONED_ADDED_COLUMNS: readonly { table: string; name: string; ddl: string }[] = [
  { table: 'replica_failovers', name: 'checkpoint', ddl: 'checkpoint TEXT' },
  { table: 'replica_failovers', name: 'no_checkpoint', ddl: `no_checkpoint TEXT NOT NULL DEFAULT ''` },
];

/** The history database's migrations, in order; the last one's version is the schema this kvmctl writes. */
export const HISTORY_MIGRATIONS: readonly HistoryMigration[] = [
  {
    version: 1,
    what: 'the tables of kvmctl before schema versions (operations, events, replicas, runs, failovers, drills, live replicas)',
    up: (db) => {
      db.exec(BASELINE);
      for (const c of UNVERSIONED_ADDED_COLUMNS) {
        const have = (db.prepare(`PRAGMA table_info(${c.table})`).all() as { name: string }[]).some((col) => col.name === c.name);
        if (!have) db.exec(`ALTER TABLE ${c.table} ADD COLUMN ${c.ddl}`);
      }
    },
  },
];

/** The schema version this kvmctl writes. */
export const HISTORY_SCHEMA_VERSION = HISTORY_MIGRATIONS[HISTORY_MIGRATIONS.length - 1]?.version ?? 0;

/**
 * Brings the database at `path` to HISTORY_SCHEMA_VERSION, one migration per
 * transaction (taken with BEGIN IMMEDIATE, so two kvmctls opening the same
 * old database do not both migrate it). Refuses (FAILED_PRECONDITION, exit 3)
 * a database whose version is newer than this kvmctl knows, without
 * changing it. Returns the version it found.
 */
export function migrateHistory(db: Database.Database, path: string, migrations: readonly HistoryMigration[] = HISTORY_MIGRATIONS): number {
  const latest = migrations[migrations.length - 1]?.version ?? 0;
  const version = (): number => db.pragma('user_version', { simple: true }) as number;
  const found = version();
  for (;;) {
    const current = version();
    if (current > latest) {
      throw failedPrecondition(
        `the history database ${path} has schema version ${current}, newer than this kvmctl knows (${latest}): a newer kvmctl wrote it; run that kvmctl, or give this one another database (state.database in kvmctl.yaml)`,
      );
    }
    const next = migrations.find((m) => m.version === current + 1);
    if (next === undefined) return found;
    try {
      db.transaction(() => {
        if (version() !== current) return; // another kvmctl migrated it meanwhile: look again
        next.up(db);
        db.pragma(`user_version = ${next.version}`);
      }).immediate();
    } catch (err) {
      // the transaction rolled back: the database is still at `current`
      throw new KvmcloneError('INTERNAL', `upgrading the history database ${path} to schema version ${next.version} (${next.what}) failed; it is unchanged at version ${current}`, {
        cause: err,
      });
    }
  }
}
