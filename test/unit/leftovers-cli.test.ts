/**
 * How kvmctl reads --older-than and prints leftovers (controller/operations/leftovers.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KvmcloneError } from '../../shared/errors.js';
import { formatAge, kindName, leftoverLine, leftoverReport, parseOlderThan } from '../../controller/operations/leftovers.js';

test('--older-than takes seconds, minutes, hours and days; anything else is INVALID_ARGUMENT', () => {
  assert.equal(parseOlderThan('90s'), 90);
  assert.equal(parseOlderThan('30m'), 1800);
  assert.equal(parseOlderThan('1h'), 3600);
  assert.equal(parseOlderThan('7d'), 7 * 86400);
  assert.equal(parseOlderThan('0'), 0);
  for (const bad of ['', 'soon', '-1h', '1y', '1h30m']) {
    assert.throws(
      () => parseOlderThan(bad),
      (err: unknown) => err instanceof KvmcloneError && err.code === 'INVALID_ARGUMENT',
      bad,
    );
  }
});

test('a leftover prints with its kind, operation, age, size, state, path and reason', () => {
  const l = leftoverReport({
    kind: 'LEFTOVER_KIND_PEER_SOCKET',
    path: '/run/kvmclone/forward/peer-op-1.sock',
    operationId: 'op-12345678',
    ageSeconds: 7300.4,
    running: false,
    committed: false,
    sizeBytes: 0,
    keepReason: '',
  });
  assert.equal(l.kind, 'peer-socket');
  assert.equal(l.ageSeconds, 7300);
  assert.equal(leftoverLine(l, true), 'peer-socket   operation op-12345678, 2 h old: /run/kvmclone/forward/peer-op-1.sock');
  const j = leftoverReport({
    kind: 'LEFTOVER_KIND_JOURNAL',
    path: '/i/.a.kvmclone-journal',
    operationId: '',
    ageSeconds: 30,
    running: false,
    committed: true,
    sizeBytes: 2 * 1024 * 1024,
    keepReason: 'a committed sync journal',
  });
  assert.match(leftoverLine(j, true), /^journal +operation unknown, 30 s old, 2(\.0)? MiB, committed: \/i\/\.a\.kvmclone-journal — kept: a committed sync journal$/);
  assert.doesNotMatch(leftoverLine(j, false), /kept/);
  assert.equal(kindName('LEFTOVER_KIND_BACKUP_SOCKET'), 'backup-socket');
  assert.equal(formatAge(90), '90 s');
  assert.equal(formatAge(600), '10 min');
  assert.equal(formatAge(3 * 86400), '3 d');
});
