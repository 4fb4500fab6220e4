/**
 * Audit records built from fake calls: the caller from a `callerAddress`
 * peer (null from a peer the agent did not accept itself), the subjects of
 * each kind of request, status names and outcomes; which methods are
 * audited; and reading records back with filters, across rotated files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, status } from '@grpc/grpc-js';
import { pino } from 'pino';
import { auditCall, buildAuditRecord, type AuditableCall } from '../../agent/audit/audited-call.js';
import { auditRecordSchema, parseRecordLine, recordLine, type AuditRecord } from '../../agent/audit/audit-record.js';
import { OPERATION_ID_METADATA } from '../../shared/operation-metadata.js';
import { checkAuditQuery, readAudit } from '../../agent/audit/audit-reader.js';
import { AuditLog } from '../../agent/audit/audit-log.js';
import { callerAddress } from '../../agent/server/caller.js';
import { KvmcloneError } from '../../shared/errors.js';

const log = pino({ level: 'silent' });
const V1 = '/kvmclone.agent.v1.';

function fakeCall(method: string, request: unknown, peer = 'unix:/run/kvmclone/agent.sock', metadata = new Metadata()): AuditableCall {
  return { getPath: () => `${V1}${method}`, getPeer: () => peer, metadata, request };
}

test('the caller comes from the peer address the agent gave the connection; null without one', () => {
  const peer = callerAddress({ uid: 1001, gid: 997, pid: 4242, role: 'admin' });
  const r = buildAuditRecord(fakeCall('DiskService/RemoveImage', { path: '/images/a.qcow2' }, peer), { path: '/images/a.qcow2' }, null, { removed: true }, 1000, 1250);
  assert.deepEqual(r.caller, { uid: 1001, gid: 997, pid: 4242, role: 'admin' });
  assert.equal(r.durationMs, 250);
  assert.equal(r.time, new Date(1250).toISOString());
  assert.equal(r.outcome, 'ok');
  assert.equal(r.code, 'OK');
  assert.equal(r.message, null);
  assert.deepEqual(r.paths, ['/images/a.qcow2']);
  assert.ok(auditRecordSchema.safeParse(r).success);
  const anonymous = buildAuditRecord(fakeCall('DiskService/RemoveImage', {}), {}, null, {}, 0, 0);
  assert.equal(anonymous.caller, null);
});

test('subjects: VM, operation id and paths from each kind of request and answer', () => {
  const md = new Metadata();
  md.set(OPERATION_ID_METADATA, 'op-from-metadata-1');
  const define = buildAuditRecord(
    fakeCall('DomainService/DefineDomain', {}),
    { xml: "<domain type='kvm'><name>web1</name></domain>", operationId: 'op-12345678' },
    { code: status.PERMISSION_DENIED, details: 'hostdev refused' },
    undefined,
    0,
    5,
  );
  assert.equal(define.vm, 'web1');
  assert.equal(define.operationId, 'op-12345678');
  assert.equal(define.outcome, 'error');
  assert.equal(define.code, 'PERMISSION_DENIED');
  assert.equal(define.message, 'hostdev refused');
  const write = buildAuditRecord(
    fakeCall('DiskService/WriteRanges', undefined, undefined, md),
    { open: { targetPath: '/images/new.qcow2', size: 1 } },
    null,
    { stagingPath: '/images/.new.qcow2.kvmclone-x' },
    0,
    0,
  );
  assert.deepEqual(write.paths, ['/images/new.qcow2', '/images/.new.qcow2.kvmclone-x']);
  assert.equal(write.operationId, 'op-from-metadata-1', 'metadata names the operation when the request has no field for it');
  const undefine = buildAuditRecord(
    fakeCall('DomainService/UndefineDomain', {}),
    { name: 'web1', storage: 'STORAGE_POLICY_REMOVE' },
    null,
    { removedPaths: ['/images/a', '/images/b'] },
    0,
    0,
  );
  assert.equal(undefine.vm, 'web1');
  assert.deepEqual(undefine.paths, ['/images/a', '/images/b']);
  const pull = buildAuditRecord(
    fakeCall('TransferService/PullImage', {}),
    { sourcePath: '/src/a', targetPath: '/images/a', operationId: 'op-abcdefgh', destVm: 'web1-copy' },
    { code: status.CANCELLED, details: 'cancelled' },
    undefined,
    0,
    0,
  );
  assert.equal(pull.vm, 'web1-copy');
  assert.equal(pull.outcome, 'cancelled');
  assert.deepEqual(pull.paths, ['/images/a', '/src/a']);
  const ticket = buildAuditRecord(fakeCall('TransferService/OpenTicket', {}), { paths: ['/x/1', '/x/2', '/x/1'], operationId: 'op-abcdefgh' }, null, undefined, 0, 0);
  assert.deepEqual(ticket.paths, ['/x/1', '/x/2']);
  // `name` is a VM only in DomainService requests.
  const lock = buildAuditRecord(fakeCall('TransferService/HoldLock', {}), { vmName: 'web1', operationId: 'op-abcdefgh', purpose: 'clone' }, null, undefined, 0, 0);
  assert.equal(lock.vm, 'web1');
});

test('a record is one line whatever the strings hold, and reads back equal', () => {
  const r = buildAuditRecord(
    fakeCall('DiskService/RemoveImage', {}),
    { path: '/images/we\nird\u2028"x"' },
    { code: status.INVALID_ARGUMENT, details: 'bad\r\npath' },
    undefined,
    0,
    0,
  );
  const line = recordLine(r);
  assert.equal(line.indexOf('\n'), line.length - 1);
  assert.deepEqual(parseRecordLine(line.trimEnd()), r);
  assert.equal(parseRecordLine('{"v":2}'), undefined);
  assert.equal(parseRecordLine('not json'), undefined);
});

test('read-only methods are not audited; everything else is', async () => {
  const file = join(await mkdtemp(join(tmpdir(), 'kvmclone-audit-rec-')), 'audit.log');
  const trail = await AuditLog.open({ file, maxBytes: 1 << 20, keep: 1, log });
  try {
    for (const m of ['InfoService/GetInfo', 'InfoService/ReadAudit', 'DomainService/ListDomains', 'DiskService/HashBlocks', 'DiskService/DigestImage']) {
      assert.equal(auditCall(trail, fakeCall(m, {}), log), undefined, m);
    }
    for (const m of [
      'DomainService/DefineDomain',
      'DiskService/WriteRanges',
      'DiskService/ReadRanges',
      'DiskService/RemoveImage',
      'TransferService/HoldLock',
      'NewService/NotYetClassified',
    ]) {
      assert.notEqual(auditCall(trail, fakeCall(m, {}), log), undefined, m);
    }
    assert.equal(auditCall(undefined, fakeCall('DiskService/RemoveImage', {}), log), undefined);
  } finally {
    await trail.close();
    await rm(join(file, '..'), { recursive: true, force: true });
  }
});

test('an audited call writes its record at finish; a call refused by a broken trail is not queued behind it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kvmclone-audit-rec-'));
  const file = join(dir, 'audit.log');
  const trail = await AuditLog.open({ file, maxBytes: 1 << 20, keep: 1, log });
  try {
    const call = auditCall(trail, fakeCall('DiskService/WriteRanges', undefined), log);
    assert.ok(call);
    await call.admit();
    call.observe({ open: { targetPath: '/images/n.raw', size: 10 } });
    call.observe({ data: { offset: 0 } });
    await call.finish(null, { stagingPath: '/images/.n.raw.staging' });
    const [r] = (await readAudit(file, checkAuditQuery({ since: '', vm: '', operationId: '', limit: 0 }))).records;
    assert.deepEqual(r?.paths, ['/images/n.raw', '/images/.n.raw.staging']);
    const refused = auditCall(trail, fakeCall('DiskService/RemoveImage', { path: '/images/x' }), log);
    assert.ok(refused);
    await refused.finish({ code: status.UNAVAILABLE, details: 'trail broken' });
    assert.equal(trail.stats.records, 1, 'a call that was never admitted is logged only');
  } finally {
    await trail.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('ReadAudit filters: since, vm, operation id, newest `limit`, across rotated files; torn lines counted, not returned', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kvmclone-audit-read-'));
  const file = join(dir, 'audit.log');
  const mk = (i: number, vm: string, op: string): AuditRecord => ({
    v: 1,
    time: new Date(Date.UTC(2026, 11, 1, 10, i)).toISOString(),
    method: `${V1}DiskService/RemoveImage`,
    caller: null,
    operationId: op,
    vm,
    paths: [],
    outcome: 'ok',
    code: 'OK',
    message: null,
    durationMs: 1,
  });
  try {
    await writeFile(`${file}.20261201T100300.000Z`, [0, 1, 2].map((i) => recordLine(mk(i, 'a', 'op-aaaaaaaa'))).join(''));
    await writeFile(`${file}.20261201T100600.000Z`, [3, 4, 5].map((i) => recordLine(mk(i, 'b', 'op-bbbbbbbb'))).join('') + '{"v":1,"ti');
    await writeFile(file, `\n${[6, 7, 8].map((i) => recordLine(mk(i, 'a', 'op-cccccccc'))).join('')}`);
    const q = (raw: Partial<{ since: string; vm: string; operationId: string; limit: number }>) => checkAuditQuery({ since: '', vm: '', operationId: '', limit: 0, ...raw });
    const all = await readAudit(file, q({}));
    assert.deepEqual(
      all.records.map((r) => new Date(r.time).getUTCMinutes()),
      [0, 1, 2, 3, 4, 5, 6, 7, 8],
    );
    assert.equal(all.unreadable, 1);
    assert.deepEqual(
      (await readAudit(file, q({ vm: 'a' }))).records.map((r) => new Date(r.time).getUTCMinutes()),
      [0, 1, 2, 6, 7, 8],
    );
    assert.deepEqual((await readAudit(file, q({ operationId: 'op-bbbbbbbb' }))).records.length, 3);
    assert.deepEqual(
      (await readAudit(file, q({ since: '2026-12-01T10:05:00Z' }))).records.map((r) => new Date(r.time).getUTCMinutes()),
      [5, 6, 7, 8],
    );
    assert.deepEqual(
      (await readAudit(file, q({ limit: 2 }))).records.map((r) => new Date(r.time).getUTCMinutes()),
      [7, 8],
    );
    // A rotated file whose rotation came before `since` is not even opened.
    assert.equal((await readAudit(file, q({ since: '2026-12-01T10:06:30Z' }))).unreadable, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('ReadAudit input is validated, each field named', () => {
  const bad = (raw: Partial<{ since: string; vm: string; operationId: string; limit: number }>, field: RegExp) =>
    assert.throws(
      () => checkAuditQuery({ since: '', vm: '', operationId: '', limit: 0, ...raw }),
      (err: unknown) => err instanceof KvmcloneError && err.code === 'INVALID_ARGUMENT' && field.test(err.message),
    );
  bad({ since: 'yesterday' }, /^since: /);
  bad({ since: '2026-12-01T10:00:00' }, /^since: .*with a zone/);
  bad({ vm: '../etc' }, /^vm: /);
  bad({ operationId: 'x'.repeat(100) }, /^operation_id: /);
  bad({ limit: 100_001 }, /^limit: /);
  assert.equal(checkAuditQuery({ since: '', vm: '', operationId: '', limit: 0 }).limit, 1000);
});
