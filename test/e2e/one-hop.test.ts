/**
 * kvmctl run on one of the hypervisors: a HOST that is that machine (an ssh
 * alias whose HostName is one of its addresses, or `local`) is reached
 * through the agent's socket directly, so the data path has one SSH hop —
 * the other host's. Proved from outside: the host kvmctl runs on logs no SSH
 * login during the run (its sshd.log), the other host does; with
 * `ssh.local: off` the same run logs in to itself. Both directions: kvmctl
 * on the source (its peer socket forwarded straight to the destination)
 * and on the destination (the source's forward bound in its agent's
 * forward directory). Each clone is then removed with `kvmctl delete
 * --storage`, checked on the host's libvirt and files.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kvmctl, writeKvmctlConfig } from '../support/kvmctl.js';
import { E2E_DIR, hostDown, hostExec, hostUp, routeHosts } from '../support/testbed.js';
import { makeTwoDiskVm } from '../support/two-disk-vm.js';

let state: string;
let unroute: (() => Promise<void>) | undefined;

before(async () => {
  await Promise.all(['hosta', 'hostb'].map(hostDown));
  await hostUp('hosta', 1);
  await hostUp('hostb', 2);
  unroute = await routeHosts();
  state = await mkdtemp(join(tmpdir(), 'kvmclone-one-hop-e2e-'));
  await makeTwoDiskVm('hosta', 'vm1', { rawGiB: 1, dataMiB: 24 });
});

after(async () => {
  await unroute?.();
  await Promise.all(['hosta', 'hostb'].map(hostDown));
  await rm(state, { recursive: true, force: true });
});

/** SSH logins a host's sshd has accepted so far. */
async function logins(host: string): Promise<number> {
  const log = await readFile(join(E2E_DIR, host, 'sshd.log'), 'utf8').catch(() => '');
  return log.split('\n').filter((l) => l.includes('Accepted publickey')).length;
}

async function cloneOn(onHost: string, args: string[]): Promise<{ code: number; result: Record<string, unknown> | undefined; stderr: string; logins: Record<string, number> }> {
  const before = { hosta: await logins('hosta'), hostb: await logins('hostb') };
  const r = await kvmctl(['--json', 'clone', ...args], { stateDir: state, onHost });
  return { code: r.code, result: r.result, stderr: r.stderr, logins: { hosta: (await logins('hosta')) - before.hosta, hostb: (await logins('hostb')) - before.hostb } };
}

/**
 * Removes a clone with `kvmctl delete --storage` (run here, through SSH): its
 * own images go, the backing file it shares with the other clones stays
 * (said with the reason), and libvirt no longer knows the domain.
 */
async function removeClone(host: string, name: string): Promise<void> {
  const out = await kvmctl(['--json', 'delete', name, '--on', host, '--storage', '--yes'], { stateDir: state });
  assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
  const removed = (out.result?.removedPaths as string[]).map((p) => p.split('/').pop()).sort();
  assert.deepEqual(removed, [`${name}-data.raw`, `${name}.qcow2`]);
  const kept = out.result?.kept as { path: string; reason: string }[];
  assert.ok(
    kept.some((k) => k.path.endsWith('vm1-base.qcow2') && /backing file/.test(k.reason)),
    JSON.stringify(kept),
  );
  const names = (await hostExec(host, ['virsh', '-c', 'qemu:///system', 'list', '--all', '--name'])).split('\n').map((l) => l.trim());
  assert.ok(!names.includes(name), `${name} is still defined on ${host}`);
}

test('kvmctl on the source host: hosta is itself, no SSH login there, one hop to hostb; the clone verifies', async () => {
  const r = await cloneOn('hosta', ['vm1', '--from', 'hosta', '--to', 'hostb', '--name', 'vm1-a']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.result?.ok, true, JSON.stringify(r.result));
  assert.equal(r.logins.hosta, 0, 'kvmctl on hosta logged in to hosta');
  assert.ok(r.logins.hostb >= 1, 'hostb is reached over SSH');
  await removeClone('hostb', 'vm1-a');
});

test('kvmctl on the destination host (`local`): the source forward lands in its forward directory; the clone verifies', async () => {
  const r = await cloneOn('hostb', ['vm1', '--from', 'hosta', '--to', 'local', '--name', 'vm1-b']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.result?.ok, true, JSON.stringify(r.result));
  assert.equal(r.logins.hostb, 0, 'kvmctl on hostb logged in to hostb');
  assert.ok(r.logins.hosta >= 1);
  assert.deepEqual((await hostExec('hostb', ['ls', '-A', '/run/kvmclone/forward'])).trim(), '', 'no peer socket is left');
  await removeClone('hostb', 'vm1-b');
});

test('ssh.local: off — the same run logs in to the host it runs on', async () => {
  await writeKvmctlConfig(state, 'ssh:\n  local: off\n');
  try {
    const r = await cloneOn('hosta', ['vm1', '--from', 'hosta', '--to', 'hostb', '--name', 'vm1-c']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.logins.hosta >= 1, 'with ssh.local off, hosta is reached over SSH');
    await removeClone('hostb', 'vm1-c');
  } finally {
    await writeKvmctlConfig(state, '');
  }
});
