/**
 * The one classifier of failures during a run: what a reconnect may cure
 * (transient) and what it never retries (permanent), as a table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { classifyFailure } from '../../controller/operations/retry/failure-class.js';
import { KvmcloneError, type ErrorCode } from '../../shared/errors.js';
import { fromStatus } from '../../shared/from-status.js';
import { SshError } from '../../controller/transport/ssh-engine.js';
import { fromSshError } from '../../controller/transport/ssh-error-code.js';

const OP = '6f0c3a5e-1d2b-4c3d-9e8f-0a1b2c3d4e5f';
const CTX = { operationId: OP, source: 'hosta', dest: 'hostb' };

function serviceError(code: status, details: string): ServiceError {
  return Object.assign(new Error(`${code} ${status[code]}: ${details}`), { code, details, metadata: new Metadata() });
}
function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: boom`), { code });
}
const k = (code: ErrorCode, message: string): KvmcloneError => new KvmcloneError(code, message);

const TABLE: [string, unknown, boolean, string | undefined][] = [
  // transient: the connection or the agent went away
  ['ssh master died (connection lost)', new SshError('unreachable', 'hostb', 'hostb: SSH connection lost: ssh exited with status 255'), true, 'hostb'],
  ['ssh failed otherwise', new SshError('other', 'hosta', 'hosta: ssh failed: Connection closed'), true, 'hosta'],
  ['ssh unreachable, mapped to UNAVAILABLE', fromSshError(new SshError('unreachable', 'hostb', 'hostb: cannot reach 10.0.0.2:22: Connection refused')), true, 'hostb'],
  ['agent restarting (forward reaches no socket)', fromStatus(serviceError(status.UNAVAILABLE, 'No connection established. Last error: connect ENOENT'), 'hostb'), true, 'hostb'],
  ['stream cut (Connection dropped)', fromStatus(serviceError(status.UNAVAILABLE, 'Connection dropped'), 'hostb'), true, 'hostb'],
  ['destination lost the source (said by hostb)', k('UNAVAILABLE', 'hostb: source agent: Connection dropped'), true, 'hosta'],
  [
    'RST_STREAM under a stream',
    fromStatus(serviceError(status.INTERNAL, 'Received RST_STREAM with code 2 triggered by internal client error: Session closed with error code 2'), 'hosta'),
    true,
    'hosta',
  ],
  [
    'staging file still locked by the cut pull',
    k('ABORTED', 'hostb: staging file 1234abcd is in use by another call (a write, commit or abort of the same staging id)'),
    true,
    'hostb',
  ],
  ['lock still held by this very run', k('ABORTED', `hostb: VM copy is locked by operation ${OP} (clone of vm from hosta) since 2026-12-02T10:00:00.000Z`), true, 'hostb'],
  ['raw ECONNRESET', errno('ECONNRESET'), true, undefined],
  ['raw grpc UNAVAILABLE', serviceError(status.UNAVAILABLE, 'Connection dropped'), true, undefined],
  ['libvirtd down (UNAVAILABLE)', k('UNAVAILABLE', 'hostb: libvirtd is not answering'), true, 'hostb'],
  // permanent: the same request would fail the same way
  ['unknown host key', new SshError('unknown-host-key', 'hostb', 'hostb: host key not known'), false, 'hostb'],
  ['changed host key', fromSshError(new SshError('changed-host-key', 'hostb', 'hostb: HOST KEY CHANGED')), false, 'hostb'],
  ['authentication', new SshError('auth', 'hostb', 'hostb: authentication failed'), false, 'hostb'],
  ['ssh config', new SshError('config', 'hostb', 'hostb: ssh configuration error'), false, 'hostb'],
  ['forward refused', new SshError('forward', 'hostb', 'hostb: cannot listen at hostb:/run/kvmclone/forward/peer-x.sock'), false, 'hostb'],
  ['ENOSPC on the destination', k('RESOURCE_EXHAUSTED', 'hostb: no space left on /var/lib/libvirt/images'), false, 'hostb'],
  ['raw ENOSPC', errno('ENOSPC'), false, undefined],
  ['raw EIO', errno('EIO'), false, undefined],
  ['bad input', k('INVALID_ARGUMENT', 'hostb: target_path: not under a root'), false, 'hostb'],
  ['refusal (VM running)', k('FAILED_PRECONDITION', 'hostb: domain copy is running'), false, 'hostb'],
  ['permission', k('PERMISSION_DENIED', 'hosta: outside the roots'), false, 'hosta'],
  [
    'lock held by another operation',
    k('ABORTED', 'hostb: VM copy is locked by operation 11111111-2222-3333-4444-555555555555 (sync) since 2026-12-02T10:00:00.000Z'),
    false,
    'hostb',
  ],
  ['damaged data', k('DATA_LOSS', 'vda: the copy on hostb does not match the source'), false, undefined],
  ['stalled transfer', k('DEADLINE_EXCEEDED', 'vda (/x on hostb) stalled at byte 1 of 2: no progress for 120 s; giving up'), false, undefined],
  ['interrupted by the user', k('CANCELLED', 'interrupted'), false, undefined],
  ['an AbortError', Object.assign(new Error('aborted'), { name: 'AbortError' }), false, undefined],
  ['an internal bug', k('INTERNAL', 'hostb: cannot read properties of undefined'), false, 'hostb'],
  ['a plain Error', new Error('something'), false, undefined],
];

for (const [name, err, transient, host] of TABLE) {
  test(`${transient ? 'transient' : 'permanent'}: ${name}`, () => {
    const c = classifyFailure(err, CTX);
    assert.equal(c.transient, transient);
    assert.equal(c.host, host);
    assert.equal(c.reason, (err as Error).message);
  });
}
