/**
 * kvmctl audit's arguments and table: --since as a duration back from now or
 * as a time, filters checked before any connection, and one line per record.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSince } from '../../controller/audit/audit-query.js';
import { auditTable, shortMethod } from '../../controller/audit/audit-table.js';
import { auditFilters } from '../../controller/commands/audit.js';
import { KvmcloneError } from '../../shared/errors.js';
import type { AuditEntry__Output } from '../../shared/generated/kvmclone/agent/v1/AuditEntry.js';

const NOW = new Date('2026-12-02T12:00:00.000Z');

test('--since: durations back from now, times with or without a zone', () => {
  assert.equal(parseSince('90s', NOW), '2026-12-02T11:58:30.000Z');
  assert.equal(parseSince('30m', NOW), '2026-12-02T11:30:00.000Z');
  assert.equal(parseSince('12h', NOW), '2026-12-02T00:00:00.000Z');
  assert.equal(parseSince('7d', NOW), '2026-11-25T12:00:00.000Z');
  assert.equal(parseSince('2026-12-01T08:30:00Z', NOW), '2026-12-01T08:30:00.000Z');
  assert.equal(parseSince('2026-12-01T08:30+02:00', NOW), '2026-12-01T06:30:00.000Z');
  assert.equal(parseSince('2026-12-01', NOW), new Date(2026, 11, 1).toISOString(), 'a date is local midnight');
  for (const bad of ['yesterday', '', '-5m', '2026-13-45', '5 parsecs']) {
    assert.throws(
      () => parseSince(bad, NOW),
      (err: unknown) => err instanceof KvmcloneError && err.code === 'INVALID_ARGUMENT',
      bad,
    );
  }
});

test('filters: defaults, and each bad one named', () => {
  assert.deepEqual(auditFilters({}, NOW), { since: '', vm: '', operationId: '', limit: 1000 });
  assert.deepEqual(auditFilters({ since: '1h', vm: 'web1', op: '0b9e3c2a-1111-4222-8333-444455556666', limit: '5' }, NOW), {
    since: '2026-12-02T11:00:00.000Z',
    vm: 'web1',
    operationId: '0b9e3c2a-1111-4222-8333-444455556666',
    limit: 5,
  });
  assert.throws(() => auditFilters({ limit: '1.5' }), /--limit/);
  assert.throws(() => auditFilters({ vm: 'a b' }), /--vm/);
});

test('the table: one line per record, the reason shown for a refused call, "-" for an unknown caller', () => {
  const base: AuditEntry__Output = {
    v: 1,
    time: '2026-12-02T11:00:00.000Z',
    method: '/kvmclone.agent.v1.DiskService/RemoveImage',
    caller: { uid: 0, gid: 0, pid: 77, role: 'admin' },
    operationId: '0b9e3c2a-1111-4222-8333-444455556666',
    vm: '',
    paths: ['/images/a.raw'],
    outcome: 'ok',
    code: 'OK',
    message: '',
    durationMs: 3.4,
  };
  const text = auditTable([base, { ...base, caller: null, code: 'INVALID_ARGUMENT', outcome: 'error', message: "path: contains a '..' segment", vm: 'web1' }]);
  const lines = text.trimEnd().split('\n');
  assert.equal(lines.length, 3);
  assert.match(lines[0] ?? '', /^TIME +CALL +CODE +VM +OPERATION +CALLER +MS +PATHS/);
  assert.match(lines[1] ?? '', /DiskService\/RemoveImage +OK +- +0b9e3c2a +0:0\/77 +3 +\/images\/a\.raw$/);
  assert.match(lines[2] ?? '', /INVALID_ARGUMENT +web1 +0b9e3c2a +- .*\/images\/a\.raw {2}path: contains a '\.\.' segment$/);
  assert.equal(shortMethod('/kvmclone.agent.v1.TransferService/PullImage'), 'TransferService/PullImage');
});
