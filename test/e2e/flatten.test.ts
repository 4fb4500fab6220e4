/**
 * clone --flatten and sync --flatten on the testbed (issue 16): a VM whose
 * qcow2 sits on a three-link chain (top, middle, base, each with data of its
 * own) is copied as one standalone qcow2 that holds what the guest sees —
 * no backing reference, holes still holes, the source's chain untouched —
 * and boots; a later change anywhere in the source chain is carried by
 * sync --flatten, while a plain sync refuses the standalone copy and says
 * to use --flatten.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { kvmctl, said } from '../support/kvmctl.js';
import { hostExec, IMAGES } from '../support/testbed.js';
import { downHosts, upHosts } from '../support/e2e-hosts.js';
import { guestSha, imageInfo, makeChainVm, sha } from '../support/chain-vm.js';

const VIRSH = ['virsh', '-q', '-c', 'qemu:///system'];
let state: string;

/** Bytes of the file's blocks on disk inside a host (what is allocated, not its length). */
async function allocatedBytes(host: string, path: string): Promise<number> {
  return Number(
    (await hostExec(host, ['stat', '-c', '%b*%B', path]))
      .trim()
      .split('*')
      .reduce((a, b) => String(Number(a) * Number(b))),
  );
}

before(async () => {
  state = await upHosts('flatten');
  await makeChainVm('hosta', 'vf1', { middle: true });
  // A large virtual size with data in a few places: the copy must stay sparse.
  await hostExec('hosta', ['bash', '-c', `set -e; cd ${IMAGES}; qemu-img resize -q -f qcow2 vf1.qcow2 1G; qemu-io -f qcow2 -c 'write -P 0x7a 900M 1M' vf1.qcow2 >/dev/null`]);
});

after(() => downHosts(state));

test('clone --flatten gives one standalone, sparse image per disk with what the guest sees, and it boots', async () => {
  const chain = await Promise.all(['vf1.qcow2', 'vf1-mid.qcow2', 'vf1-base.qcow2'].map((f) => sha('hosta', `${IMAGES}/${f}`)));
  const out = await kvmctl(['--json', 'clone', 'vf1', '--from', 'hosta', '--to', 'hostb', '--name', 'vf1-flat', '--flatten'], { stateDir: state });
  assert.equal(out.code, 0, said(out));
  assert.equal(out.result?.flattened, true, JSON.stringify(out.result));
  const disks = out.result?.disks as { target: string; role: string; digest: string; bytesTransferred: number }[];
  assert.deepEqual(
    disks.map((d) => d.role),
    ['disk'],
    'one file copied: the disk, no backing file',
  );
  const copy = `${IMAGES}/vf1-flat.qcow2`;
  assert.equal(disks[0]?.target, copy);
  const info = await imageInfo('hostb', copy);
  assert.equal(info['backing-filename'], undefined, `the copy names no backing file: ${JSON.stringify(info)}`);
  assert.equal(info['virtual-size'], 1024 ** 3);
  assert.equal(await guestSha('hostb', copy), await guestSha('hosta', `${IMAGES}/vf1.qcow2`), 'the copy holds what the guest sees through the whole chain');
  // Data: ~2.8 MiB in the chain plus the 1 MiB at 900M; the holes of the 1 GiB disk were neither sent nor allocated.
  assert.ok((disks[0]?.bytesTransferred ?? Infinity) < 16 * 1024 ** 2, `holes were not sent: ${disks[0]?.bytesTransferred} bytes`);
  assert.ok((await allocatedBytes('hostb', copy)) < 32 * 1024 ** 2, 'the copy is sparse');
  for (const base of ['vf1-mid.qcow2', 'vf1-base.qcow2']) {
    assert.equal((await hostExec('hostb', ['bash', '-c', `test -e ${IMAGES}/${base} && echo yes || echo no`])).trim(), 'no', `${base} was not copied`);
  }
  await hostExec('hostb', ['qemu-img', 'check', '-q', '-f', 'qcow2', copy]);
  assert.deepEqual(await Promise.all(['vf1.qcow2', 'vf1-mid.qcow2', 'vf1-base.qcow2'].map((f) => sha('hosta', `${IMAGES}/${f}`))), chain, 'the source chain is untouched');
  // The source can start again once the copy is in: the read-only view let go of its images.
  await hostExec('hosta', [...VIRSH, 'start', 'vf1']);
  await hostExec('hosta', [...VIRSH, 'destroy', 'vf1']);
  await hostExec('hostb', [...VIRSH, 'start', 'vf1-flat']);
  let copyState = '';
  for (let i = 0; i < 50 && !/running/.test(copyState); i++) {
    if (i > 0) await sleep(200);
    copyState = await hostExec('hostb', [...VIRSH, 'domstate', 'vf1-flat']);
  }
  assert.match(copyState, /running/);
  await hostExec('hostb', [...VIRSH, 'destroy', 'vf1-flat']);
});

