/**
 * kvmctl sync on the testbed: a clone is brought up to date after scattered
 * changes, a zeroed region and a grown disk, moving only changed blocks; an
 * agent killed while applying leaves the old or the new image, never a mix;
 * a disk added at the source is added at the destination.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { kvmctl, startKvmctl } from '../support/kvmctl.js';
import { hostAgent, hostExec, hostImagesDir, IMAGES } from '../support/testbed.js';
import { downHosts } from '../support/e2e-hosts.js';
import { upWithClonedVm } from '../support/cloned-vm.js';
import { sha256 } from '../support/file-sha256.js';
import { serialOutput } from '../support/serial-console.js';
import { overwriteBlocks } from '../support/change-blocks.js';

const run = promisify(execFile);
const BLOCK = 65536;
let state: string;

before(async () => {
  state = await upWithClonedVm('sync', 'vm5', { rawGiB: 2, dataMiB: 96 });
});

after(() => downHosts(state));

/** Overwrites `count` distinct scattered 64 KiB blocks of `file` on hosta with random data. */
async function changeBlocks(file: string, count: number, seed: number): Promise<void> {
  await overwriteBlocks('hosta', `${IMAGES}/${file}`, count, seed);
}

test('sync after scattered changes, a zeroed region and a grown disk: equal, only changed blocks sent, sparse, boots', async () => {
  const changed = Math.ceil((2 * 1024 * 1024 * 1024) / BLOCK / 100); // 1 % of the blocks of the 2 GiB disk
  await changeBlocks('vm5-data.raw', changed, 11);
  // Zero 4 MiB that holds data (allocated zeros at the source), and grow the disk by 64 MiB.
  await hostExec('hosta', [
    'bash',
    '-c',
    `set -e; cd ${IMAGES}; for i in 0 1 2 3; do dd if=/dev/urandom of=vm5-data.raw bs=1M count=1 seek=$((600+i)) conv=notrunc status=none; done`,
  ]);
  const first = await kvmctl(['--json', 'sync', 'vm5', '--from', 'hosta', '--to', 'hostb'], { stateDir: state });
  assert.equal(first.code, 0, `${first.stdout}\n${first.stderr}`);
  await hostExec('hosta', [
    'bash',
    '-c',
    `set -e; cd ${IMAGES}; dd if=/dev/zero of=vm5-data.raw bs=1M count=4 seek=600 conv=notrunc status=none; qemu-img resize -q -f raw vm5-data.raw +64M`,
  ]);
  await changeBlocks('vm5-data.raw', changed, 977);

  const dry = await kvmctl(['--json', 'sync', 'vm5', '--from', 'hosta', '--to', 'hostb', '--dry-run'], { stateDir: state });
  assert.equal(dry.code, 0, dry.stdout);
  const dryBlocks = Number(dry.result?.changedBlocks);
  assert.ok(dryBlocks >= changed && dryBlocks <= changed + 64 + 4, `dry run counts the changed blocks (${dryBlocks})`);
  const before = await sha256(join(hostImagesDir('hostb'), 'vm5-data.raw'));

  const out = await kvmctl(['--json', 'sync', 'vm5', '--from', 'hosta', '--to', 'hostb'], { stateDir: state });
  assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
  assert.notEqual(await sha256(join(hostImagesDir('hostb'), 'vm5-data.raw')), before, 'the dry run changed nothing, the sync did');
  const a = join(hostImagesDir('hosta'), 'vm5-data.raw');
  const b = join(hostImagesDir('hostb'), 'vm5-data.raw');
  await run('qemu-img', ['compare', '-q', '-f', 'raw', '-F', 'raw', a, b]);
  await run('cmp', [a, b]);
  assert.equal((await stat(b)).size, (await stat(a)).size, 'the grown disk was resized');
  const bytesOnWire = Number(out.result?.bytesOnWire);
  assert.ok(bytesOnWire <= 1.1 * changed * BLOCK, `bytesOnWire ${bytesOnWire} <= 1.1 x ${changed} changed blocks`);
  assert.ok(bytesOnWire >= 0.9 * changed * BLOCK, `the changed blocks were sent (${bytesOnWire})`);
  assert.ok((await stat(b)).blocks * 512 <= (await stat(a)).blocks * 512, 'the destination is as sparse as the source (the zeroed region is a hole there)');
  const disks = out.result?.disks as { digest: string; source: string }[];
  assert.ok(disks.every((d) => /^blake3:/.test(d.digest)));

  await hostExec('hostb', ['virsh', '-c', 'qemu:///system', 'start', 'vm5']);
  try {
    const text = await serialOutput('hostb', 'vm5', 'HI');
    assert.match(text, /HI/, 'the synced copy boots');
  } finally {
    await hostExec('hostb', ['virsh', '-c', 'qemu:///system', 'destroy', 'vm5']);
  }
});

