/**
 * Emulated TPM state across clone and sync (issue 16), on the testbed with
 * real swtpm (Debian swtpm, swtpm-tools): a VM with
 * `<tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>`,
 * started once so swtpm made its state under /var/lib/libvirt/swtpm/<uuid>/,
 * is cloned; the copy has a new UUID and the state under it, byte for byte,
 * and starts with it. A later change of the source's state is carried by
 * sync. State encrypted with a libvirt secret is refused, naming the secret,
 * until the destination's libvirt has that secret; then it is copied as it
 * is and the copy starts with it.
 * The agents have libvirt's swtpm directory among their image roots, as the
 * README says to configure it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { kvmctl, said } from '../support/kvmctl.js';
import { E2E_DIR, hostAgent, hostDown, hostExec, hostUp, IMAGES } from '../support/testbed.js';
import { sha } from '../support/chain-vm.js';
import { defineLines, testDomainXml } from '../support/test-domain.js';

const SWTPM = '/var/lib/libvirt/swtpm';
const PERMALL = 'tpm2/tpm2-00.permall';
const VIRSH = ['virsh', '-q', '-c', 'qemu:///system'];
const skip = existsSync('/usr/bin/swtpm') ? false : 'swtpm is not installed (Debian: apt-get install swtpm swtpm-tools)';
let state: string;

/** A VM with an emulated TPM 2.0 (its state encrypted with `secret` when given). */
async function makeTpmVm(host: string, name: string, secret?: string): Promise<void> {
  const encryption = secret === undefined ? '' : `<encryption secret='${secret}'/>`;
  const xml = testDomainXml(name, {
    disks: [{ file: `${IMAGES}/${name}.raw`, format: 'raw', target: 'vda' }],
    devices: [`<tpm model='tpm-crb'><backend type='emulator' version='2.0'>${encryption}</backend></tpm>`],
  });
  await hostExec(host, ['bash', '-c', ['set -e', `truncate -s 16M ${IMAGES}/${name}.raw`, ...defineLines(name, xml)].join('\n')]);
}

/** Starts `name` and waits until it runs (QEMU reports it paused for a moment under a loaded TCG host). */
async function startRunning(host: string, name: string): Promise<void> {
  await hostExec(host, [...VIRSH, 'start', name]);
  let now = '';
  for (let i = 0; i < 50 && !/running/.test(now); i++) {
    if (i > 0) await sleep(200);
    now = await hostExec(host, [...VIRSH, 'domstate', name]);
  }
  assert.match(now, /running/, `${name} runs on ${host}`);
}

async function uuidOf(host: string, name: string): Promise<string> {
  return (await hostExec(host, [...VIRSH, 'domuuid', name])).trim();
}

/** Adds libvirt's swtpm directory to the agent's image roots (agent.yaml) and restarts the agent. */
async function rootSwtpm(host: string): Promise<void> {
  await hostExec(host, ['bash', '-c', `mkdir -p ${SWTPM} && chmod 711 ${SWTPM}`]);
  await writeFile(join(E2E_DIR, host, 'etc-kvmclone', 'agent.yaml'), `socket_group: kvmclone\nimage_roots: [${IMAGES}, ${SWTPM}]\n`);
  await hostAgent(host, 'restart');
}

before(async () => {
  if (skip) return;
  await Promise.all(['hosta', 'hostb'].map(hostDown));
  await hostUp('hosta', 1);
  await hostUp('hostb', 2);
  await Promise.all(['hosta', 'hostb'].map(rootSwtpm));
  state = await mkdtemp(join(tmpdir(), 'kvmclone-tpm-e2e-'));
  await makeTpmVm('hosta', 'vt1');
  // Started once: swtpm_setup makes the state (an endorsement key, a fresh permall).
  await startRunning('hosta', 'vt1');
  await hostExec('hosta', [...VIRSH, 'destroy', 'vt1']);
});

after(async () => {
  if (skip) return;
  await Promise.all(['hosta', 'hostb'].map(hostDown));
  await rm(state, { recursive: true, force: true });
});

test("clone carries the TPM state under the copy's new UUID, and the copy starts with it", { skip }, async () => {
  const sourceUuid = await uuidOf('hosta', 'vt1');
  const sourceState = `${SWTPM}/${sourceUuid}/${PERMALL}`;
  const before = await sha('hosta', sourceState);
  const out = await kvmctl(['--json', 'clone', 'vt1', '--from', 'hosta', '--to', 'hostb', '--name', 'vt1-copy'], { stateDir: state });
  assert.equal(out.code, 0, said(out));
  const copyUuid = await uuidOf('hostb', 'vt1-copy');
  assert.notEqual(copyUuid, sourceUuid, 'the copy has a UUID of its own');
  assert.equal(out.result?.uuid, copyUuid);
  const tpmFiles = (out.result?.disks as { role: string; target: string; digest: string }[]).filter((d) => d.role === 'tpm');
  assert.deepEqual(
    tpmFiles.map((d) => d.target),
    [`${SWTPM}/${copyUuid}/${PERMALL}`],
    'the state file went under the new UUID',
  );
  assert.match(tpmFiles[0]?.digest ?? '', /^blake3:/, 'verified by digest like a disk');
  assert.equal(await sha('hostb', `${SWTPM}/${copyUuid}/${PERMALL}`), before, "the state is byte for byte the source's");
  assert.equal(await sha('hosta', sourceState), before, "the source's state is untouched");
  // swtpm (as libvirt's swtpm user) reads the carried state: the copy starts.
  await startRunning('hostb', 'vt1-copy');
  await hostExec('hostb', [...VIRSH, 'destroy', 'vt1-copy']);
  const owner = (await hostExec('hostb', ['stat', '-c', '%U', `${SWTPM}/${copyUuid}/${PERMALL}`])).trim();
  assert.equal(owner, 'tss', "libvirt handed the carried state to swtpm's user at start");
});

