/**
 * Backing chains and NVRAM across clone and sync, on the testbed:
 * - a clone with --target-dir has its qcow2 rebased onto the copied base
 *   (RebaseStaging end to end) and boots from it;
 * - a later sync keeps that chain: the destination's header still names the
 *   destination's base, not the source's path, and what the guest sees equals
 *   the source's (hole 7 of issue 10);
 * - a base that changed at the source is refused with the reason (exit 3),
 *   nothing at the destination touched;
 * - a UEFI-style domain's NVRAM (OVMF's loader, Debian package `ovmf`) is
 *   carried by clone and by sync, and the copy starts with it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { existsSync } from 'node:fs';
import { kvmctl } from '../support/kvmctl.js';
import { hostExec, IMAGES } from '../support/testbed.js';
import { downHosts, upHosts } from '../support/e2e-hosts.js';
import { guestSha, imageInfo, makeChainVm, sha } from '../support/chain-vm.js';
import { defineLines, testDomainXml } from '../support/test-domain.js';

const CLONES = `${IMAGES}/clones`;
/** Under the agents' image roots (the default roots are the images directory; an operator adds libvirt's nvram directory to them in agent.yaml). */
const NVRAM_DIR = `${IMAGES}/nvram`;
const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE.fd';
const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS.fd';
const VIRSH = ['virsh', '-q', '-c', 'qemu:///system'];
let state: string;

/** A UEFI-style VM: OVMF pflash loader and a per-VM NVRAM file filled with recognisable bytes. */
async function makeUefiVm(host: string, name: string): Promise<void> {
  const xml = testDomainXml(name, {
    // TCG: under the nested KVM of this kind of machine OVMF stops at its first FPU instruction
    // ("KVM internal error. Suberror: 1 ... emulation failure", the domain then paused).
    type: 'qemu',
    memoryMiB: 128,
    os: `<loader readonly='yes' type='pflash'>${OVMF_CODE}</loader><nvram>${NVRAM_DIR}/${name}_VARS.fd</nvram><boot dev='hd'/>`,
    extra: '<features><acpi/></features>',
    disks: [{ file: `${IMAGES}/${name}.raw`, format: 'raw', target: 'vda' }],
  });
  await hostExec(host, [
    'bash',
    '-c',
    [
      'set -e',
      `mkdir -p ${NVRAM_DIR}`,
      `cp ${OVMF_VARS} ${NVRAM_DIR}/${name}_VARS.fd`,
      // A variable store the guest "wrote": bytes no template has, at a known place.
      `printf 'kvmclone-nvram-1' | dd of=${NVRAM_DIR}/${name}_VARS.fd bs=1 seek=100000 conv=notrunc status=none`,
      `truncate -s 64M ${IMAGES}/${name}.raw`,
      ...defineLines(name, xml),
    ].join('\n'),
  ]);
}

before(async () => {
  state = await upHosts('chain');
  await makeChainVm('hosta', 'vm7');
  await hostExec('hostb', ['mkdir', '-p', CLONES]);
});

after(() => downHosts(state));

test('clone --target-dir rebases the copy onto the copied base (RebaseStaging), and it boots', async () => {
  const out = await kvmctl(['--json', 'clone', 'vm7', '--from', 'hosta', '--to', 'hostb', '--target-dir', CLONES], { stateDir: state });
  assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
  assert.ok(
    out.events.some((e) => typeof e.message === 'string' && /backing reference set to/.test(e.message)),
    'the clone said it rebased the copy',
  );
  const info = await imageInfo('hostb', `${CLONES}/vm7.qcow2`);
  assert.equal(info['backing-filename'], `${CLONES}/vm7-base.qcow2`, 'the copy names the copied base');
  assert.equal(await guestSha('hostb', `${CLONES}/vm7.qcow2`), await guestSha('hosta', `${IMAGES}/vm7.qcow2`), 'the guest sees the same disk');
  await hostExec('hostb', ['qemu-img', 'check', '-q', '-f', 'qcow2', `${CLONES}/vm7.qcow2`]);
  await hostExec('hostb', [...VIRSH, 'start', 'vm7']);
  await hostExec('hostb', [...VIRSH, 'destroy', 'vm7']);
});

test('sync after a change keeps the destination chain: its header still names the destination base, data equal', async () => {
  await hostExec('hosta', ['qemu-io', '-f', 'qcow2', '-c', 'write -P 0x71 3M 128k', '-c', 'write -P 0x72 256k 64k', `${IMAGES}/vm7.qcow2`]);
  const out = await kvmctl(['--json', 'sync', 'vm7', '--from', 'hosta', '--to', 'hostb'], { stateDir: state });
  assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
  const info = await imageInfo('hostb', `${CLONES}/vm7.qcow2`);
  assert.equal(info['backing-filename'], `${CLONES}/vm7-base.qcow2`, "sync kept the destination's backing reference (not the source's path)");
  assert.equal(await guestSha('hostb', `${CLONES}/vm7.qcow2`), await guestSha('hosta', `${IMAGES}/vm7.qcow2`), 'the guest sees the synced disk');
  await hostExec('hostb', ['qemu-img', 'check', '-q', '-f', 'qcow2', `${CLONES}/vm7.qcow2`]);
  const disks = out.result?.disks as { digest: string }[];
  assert.ok(disks.length >= 1 && disks.every((d) => /^blake3:/.test(d.digest)), JSON.stringify(out.result));
  await hostExec('hostb', [...VIRSH, 'start', 'vm7']);
  await hostExec('hostb', [...VIRSH, 'destroy', 'vm7']);
});