test('refused: the destination VM is running', async () => {
  await hostExec('hostb', ['virsh', '-c', 'qemu:///system', 'start', 'vm5']);
  try {
    const out = await kvmctl(['--json', 'sync', 'vm5', '--from', 'hosta', '--to', 'hostb'], { stateDir: state });
    assert.equal(out.code, 3, out.stdout);
    assert.match(String((out.result?.error as { message?: string }).message), /vm5 on hostb is running/);
  } finally {
    await hostExec('hostb', ['virsh', '-c', 'qemu:///system', 'destroy', 'vm5']);
  }
});

test('the destination agent killed while applying: old or new image, never a mix; the next sync completes', async () => {
  await changeBlocks('vm5-data.raw', 3000, 4242);
  const b = join(hostImagesDir('hostb'), 'vm5-data.raw');
  const a = join(hostImagesDir('hosta'), 'vm5-data.raw');
  const old = await sha256(b);
  const next = await sha256(a);
  const sync = startKvmctl(['--json', 'sync', 'vm5', '--from', 'hosta', '--to', 'hostb'], { stateDir: state });
  let killed = false;
  sync.onEvent((e) => {
    if (!killed && e.type === 'info' && /applying it in place/.test(String(e.message))) {
      killed = true;
      void hostAgent('hostb', 'kill');
    }
  });
  const out = await sync.done;
  assert.ok(killed, `the agent was killed when the apply began: ${out.stdout.slice(-1500)}`);
  assert.notEqual(out.code, 0, 'the interrupted sync reports failure');
  await hostAgent('hostb', 'start');
  const now = await sha256(b);
  assert.ok(now === old || now === next, 'the image is the old one or, rolled forward, the new one');
  const again = await kvmctl(['--json', 'sync', 'vm5', '--from', 'hosta', '--to', 'hostb'], { stateDir: state });
  assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
  await run('cmp', [a, b]);
  assert.deepEqual(
    (await hostExec('hostb', ['ls', '-A', IMAGES])).split('\n').filter((f) => f.includes('kvmclone-journal')),
    [],
    'no journal left',
  );
});

test('a disk added at the source is added at the destination (with --yes)', async () => {
  await hostExec('hosta', [
    'bash',
    '-c',
    `set -e; cd ${IMAGES}; truncate -s 256M vm5-extra.raw; dd if=/dev/urandom of=vm5-extra.raw bs=1M count=3 seek=7 conv=notrunc status=none; virsh -q -c qemu:///system attach-disk vm5 ${IMAGES}/vm5-extra.raw vdc --config --driver qemu --subdriver raw >/dev/null`,
  ]);
  await hostExec('hosta', ['virsh', '-q', '-c', 'qemu:///system', 'setvcpus', 'vm5', '2', '--config', '--maximum']);
  await hostExec('hosta', ['virsh', '-q', '-c', 'qemu:///system', 'setvcpus', 'vm5', '2', '--config']);
  const refused = await kvmctl(['--json', 'sync', 'vm5', '--from', 'hosta', '--to', 'hostb'], { stateDir: state });
  assert.equal(refused.code, 3, 'adding a disk without a prompt needs --yes');
  const out = await kvmctl(['--json', '--yes', 'sync', 'vm5', '--from', 'hosta', '--to', 'hostb'], { stateDir: state });
  assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
  await run('cmp', [join(hostImagesDir('hosta'), 'vm5-extra.raw'), join(hostImagesDir('hostb'), 'vm5-extra.raw')]);
  assert.match(await hostExec('hostb', ['virsh', '-c', 'qemu:///system', 'domblklist', 'vm5']), /vdc\s+\/var\/lib\/libvirt\/images\/vm5-extra.raw/);
  const xmlA = await hostExec('hosta', ['virsh', '-c', 'qemu:///system', 'dumpxml', '--inactive', 'vm5']);
  const xmlB = await hostExec('hostb', ['virsh', '-c', 'qemu:///system', 'dumpxml', '--inactive', 'vm5']);
  assert.match(xmlB, /<vcpu placement='static'>2<\/vcpu>/, 'the definition follows the source (vCPUs)');
  const pick = (x: string, re: RegExp): string => re.exec(x)?.[1] ?? '';
  assert.notEqual(pick(xmlB, /<uuid>([^<]+)</), pick(xmlA, /<uuid>([^<]+)</), 'the copy keeps its own UUID');
  assert.notEqual(pick(xmlB, /<mac address='([^']+)'/), pick(xmlA, /<mac address='([^']+)'/), 'and its own MAC');
});
