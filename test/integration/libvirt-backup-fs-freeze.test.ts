/**
 * The adapter's fsFreeze and fsThaw against a real libvirtd — a throwaway
 * one (libvirt-sandbox.sh) — and running guests without a guest agent
 * (support/libvirt-backup-sandbox.ts): one with no agent channel, one with a
 * channel nobody answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isGuestAgentUnavailable } from '../../agent/libvirt/libvirt-errors.js';
import { failure } from '../support/kvmclone-failure.js';
import { skip, useBackupSandbox, VM, VM_AGENT } from './support/libvirt-backup-sandbox.js';

const sandbox = useBackupSandbox({ agentVm: true });

test('fsFreeze without a guest agent fails at once with a recognisable error; the timeout is DEADLINE_EXCEEDED', { skip }, async () => {
  for (const [vm, text] of [
    [VM, /QEMU guest agent is not configured/],
    [VM_AGENT, /QEMU guest agent is not connected/],
  ] as const) {
    const started = Date.now();
    const frozen = await failure(sandbox.adapter.fsFreeze(vm, 10_000));
    assert.ok(Date.now() - started < 5_000, 'at once');
    assert.equal(frozen.code, 'FAILED_PRECONDITION');
    assert.ok(isGuestAgentUnavailable(frozen), frozen.message);
    assert.match(frozen.message, text);
    const thawed = await failure(sandbox.adapter.fsThaw(vm, 10_000));
    assert.ok(isGuestAgentUnavailable(thawed), thawed.message);
  }
  const late = await failure(sandbox.adapter.fsFreeze(VM_AGENT, 1));
  assert.equal(late.code, 'DEADLINE_EXCEEDED');
  assert.match(late.message, /did not answer within 1 ms/);
  assert.ok(!isGuestAgentUnavailable(late));
});
