/**
 * The agent's roles on the testbed, through real sshd and both SSH engines:
 * kvmctl ls, hosts check and the dry runs of clone and sync work with only
 * the read-only socket reachable (the admin socket given as a path that does
 * not exist); ls falls back to the admin socket, with a debug event, when
 * the read-only socket is missing (an older agent); and a mutating call sent
 * through an SSH forward of agent-ro.sock is PERMISSION_DENIED.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { unaryCall } from '../../shared/agent-clients.js';
import { cloneToHostb, kvmctl } from '../support/kvmctl.js';
import { hostExec } from '../support/testbed.js';
import { forwardedAgent } from '../support/forwarded-agent.js';
import { downHosts, upHosts } from '../support/e2e-hosts.js';
import { makeTwoDiskVm } from '../support/two-disk-vm.js';
import { rejectsWithStatus } from '../support/grpc-status.js';

const ABSENT_ADMIN = ['--agent-socket', '/run/kvmclone/absent-admin.sock'];
const ABSENT_RO = ['--agent-ro-socket', '/run/kvmclone/absent-ro.sock'];
let state: string;

before(async () => {
  state = await upHosts('roles');
  await makeTwoDiskVm('hosta', 'vr1', { rawGiB: 1, dataMiB: 8 });
  await cloneToHostb('vr1', state);
});

after(() => downHosts(state));

test('the testbed agents serve agent-ro.sock beside agent.sock, 0660', async () => {
  const out = await hostExec('hosta', ['stat', '-c', '%F %a', '/run/kvmclone/agent.sock', '/run/kvmclone/agent-ro.sock']);
  assert.deepEqual(out.trim().split('\n'), ['socket 660', 'socket 660']);
});

for (const engine of ['openssh', 'ssh2'] as const) {
  test(`${engine}: kvmctl ls and hosts check need only the read-only socket`, async () => {
    const ls = await kvmctl(['--json', ...ABSENT_ADMIN, 'ls', 'hosta'], { stateDir: state, engine });
    assert.equal(ls.code, 0, `${ls.stdout}\n${ls.stderr}`);
    const vms = ls.result?.vms as { name: string; disks: unknown[] }[];
    assert.deepEqual(vms.find((v) => v.name === 'vr1')?.disks.length, 2);
    assert.ok(!ls.events.some((e) => e.type === 'debug'), 'no fallback');
    const check = await kvmctl(['--json', ...ABSENT_ADMIN, 'hosts', 'check', 'hosta', 'hostb'], { stateDir: state, engine });
    assert.equal(check.code, 0, `${check.stdout}\n${check.stderr}`);
    assert.equal((check.result?.hosts as unknown[]).length, 2);
  });

  test(`${engine}: an agent without a read-only socket — ls falls back to the admin socket and says so in a debug event`, async () => {
    const started = Date.now();
    const ls = await kvmctl(['--json', ...ABSENT_RO, 'ls', 'hosta'], { stateDir: state, engine });
    assert.equal(ls.code, 0, `${ls.stdout}\n${ls.stderr}`);
    assert.ok((ls.result?.vms as { name: string }[]).some((v) => v.name === 'vr1'));
    const debug = ls.events.filter((e) => e.type === 'debug').map((e) => String(e.message));
    assert.equal(debug.length, 1, debug.join('\n'));
    assert.match(debug[0] ?? '', /^hosta: the agent's read-only socket \/run\/kvmclone\/absent-ro\.sock cannot be reached .*using its admin socket \/run\/kvmclone\/agent\.sock/);
    assert.ok(Date.now() - started < 30_000, `the fallback is quick (${Date.now() - started} ms)`);
  });
}

test('clone --dry-run and sync --dry-run need only the read-only socket; a real run needs the admin one', async () => {
  const clone = await kvmctl(['--json', ...ABSENT_ADMIN, 'clone', 'vr1', '--from', 'hosta', '--to', 'hostb', '--name', 'vr1-dry', '--dry-run'], { stateDir: state });
  assert.equal(clone.code, 0, `${clone.stdout}\n${clone.stderr}`);
  assert.equal(clone.result?.dryRun, true);
  await hostExec('hosta', ['bash', '-c', 'dd if=/dev/urandom of=/var/lib/libvirt/images/vr1-data.raw bs=64k count=3 seek=100 conv=notrunc status=none']);
  const sync = await kvmctl(['--json', ...ABSENT_ADMIN, 'sync', 'vr1', '--from', 'hosta', '--to', 'hostb', '--dry-run'], { stateDir: state });
  assert.equal(sync.code, 0, `${sync.stdout}\n${sync.stderr}`);
  assert.equal(sync.result?.changedBlocks, 3);
  const real = await kvmctl(['--json', ...ABSENT_ADMIN, 'sync', 'vr1', '--from', 'hosta', '--to', 'hostb'], { stateDir: state });
  assert.notEqual(real.code, 0, 'a real sync cannot run on the read-only socket');
  assert.equal((real.result?.error as { code: string }).code, 'UNAVAILABLE');
});

test('through an SSH forward of agent-ro.sock: GetInfo is served, DefineDomain is PERMISSION_DENIED and defines nothing', async () => {
  const agent = await forwardedAgent('hostb', '/run/kvmclone/agent-ro.sock');
  const clients = agent.clients;
  try {
    const info = await unaryCall(clients.info, clients.info.getInfo, {}, { deadlineMs: 15_000 });
    assert.deepEqual(info.apiVersions, ['v1']);
    const xml = `<domain type='qemu'><name>ro-e2e</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>`;
    const details = await rejectsWithStatus(unaryCall(clients.domain, clients.domain.defineDomain, { xml, operationId: '' }, { deadlineMs: 15_000 }), 'PERMISSION_DENIED');
    assert.match(details, /^DefineDomain .* read-only socket \/run\/kvmclone\/agent-ro\.sock/);
    assert.ok(!(await hostExec('hostb', ['virsh', '-c', 'qemu:///system', 'list', '--all', '--name'])).includes('ro-e2e'));
  } finally {
    await agent.close();
  }
});
