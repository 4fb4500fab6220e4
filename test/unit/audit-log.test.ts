/**
 * The audit file writer on real files: whole lines fsynced before `append`
 * resolves, existing content kept (a torn last line ended, never cut),
 * rotation by renaming with `keep` honoured, concurrent appends (from one
 * writer and from two on the same file) staying whole lines, and a trail
 * that cannot be written refusing calls until it can again.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { AUDIT_RETRY_MS, AuditLog } from '../../agent/audit/audit-log.js';
import { parseRecordLine, type AuditRecord } from '../../agent/audit/audit-record.js';
import { rotatedFiles } from '../../agent/audit/audit-files.js';
import { KvmcloneError } from '../../shared/errors.js';

const log = pino({ level: 'silent' });
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvmclone-audit-log-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
function record(overrides: Partial<AuditRecord> = {}): AuditRecord {
  n++;
  return {
    v: 1,
    time: new Date().toISOString(),
    method: '/kvmclone.agent.v1.DiskService/RemoveImage',
    caller: null,
    operationId: `op-${String(n).padStart(8, '0')}`,
    vm: null,
    paths: [`/images/disk-${n}.qcow2`],
    outcome: 'ok',
    code: 'OK',
    message: null,
    durationMs: 1.5,
    ...overrides,
  };
}

async function lines(path: string): Promise<string[]> {
  return (await readFile(path, 'utf8')).split('\n').filter((l) => l !== '');
}

test('append: one JSON line per record, on disk and fsynced when the promise resolves', async () => {
  const file = join(dir, 'a', 'audit.log');
  const trail = await AuditLog.open({ file, maxBytes: 1 << 20, keep: 2, log });
  const r = record({ message: 'with\na newline', outcome: 'error', code: 'INVALID_ARGUMENT' });
  await trail.append(r);
  // Read while the writer is still open: the line is there, whole, when append resolves.
  const got = await lines(file);
  assert.equal(got.length, 1);
  assert.deepEqual(parseRecordLine(got[0] ?? ''), r);
  assert.equal(trail.stats.syncs, 1, 'one fsync for the record');
  assert.equal(trail.stats.records, 1);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  await trail.close();
});

test('opening keeps what the file holds; a torn last line is ended, not cut, and a restarted writer appends after it', async () => {
  const file = join(dir, 'b', 'audit.log');
  await mkdir(join(dir, 'b'));
  const before = `${JSON.stringify(record())}\n{"v":1,"time":"2026-`;
  await writeFile(file, before);
  const trail = await AuditLog.open({ file, maxBytes: 1 << 20, keep: 2, log });
  const r = record();
  await trail.append(r);
  await trail.close();
  const text = await readFile(file, 'utf8');
  assert.ok(text.startsWith(before), 'earlier bytes untouched');
  const got = text.slice(before.length);
  assert.equal(got, `\n${JSON.stringify(r)}\n`);
  // A second writer (an agent restart) appends; nothing before is lost.
  const again = await AuditLog.open({ file, maxBytes: 1 << 20, keep: 2, log });
  await again.append(record());
  await again.close();
  assert.ok((await readFile(file, 'utf8')).startsWith(text));
  assert.equal((await lines(file)).length, 4);
});

test('rotation renames the full file aside (never truncates it) and keeps the newest `keep` rotated files', async () => {
  const file = join(dir, 'c', 'audit.log');
  const trail = await AuditLog.open({ file, maxBytes: 1024, keep: 2, log });
  const written: string[] = [];
  for (let i = 0; i < 40; i++) {
    const r = record();
    written.push(JSON.stringify(r));
    await trail.append(r);
  }
  await trail.close();
  assert.ok(trail.stats.rotations >= 4, `rotated ${trail.stats.rotations} times`);
  const rotated = await rotatedFiles(file);
  assert.equal(rotated.length, 2, 'the oldest rotated files beyond keep are removed');
  const kept: string[] = [];
  for (const f of [...rotated, file]) {
    const size = (await stat(f)).size;
    assert.ok(size <= 1024, `${f} is ${size} bytes`);
    kept.push(...(await lines(f)));
  }
  // What is kept is exactly the newest records, in order, each line whole.
  assert.deepEqual(kept, written.slice(written.length - kept.length));
  assert.match(rotated[0] ?? '', /audit\.log\.\d{8}T\d{6}\.\d{3}Z(-\d+)?$/);
});

test("keep: 'all' never deletes a rotated file", async () => {
  const file = join(dir, 'd', 'audit.log');
  const trail = await AuditLog.open({ file, maxBytes: 600, keep: 'all', log });
  for (let i = 0; i < 20; i++) await trail.append(record());
  await trail.close();
  const all: string[] = [];
  for (const f of [...(await rotatedFiles(file)), file]) all.push(...(await lines(f)));
  assert.equal(all.length, 20);
  assert.equal((await rotatedFiles(file)).length, trail.stats.rotations);
});

test('concurrent appends stay whole lines: one writer batches them, two writers on one file interleave only whole records', async () => {
  const file = join(dir, 'e', 'audit.log');
  const one = await AuditLog.open({ file, maxBytes: 1 << 30, keep: 2, log });
  const two = await AuditLog.open({ file, maxBytes: 1 << 30, keep: 2, log });
  const big = 'x'.repeat(3000);
  const records = Array.from({ length: 400 }, (_, i) => record({ message: i % 3 === 0 ? big : `m${i}` }));
  await Promise.all(records.map((r, i) => (i % 2 === 0 ? one : two).append(r)));
  await one.close();
  await two.close();
  const got = await lines(file);
  assert.equal(got.length, 400);
  const parsed = got.map((l) => parseRecordLine(l));
  assert.ok(
    parsed.every((p) => p !== undefined),
    'every line is a whole record',
  );
  assert.equal(new Set(parsed.map((p) => p?.operationId)).size, 400);
  // Appends that arrive during a write share the next write and fsync.
  assert.ok(one.stats.syncs < 200, `${one.stats.syncs} fsyncs for 200 records`);
});

test('a trail that cannot be written refuses calls (UNAVAILABLE) until it can, then writes what it owed first', async () => {
  const sub = join(dir, 'f');
  const file = join(sub, 'audit.log');
  const trail = await AuditLog.open({ file, maxBytes: 200, keep: 'all', log });
  await trail.append(record());
  await trail.admit();
  // The directory goes away: the next append needs a rotation (rename), which fails.
  await rm(sub, { recursive: true });
  const lost = record();
  await assert.rejects(trail.append(lost));
  assert.ok(trail.failure !== undefined);
  await assert.rejects(trail.admit(), (err: unknown) => err instanceof KvmcloneError && err.code === 'UNAVAILABLE' && /cannot be written/.test(err.message));
  await mkdir(sub);
  await assert.rejects(trail.admit(), 'no retry within a second of the last attempt');
  await sleep(AUDIT_RETRY_MS + 50);
  await trail.admit();
  assert.equal(trail.failure, undefined);
  const after = record();
  await trail.append(after);
  await trail.close();
  const all: string[] = [];
  for (const f of [...(await rotatedFiles(file)), file]) all.push(...(await lines(f)));
  assert.deepEqual(
    all.map((l) => parseRecordLine(l)?.operationId),
    [lost.operationId, after.operationId],
  );
  assert.equal((await readdir(sub)).length, 2, 'the recovered file and the one rotated after it');
});