test('a plain sync refuses the flattened copy (exit 3) and names --flatten; sync --flatten carries changes anywhere in the chain', async () => {
  await hostExec('hosta', ['qemu-io', '-f', 'qcow2', '-c', 'write -P 0x71 3M 128k', `${IMAGES}/vf1.qcow2`]);
  await hostExec('hosta', ['qemu-io', '-f', 'qcow2', '-c', 'write -P 0x55 5M 64k', `${IMAGES}/vf1-base.qcow2`]);
  const copy = `${IMAGES}/vf1-flat.qcow2`;
  const before = await sha('hostb', copy);
  const plain = await kvmctl(['--json', 'sync', 'vf1', '--from', 'hosta', '--to', 'hostb', '--name', 'vf1-flat'], { stateDir: state });
  assert.equal(plain.code, 3, said(plain));
  assert.match(String((plain.result?.error as { message?: string }).message), /--flatten/);
  assert.equal(await sha('hostb', copy), before, 'the refused sync changed nothing');

  const out = await kvmctl(['--json', 'sync', 'vf1', '--from', 'hosta', '--to', 'hostb', '--name', 'vf1-flat', '--flatten'], { stateDir: state });
  assert.equal(out.code, 0, said(out));
  assert.equal(out.result?.flattened, true, JSON.stringify(out.result));
  assert.ok((out.result?.bytesOnWire as number) < 4 * 1024 ** 2, `only the changed blocks moved: ${String(out.result?.bytesOnWire)}`);
  assert.equal((await imageInfo('hostb', copy))['backing-filename'], undefined, 'still standalone');
  assert.equal(await guestSha('hostb', copy), await guestSha('hosta', `${IMAGES}/vf1.qcow2`), 'the copy holds what the guest sees now');

  const again = await kvmctl(['--json', 'sync', 'vf1', '--from', 'hosta', '--to', 'hostb', '--name', 'vf1-flat', '--flatten'], { stateDir: state });
  assert.equal(again.code, 0, said(again));
  assert.equal(again.result?.changedBlocks, 0, JSON.stringify(again.result));
});

test('clone --flatten --dry-run plans one standalone file per disk and changes nothing', async () => {
  const out = await kvmctl(['--json', 'clone', 'vf1', '--from', 'hosta', '--to', 'hostb', '--name', 'vf1-plan', '--flatten', '--dry-run'], { stateDir: state });
  assert.equal(out.code, 0, said(out));
  const files = (out.result?.plan as { files: { role: string; targetPath: string }[] }).files;
  assert.deepEqual(
    files.map((f) => [f.role, f.targetPath]),
    [['disk', `${IMAGES}/vf1-plan.qcow2`]],
  );
  assert.equal((await hostExec('hostb', [...VIRSH, 'list', '--all', '--name'])).includes('vf1-plan'), false);
});
