/**
 * The error predicates of the live-copy calls on libvirt 9.0's own messages
 * (as virsh printed them in the sandbox, see test/integration/libvirt-backup-checkpoints.test.ts),
 * raw and through the port's error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  isBackupScratchExists,
  isCheckpointExists,
  isCheckpointInconsistent,
  isCheckpointUnsupported,
  isDomainExists,
  isDomainNotRunning,
  isGuestAgentUnavailable,
  isNoActiveJob,
  isNoBackupJob,
  isNoCheckpoint,
  libvirtFailure,
} from '../../agent/libvirt/libvirt-errors.js';
import { CommandError } from '../../agent/process/run-command.js';
import { KvmcloneError } from '../../shared/errors.js';

/** What runCommand rejects with when virsh fails. */
const virsh = (stderr: string): CommandError => new CommandError('virsh', ['-c', 'qemu:///system', 'x'], 1, stderr, `virsh x failed: ${stderr}`);
const mapped = (err: unknown): unknown => libvirtFailure(err, 'doing it');

// stderr as libvirt 9.0's virsh printed it in the sandbox
const MESSAGES: ReadonlyArray<readonly [string, string, string, (err: unknown) => boolean]> = [
  ['no backup job', 'error: Domain backup job id not found: no domain backup job present', 'NOT_FOUND', isNoBackupJob],
  ['abort without a job', 'error: Requested operation is not valid: no job is active on the domain', 'FAILED_PRECONDITION', isNoActiveJob],
  ['unknown checkpoint', "error: Domain checkpoint not found: no domain checkpoint with matching name 'nope'", 'NOT_FOUND', isNoCheckpoint],
  ['incremental base unknown', "error: Domain checkpoint not found: Checkpoint 'kvmclone.nope' for incremental backup of disk 'vdb' not found", 'NOT_FOUND', isNoCheckpoint],
  ['inconsistent bitmap', "error: checkpoint inconsistent: missing or broken bitmap 'kvmclone.t1.2' for disk 'vdb'", 'FAILED_PRECONDITION', isCheckpointInconsistent],
  [
    'deleting a broken checkpoint',
    "error: Failed to delete checkpoint kvmclone.t1.2\nerror: internal error: bitmap 'kvmclone.t1.2' not found in backing chain of 'vdb'",
    'FAILED_PRECONDITION',
    isCheckpointInconsistent,
  ],
  ['raw disk', 'error: unsupported configuration: checkpoint for disk vdc unsupported for storage type raw', 'FAILED_PRECONDITION', isCheckpointUnsupported],
  ['checkpoint exists', 'error: operation failed: domain moment kvmclone.t1.1 already exists', 'ALREADY_EXISTS', isCheckpointExists],
  ['scratch exists', "error: invalid argument: store '/tmp/s/vdb.scratch' for backup of 'vdb' exists", 'ALREADY_EXISTS', isBackupScratchExists],
  [
    'agent not connected',
    'error: Unable to freeze filesystems\nerror: Guest agent is not responding: QEMU guest agent is not connected',
    'FAILED_PRECONDITION',
    isGuestAgentUnavailable,
  ],
  ['agent not configured', 'error: Unable to thaw filesystems\nerror: argument unsupported: QEMU guest agent is not configured', 'FAILED_PRECONDITION', isGuestAgentUnavailable],
  ['not running', 'error: Requested operation is not valid: domain is not running', 'FAILED_PRECONDITION', isDomainNotRunning],
  ['backup of a stopped domain', 'error: Operation not supported: cannot perform disk backup for inactive domain', 'FAILED_PRECONDITION', isDomainNotRunning],
  [
    'checkpoint of a stopped domain',
    'error: Failed to delete checkpoint kvmclone.t1.2\nerror: Operation not supported: cannot delete checkpoint for inactive domain',
    'FAILED_PRECONDITION',
    isDomainNotRunning,
  ],
];

for (const [name, stderr, code, predicate] of MESSAGES) {
  test(`libvirt 9.0 says "${name}": ${code}, and the predicate sees it raw and through the port's error`, () => {
    const raw = virsh(stderr);
    assert.ok(predicate(raw));
    const err = mapped(raw);
    assert.ok(err instanceof KvmcloneError);
    assert.equal(err.code, code);
    assert.ok(predicate(err));
  });
}

test("the live predicates do not match each other's messages", () => {
  for (const [name, stderr, , predicate] of MESSAGES) {
    for (const [other, otherStderr, , otherPredicate] of MESSAGES) {
      if (predicate === otherPredicate) continue;
      assert.ok(!predicate(virsh(otherStderr)), `${name}'s predicate matched "${other}"`);
    }
    assert.ok(!predicate(new Error(stderr)), 'a plain Error is no libvirt failure');
  }
  assert.ok(isDomainExists(virsh("error: operation failed: domain 'p1' already exists with uuid 65c0b1eb-b408-4050-9f94-df6cf7bf9508")));
});
