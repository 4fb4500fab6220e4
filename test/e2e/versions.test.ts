/**
 * Mixed versions (issue 14), on the testbed: hostb's agent presents itself
 * as an older one (KVMCLONE_AGENT_REPORT_VERSION=0.0.9, without the
 * transfer.flatten capability). `hosts check` shows the versions side by side
 * and warns; an operation that needs what hostb lacks (clone --flatten) is
 * refused before anything is made, exit 3, naming the host, both versions and
 * the capability; one that needs only what both have still runs.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kvmctl, said } from '../support/kvmctl.js';
import { agentCommand, hostDown, hostExec, hostUp } from '../support/testbed.js';
import { makeChainVm } from '../support/chain-vm.js';
import { KVMCLONE_VERSION } from '../../shared/version.js';

const VIRSH = ['virsh', '-q', '-c', 'qemu:///system'];
let state: string;

before(async () => {
  await Promise.all(['hosta', 'hostb'].map(hostDown));
  await hostUp('hosta', 1);
  await hostUp('hostb', 2, {
    AGENT_CMD: `exec env KVMCLONE_AGENT_REPORT_VERSION=0.0.9 KVMCLONE_AGENT_HIDE_CAPABILITIES=transfer.flatten ${agentCommand()}`,
  });
  state = await mkdtemp(join(tmpdir(), 'kvmclone-versions-e2e-'));
  await makeChainVm('hosta', 'vv1');
});

after(async () => {
  await Promise.all(['hosta', 'hostb'].map(hostDown));
  await rm(state, { recursive: true, force: true });
});

test('hosts check shows the versions side by side and warns that they differ', async () => {
  const out = await kvmctl(['hosts', 'check', 'hosta', 'hostb'], { stateDir: state });
  assert.equal(out.code, 0, said(out));
  assert.match(out.stdout, new RegExp(`versions: kvmctl ${KVMCLONE_VERSION.replace(/\./g, '\\.')}; hosta ${KVMCLONE_VERSION.replace(/\./g, '\\.')}, hostb 0\\.0\\.9`));
  assert.match(out.stdout, /warning: the versions differ.*upgrade kvmclone-agent on hostb/);
  const json = await kvmctl(['--json', 'hosts', 'check', 'hosta', 'hostb'], { stateDir: state });
  assert.equal(json.result?.versionsDiffer, true);
  const hosts = json.result?.hosts as { host: string; agentVersion: string; capabilities: string[] }[];
  assert.deepEqual(
    hosts.map((h) => [h.host, h.agentVersion, h.capabilities.includes('transfer.flatten')]),
    [
      ['hosta', KVMCLONE_VERSION, true],
      ['hostb', '0.0.9', false],
    ],
  );
});

test('an operation needing a capability the older agent lacks is refused (exit 3) before anything is made, naming host, versions and capability', async () => {
  const out = await kvmctl(['--json', 'clone', 'vv1', '--from', 'hosta', '--to', 'hostb', '--flatten'], { stateDir: state });
  assert.equal(out.code, 3, said(out));
  const message = String((out.result?.error as { message?: string }).message);
  assert.match(message, /hostb: kvmclone-agent 0\.0\.9 lacks transfer\.flatten/);
  assert.ok(message.includes(`to ${KVMCLONE_VERSION}`), message);
  assert.equal((await hostExec('hostb', [...VIRSH, 'list', '--all', '--name'])).includes('vv1'), false, 'nothing was defined');
  assert.equal((await hostExec('hostb', ['bash', '-c', 'ls /var/lib/libvirt/images | grep -c vv1 || true'])).trim(), '0', 'nothing was written');
});

test('an operation needing only what both agents have still runs', async () => {
  const out = await kvmctl(['--json', 'clone', 'vv1', '--from', 'hosta', '--to', 'hostb'], { stateDir: state });
  assert.equal(out.code, 0, said(out));
});