test("sync carries a change of the source's TPM state; the copy keeps its UUID and starts", { skip }, async () => {
  // Another VM's TPM state put in place of vt1's: a change as real as any swtpm makes (a new endorsement key).
  await makeTpmVm('hosta', 'vt2');
  await startRunning('hosta', 'vt2');
  await hostExec('hosta', [...VIRSH, 'destroy', 'vt2']);
  const sourceUuid = await uuidOf('hosta', 'vt1');
  const vt2State = `${SWTPM}/${await uuidOf('hosta', 'vt2')}/${PERMALL}`;
  await hostExec('hosta', ['cp', '--preserve=mode,ownership', vt2State, `${SWTPM}/${sourceUuid}/${PERMALL}`]);
  const changed = await sha('hosta', `${SWTPM}/${sourceUuid}/${PERMALL}`);
  const copyUuid = await uuidOf('hostb', 'vt1-copy');
  assert.notEqual(await sha('hostb', `${SWTPM}/${copyUuid}/${PERMALL}`), changed);

  const out = await kvmctl(['--json', 'sync', 'vt1', '--from', 'hosta', '--to', 'hostb', '--name', 'vt1-copy'], { stateDir: state });
  assert.equal(out.code, 0, said(out));
  assert.equal(await sha('hostb', `${SWTPM}/${copyUuid}/${PERMALL}`), changed, 'the sync carried the new state');
  assert.equal(await uuidOf('hostb', 'vt1-copy'), copyUuid, 'the copy kept its UUID (and so its state directory)');
  await startRunning('hostb', 'vt1-copy');
  await hostExec('hostb', [...VIRSH, 'destroy', 'vt1-copy']);
});

/** Defines libvirt secret `uuid` (usage vtpm) on `host` with the value `value`. */
async function defineSecret(host: string, uuid: string, value: string): Promise<void> {
  const xml = `<secret ephemeral='no' private='yes'><uuid>${uuid}</uuid><usage type='vtpm'><name>kvmclone-e2e</name></usage></secret>`;
  await hostExec(host, [
    'bash',
    '-c',
    `set -e; printf '%s' "${xml}" > /tmp/secret.xml; virsh -q -c qemu:///system secret-define /tmp/secret.xml >/dev/null; rm -f /tmp/secret.xml; virsh -q -c qemu:///system secret-set-value ${uuid} $(printf '%s' '${value}' | base64) >/dev/null`,
  ]);
}

test('TPM state encrypted with a libvirt secret is refused (exit 3) until the destination has that secret, then carried and usable', { skip }, async () => {
  const secret = '6dd3e4a5-1d76-44ce-961f-f119f5aad935';
  await defineSecret('hosta', secret, 'kvmclone-tpm-e2e-secret');
  await makeTpmVm('hosta', 'vt3', secret);
  await startRunning('hosta', 'vt3');
  await hostExec('hosta', [...VIRSH, 'destroy', 'vt3']);
  const refused = await kvmctl(['--json', 'clone', 'vt3', '--from', 'hosta', '--to', 'hostb'], { stateDir: state });
  assert.equal(refused.code, 3, said(refused));
  assert.match(String((refused.result?.error as { message?: string }).message), new RegExp(`encrypted with libvirt secret ${secret}, and hostb lacks it.*secret-define`));
  assert.equal((await hostExec('hostb', [...VIRSH, 'list', '--all', '--name'])).includes('vt3'), false, 'nothing was defined');

  await defineSecret('hostb', secret, 'kvmclone-tpm-e2e-secret');
  const out = await kvmctl(['--json', 'clone', 'vt3', '--from', 'hosta', '--to', 'hostb'], { stateDir: state });
  assert.equal(out.code, 0, said(out));
  const copyUuid = await uuidOf('hostb', 'vt3');
  assert.equal(
    await sha('hostb', `${SWTPM}/${copyUuid}/${PERMALL}`),
    await sha('hosta', `${SWTPM}/${await uuidOf('hosta', 'vt3')}/${PERMALL}`),
    'the encrypted state was copied as it is',
  );
  // swtpm opens the encrypted state with the destination's secret: the copy starts.
  await startRunning('hostb', 'vt3');
  await hostExec('hostb', [...VIRSH, 'destroy', 'vt3']);
});
