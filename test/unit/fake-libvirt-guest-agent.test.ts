/**
 * The fake's live-copy half (LibvirtLivePort), which callers' unit tests rely
 * on to behave as libvirt 9.0 does: the guest agent's freeze and thaw, and
 * the ways it fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isDomainNotRunning, isGuestAgentUnavailable } from '../../agent/libvirt/libvirt-errors.js';
import { running } from '../support/fake-live-domain.js';
import { failure } from '../support/kvmclone-failure.js';

test('guest agent: freeze and thaw, missing, not connected, hanging', async () => {
  const fake = await running();
  assert.equal(await fake.fsFreeze('web', 1000), 2);
  assert.equal(fake.isFrozen('web'), true);
  assert.equal(await fake.fsThaw('web', 1000), 2);
  assert.equal(fake.isFrozen('web'), false);

  fake.guestAgent = 'not-connected';
  const notConnected = await failure(fake.fsFreeze('web', 1000));
  assert.equal(notConnected.code, 'FAILED_PRECONDITION');
  assert.ok(isGuestAgentUnavailable(notConnected));
  assert.match(notConnected.message, /QEMU guest agent is not connected/);
  fake.guestAgent = 'not-configured';
  const notConfigured = await failure(fake.fsThaw('web', 1000));
  assert.equal(notConfigured.code, 'FAILED_PRECONDITION');
  assert.ok(isGuestAgentUnavailable(notConfigured));

  fake.guestAgent = 'hang';
  const started = Date.now();
  const hung = await failure(fake.fsFreeze('web', 50));
  assert.equal(hung.code, 'DEADLINE_EXCEEDED');
  assert.ok(Date.now() - started < 1000);
  assert.ok(!isGuestAgentUnavailable(hung));
  const controller = new AbortController();
  const pending = fake.fsFreeze('web', 60_000, { signal: controller.signal });
  controller.abort();
  await assert.rejects(pending, { name: 'AbortError' });

  fake.guestAgent = 'ok';
  await fake.destroyDomain('web');
  assert.ok(isDomainNotRunning(await failure(fake.fsFreeze('web', 1000))));
  assert.ok(fake.calls.includes('fsFreeze web'));
});
