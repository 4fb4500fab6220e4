/**
 * History database migrations: a database from before schema versions opens,
 * is brought to the current schema with its records intact, and is not
 * changed again on the next open; a database a newer kvmctl wrote is refused
 * untouched; later migrations run once each, in order, and one that fails
 * leaves the database at the version before it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OperationStore } from '../../controller/history/operation-store.js';
import { HISTORY_MIGRATIONS, HISTORY_SCHEMA_VERSION, migrateHistory, type HistoryMigration } from '../../controller/history/history-schema.js';
import { FailoverStore } from '../../controller/replication/failover-store.js';
import { KvmcloneError } from '../../shared/errors.js';

async function withDir(body: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'history-schema-'));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const userVersion = (path: string): number => {
  const db = new Database(path, { readonly: true });
  try {
    return db.pragma('user_version', { simple: true }) as number;
  } finally {
    db.close();
  }
};

const tables = (db: Database.Database): string[] =>
  (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as { name: string }[]).map((r) => r.name);

test('the migrations are numbered 1, 2, … in order', () => {
  assert.deepEqual(
    HISTORY_MIGRATIONS.map((m) => m.version),
    HISTORY_MIGRATIONS.map((_, i) => i + 1),
  );
  assert.equal(HISTORY_SCHEMA_VERSION, HISTORY_MIGRATIONS.length);
});

test('a database from before schema versions opens at the current version, its records intact, and opening it again changes nothing', () =>
  withDir((dir) => {
    const path = join(dir, 'history.sqlite');
    const old = new Database(path);
    // as an unversioned kvmctl left it: operations, and a failover table from before the checkpoint columns
    old.exec(
      `CREATE TABLE operations (id TEXT PRIMARY KEY, kind TEXT NOT NULL, vm TEXT NOT NULL, dest_vm TEXT NOT NULL, source_host TEXT NOT NULL, dest_host TEXT NOT NULL, state TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT, bytes_on_wire INTEGER NOT NULL DEFAULT 0, error_code TEXT, error_message TEXT, result_json TEXT)`,
    );
    old
      .prepare(
        `INSERT INTO operations (id, kind, vm, dest_vm, source_host, dest_host, state, started_at) VALUES ('op1', 'clone', 'web1', 'web1', 'hosta', 'hostb', 'succeeded', '2026-01-01T00:00:00Z')`,
      )
      .run();
    old.exec(
      `CREATE TABLE replica_failovers (replica TEXT PRIMARY KEY, operation_id TEXT NOT NULL, at TEXT NOT NULL, source TEXT NOT NULL, point TEXT, paused_before INTEGER NOT NULL DEFAULT 0)`,
    );
    old.prepare(`INSERT INTO replica_failovers (replica, operation_id, at, source, point, paused_before) VALUES ('old', 'op9', 'then', 'shutoff', NULL, 1)`).run();
    old.close();
    assert.equal(userVersion(path), 0);

    const ops = new OperationStore(path);
    try {
      assert.equal(ops.get('op1')?.operation.vm, 'web1', 'the operation recorded before the upgrade');
      const failovers = new FailoverStore(ops.database);
      assert.deepEqual(
        failovers.failover('old'),
        { replica: 'old', operationId: 'op9', at: 'then', source: 'shutoff', point: null, pausedBefore: true, checkpoint: null, noCheckpoint: '' },
        'made without a checkpoint',
      );
      failovers.recordFailover({
        replica: 'new',
        operationId: 'op10',
        at: 'now',
        source: 'shutoff',
        point: null,
        pausedBefore: false,
        checkpoint: 'kvmclone.r0123456789abcd.1',
        noCheckpoint: '',
      });
      for (const t of ['events', 'live_replicas', 'replicas', 'replica_runs', 'replica_drills']) assert.ok(tables(ops.database).includes(t), t);
    } finally {
      ops.close();
    }
    assert.equal(userVersion(path), HISTORY_SCHEMA_VERSION);
    const again = new OperationStore(path);
    try {
      assert.equal(new FailoverStore(again.database).failover('new')?.checkpoint, 'kvmclone.r0123456789abcd.1');
    } finally {
      again.close();
    }
    assert.equal(userVersion(path), HISTORY_SCHEMA_VERSION);
  }));

test('a database a newer kvmctl wrote is refused (FAILED_PRECONDITION, naming the file and both versions) and left as it was', () =>
  withDir((dir) => {
    const path = join(dir, 'history.sqlite');
    const newer = new Database(path);
    newer.exec(`CREATE TABLE future (x INTEGER)`);
    newer.pragma(`user_version = ${HISTORY_SCHEMA_VERSION + 1}`);
    newer.close();
    assert.throws(
      () => new OperationStore(path),
      (e: unknown) =>
        e instanceof KvmcloneError &&
        e.code === 'FAILED_PRECONDITION' &&
        e.message.includes(path) &&
        e.message.includes(`schema version ${HISTORY_SCHEMA_VERSION + 1}`) &&
        e.message.includes(`(${HISTORY_SCHEMA_VERSION})`),
    );
    const db = new Database(path, { readonly: true });
    try {
      assert.deepEqual(tables(db), ['future'], 'no table added');
      assert.equal(db.pragma('user_version', { simple: true }), HISTORY_SCHEMA_VERSION + 1);
    } finally {
      db.close();
    }
  }));

test('later migrations run once each, in order; one that fails leaves the database at the version before it', () =>
  withDir((dir) => {
    const path = join(dir, 'history.sqlite');
    const ran: number[] = [];
    const step = (version: number, sql: string): HistoryMigration => ({ version, what: `step ${version}`, up: (db) => (ran.push(version), db.exec(sql)) });
    const v2 = step(2, `ALTER TABLE t ADD COLUMN b TEXT`);
    const v3 = step(3, `ALTER TABLE t ADD COLUMN c TEXT`);
    const broken: HistoryMigration = { version: 4, what: 'fails halfway', up: (db) => (db.exec(`ALTER TABLE t ADD COLUMN d TEXT`), db.exec(`THIS IS NOT SQL`)) };
    const base = step(1, `CREATE TABLE t (a INTEGER)`);
    const db = new Database(path);
    try {
      assert.equal(migrateHistory(db, path, [base, v2]), 0, 'returns the version it found');
      assert.deepEqual(ran, [1, 2]);
      assert.equal(migrateHistory(db, path, [base, v2, v3]), 2);
      assert.deepEqual(ran, [1, 2, 3], 'only the new one ran');
      assert.throws(() => migrateHistory(db, path, [base, v2, v3, broken]));
      assert.equal(db.pragma('user_version', { simple: true }), 3);
      const columns = (db.prepare(`PRAGMA table_info(t)`).all() as { name: string }[]).map((c) => c.name);
      assert.deepEqual(columns, ['a', 'b', 'c'], 'the failed step left nothing');
    } finally {
      db.close();
    }
  }));