test('sync refuses (exit 3) when the source base changed, naming it; the destination is untouched', async () => {
  const top = await sha('hostb', `${CLONES}/vm7.qcow2`);
  const base = await sha('hostb', `${CLONES}/vm7-base.qcow2`);
  await hostExec('hosta', ['qemu-io', '-f', 'qcow2', '-c', 'write -P 0x55 5M 64k', `${IMAGES}/vm7-base.qcow2`]);
  await hostExec('hosta', ['qemu-io', '-f', 'qcow2', '-c', 'write -P 0x73 4M 64k', `${IMAGES}/vm7.qcow2`]);
  const out = await kvmctl(['--json', 'sync', 'vm7', '--from', 'hosta', '--to', 'hostb'], { stateDir: state });
  assert.equal(out.code, 3, `${out.stdout}\n${out.stderr}`);
  assert.match(String((out.result?.error as { message?: string }).message), /vm7-base\.qcow2.*differs/);
  assert.equal(await sha('hostb', `${CLONES}/vm7.qcow2`), top, 'the destination disk is unchanged');
  assert.equal(await sha('hostb', `${CLONES}/vm7-base.qcow2`), base, 'the destination base is unchanged');
});

test(
  'NVRAM of a UEFI domain is carried by clone and by sync, and the copy starts with it',
  { skip: existsSync(OVMF_CODE) ? false : `${OVMF_CODE} is missing (Debian: apt-get install ovmf)` },
  async () => {
    await makeUefiVm('hosta', 'vm8');
    await hostExec('hostb', ['mkdir', '-p', NVRAM_DIR]);
    const clone = await kvmctl(['--json', 'clone', 'vm8', '--from', 'hosta', '--to', 'hostb', '--name', 'vm8-copy'], { stateDir: state });
    assert.equal(clone.code, 0, `${clone.stdout}\n${clone.stderr}`);
    const xml = await hostExec('hostb', [...VIRSH, 'dumpxml', '--inactive', 'vm8-copy']);
    const nvram = /<nvram[^>]*>([^<]+)<\/nvram>/.exec(xml)?.[1] ?? '';
    assert.ok(nvram.startsWith(`${NVRAM_DIR}/`) && nvram.includes('vm8-copy'), `the copy has its own NVRAM file (${nvram})`);
    assert.equal(await sha('hostb', nvram), await sha('hosta', `${NVRAM_DIR}/vm8_VARS.fd`), 'the NVRAM was copied');

    await hostExec('hosta', ['bash', '-c', `printf 'kvmclone-nvram-2' | dd of=${NVRAM_DIR}/vm8_VARS.fd bs=1 seek=120000 conv=notrunc status=none`]);
    const sync = await kvmctl(['--json', 'sync', 'vm8', '--from', 'hosta', '--to', 'hostb', '--name', 'vm8-copy'], { stateDir: state });
    assert.equal(sync.code, 0, `${sync.stdout}\n${sync.stderr}`);
    assert.equal(await sha('hostb', nvram), await sha('hosta', `${NVRAM_DIR}/vm8_VARS.fd`), 'the sync carried the changed NVRAM');
    assert.ok(
      (sync.result?.disks as { target: string }[]).some((d) => d.target === nvram),
      JSON.stringify(sync.result),
    );

    // QEMU opens the copied store as the VM's flash: the copy starts (OVMF under TCG; no OS needed).
    await hostExec('hostb', [...VIRSH, 'start', 'vm8-copy']);
    // QEMU reports the domain paused for a moment while it starts under a loaded TCG host: wait for it to run.
    let copyState = '';
    for (let i = 0; i < 50 && !/running/.test(copyState); i++) {
      if (i > 0) await sleep(200);
      copyState = await hostExec('hostb', [...VIRSH, 'domstate', '--reason', 'vm8-copy']);
    }
    if (!/running/.test(copyState)) {
      const log = await hostExec('hostb', [
        'bash',
        '-c',
        'tail -n 30 /var/log/libvirt/qemu/vm8-copy.log; ls -la /var/lib/libvirt/images/nvram; df -h /var/lib/libvirt/images',
      ]).catch((err: unknown) => String(err));
      assert.fail(`vm8-copy is ${copyState.trim()}, not running; its QEMU log and NVRAM:\n${log}`);
    }
    await hostExec('hostb', [...VIRSH, 'destroy', 'vm8-copy']);
  },
);
