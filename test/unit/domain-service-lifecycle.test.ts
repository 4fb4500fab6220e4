/**
 * DomainService's StartDomain, ResumeDomain, ShutdownDomain and DestroyDomain
 * over the fake libvirt (test/support/domain-service-server.ts): the state
 * checks, the lock holder's paused start and resume, and shutdown's wait.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unaryCall } from '../../shared/agent-clients.js';
import { rejectsWithStatus } from '../support/grpc-status.js';
import { useDomainServiceServer, UUID_A, call, clients, fake, locks, vmXml } from '../support/domain-service-server.js';

useDomainServiceServer();

test('StartDomain and DestroyDomain check the state first', async () => {
  await fake.addDomain(vmXml('life'));
  const started = await unaryCall(clients.domain, clients.domain.startDomain, { name: 'life' }, call);
  assert.equal(started.domain?.state, 'DOMAIN_STATE_RUNNING');
  assert.match(await rejectsWithStatus(unaryCall(clients.domain, clients.domain.startDomain, { name: 'life' }, call), 'FAILED_PRECONDITION'), /it is running, not shut off/);
  const destroyed = await unaryCall(clients.domain, clients.domain.destroyDomain, { name: 'life' }, call);
  assert.equal(destroyed.domain?.state, 'DOMAIN_STATE_SHUTOFF');
  assert.match(await rejectsWithStatus(unaryCall(clients.domain, clients.domain.destroyDomain, { name: 'life' }, call), 'FAILED_PRECONDITION'), /already shut off/);
  await rejectsWithStatus(unaryCall(clients.domain, clients.domain.startDomain, { name: 'nope' }, call), 'NOT_FOUND');
});

test('StartDomain paused leaves the CPUs stopped; ResumeDomain runs it, only when paused and only for the lock holder', async () => {
  const OP = 'op-fedcba9876543210';
  await fake.addDomain(vmXml('firstinstant', { uuid: UUID_A }));
  const paused = await unaryCall(clients.domain, clients.domain.startDomain, { name: 'firstinstant', paused: true }, call);
  assert.equal(paused.domain?.state, 'DOMAIN_STATE_PAUSED');
  const release = locks.acquire('firstinstant', OP, 'failover of replica r1');
  try {
    assert.match(
      await rejectsWithStatus(unaryCall(clients.domain, clients.domain.resumeDomain, { name: 'firstinstant' }, call), 'FAILED_PRECONDITION'),
      new RegExp(`cannot resume domain 'firstinstant': operation ${OP}`),
    );
    const resumed = await unaryCall(clients.domain, clients.domain.resumeDomain, { name: 'firstinstant', operationId: OP }, call);
    assert.equal(resumed.domain?.state, 'DOMAIN_STATE_RUNNING');
  } finally {
    release();
  }
  assert.match(await rejectsWithStatus(unaryCall(clients.domain, clients.domain.resumeDomain, { name: 'firstinstant' }, call), 'FAILED_PRECONDITION'), /it is running, not paused/);
  await rejectsWithStatus(unaryCall(clients.domain, clients.domain.resumeDomain, { name: 'nope' }, call), 'NOT_FOUND');
  await rejectsWithStatus(unaryCall(clients.domain, clients.domain.resumeDomain, { name: '../x' }, call), 'INVALID_ARGUMENT');
});

test('ShutdownDomain returns at once without a wait, and waits for power-off with one', async () => {
  await fake.addDomain(vmXml('s1'), 'running');
  fake.guestShutdown = 'ignore';
  const now = await unaryCall(clients.domain, clients.domain.shutdownDomain, { name: 's1', waitSeconds: 0 }, call);
  assert.equal(now.domain?.state, 'DOMAIN_STATE_RUNNING');
  fake.guestShutdown = 'poweroff';
  fake.shutdownDelayMs = 600;
  const started = Date.now();
  const waited = await unaryCall(clients.domain, clients.domain.shutdownDomain, { name: 's1', waitSeconds: 5 }, call);
  assert.equal(waited.domain?.state, 'DOMAIN_STATE_SHUTOFF');
  assert.ok(Date.now() - started >= 500, 'it waited for the guest');
  assert.match(await rejectsWithStatus(unaryCall(clients.domain, clients.domain.shutdownDomain, { name: 's1' }, call), 'FAILED_PRECONDITION'), /already shut off/);
  await rejectsWithStatus(unaryCall(clients.domain, clients.domain.shutdownDomain, { name: 's1', waitSeconds: 3601 }, call), 'INVALID_ARGUMENT');
});

test('ShutdownDomain: DEADLINE_EXCEEDED when the guest ignores it; the call deadline ends the wait early', async () => {
  await fake.addDomain(vmXml('stubborn'), 'running');
  fake.guestShutdown = 'ignore';
  let started = Date.now();
  const details = await rejectsWithStatus(unaryCall(clients.domain, clients.domain.shutdownDomain, { name: 'stubborn', waitSeconds: 1 }, call), 'DEADLINE_EXCEEDED');
  assert.match(details, /did not power off within 1 s and is running/);
  assert.ok(Date.now() - started >= 900 && Date.now() - started < 5000);
  started = Date.now();
  await rejectsWithStatus(unaryCall(clients.domain, clients.domain.shutdownDomain, { name: 'stubborn', waitSeconds: 600 }, { deadlineMs: 400 }), 'DEADLINE_EXCEEDED');
  assert.ok(Date.now() - started < 3000, 'the wait honoured the deadline');
  assert.equal((await fake.getDomain('stubborn')).state, 'running', 'the guest keeps running');
});
