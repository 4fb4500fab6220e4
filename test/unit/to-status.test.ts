import { test } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { pino } from 'pino';
import { toStatus } from '../../agent/rpc/to-status.js';
import { KvmcloneError, dataLoss } from '../../shared/errors.js';

function errno(code: string, syscall = 'write', path?: string): NodeJS.ErrnoException {
  const err = new Error(`${code}: boom`) as NodeJS.ErrnoException;
  err.code = code;
  err.syscall = syscall;
  if (path !== undefined) err.path = path;
  return err;
}

function capture(): { log: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const log = pino({ level: 'error' }, { write: (line: string) => lines.push(line) });
  return { log, lines };
}

test('known errors keep their code and message', () => {
  const { log } = capture();
  const s = toStatus(dataLoss('chunk at 4096 does not match its hash'), log, 'm');
  assert.equal(s.code, status.DATA_LOSS);
  assert.equal(s.details, 'chunk at 4096 does not match its hash');
  assert.deepEqual(s.metadata.get('kvmclone-error-code'), ['DATA_LOSS']);
});

test('Node errno codes are mapped explicitly, never UNKNOWN', () => {
  const { log } = capture();
  assert.equal(toStatus(errno('ENOSPC'), log, 'm').code, status.RESOURCE_EXHAUSTED);
  assert.equal(toStatus(errno('EDQUOT'), log, 'm').code, status.RESOURCE_EXHAUSTED);
  assert.equal(toStatus(errno('EACCES', 'open', '/x'), log, 'm').code, status.PERMISSION_DENIED);
  assert.equal(toStatus(errno('ENOENT', 'open', '/x'), log, 'm').code, status.NOT_FOUND);
  assert.equal(toStatus(errno('EEXIST', 'link'), log, 'm').code, status.ALREADY_EXISTS);
  assert.match(toStatus(errno('ENOSPC', 'write', '/img/a.raw'), log, 'm').details, /no space left on device.*\/img\/a\.raw/);
});

test('aborts become CANCELLED, deadlines DEADLINE_EXCEEDED, and a shutdown reason keeps its code', () => {
  const { log } = capture();
  assert.equal(toStatus(new DOMException('x', 'AbortError'), log, 'm').code, status.CANCELLED);
  assert.equal(toStatus(new DOMException('x', 'TimeoutError'), log, 'm').code, status.DEADLINE_EXCEEDED);
  const wrapped = new Error('aborted', { cause: new KvmcloneError('UNAVAILABLE', 'the agent is shutting down') });
  wrapped.name = 'AbortError';
  const s = toStatus(wrapped, log, 'm');
  assert.equal(s.code, status.UNAVAILABLE);
  assert.equal(s.details, 'the agent is shutting down');
});

test('unknown errors are INTERNAL with a generic text on the wire and the full error in the log', () => {
  const { log, lines } = capture();
  const s = toStatus(new TypeError('secret detail /root/.ssh/id_ed25519'), log, 'DiskService/ReadRanges');
  assert.equal(s.code, status.INTERNAL);
  assert.doesNotMatch(s.details, /secret/);
  const ref = /reference ([0-9a-f-]{36})/.exec(s.details)?.[1];
  assert.ok(ref, s.details);
  assert.equal(lines.length, 1);
  assert.match(lines[0] ?? '', /secret detail/);
  assert.match(lines[0] ?? '', new RegExp(ref));
});
