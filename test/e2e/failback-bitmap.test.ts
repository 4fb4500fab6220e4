/**
 * Failback by the copy's dirty bitmap, on the testbed, with a VM whose disks
 * are all qcow2:
 * - a planned failover (source shut off) first syncs the original's last
 *   writes to the copy, then starts the copy paused, makes a checkpoint of it
 *   before its guest runs, and resumes it;
 * - failback after writes on the running copy reads the copy's dirty bitmap:
 *   `delta: bitmap`, about the bytes written on the wire;
 * - after the original was written behind kvmctl's back, failback compares
 *   hashes and says why (the original changed since the failover), and puts
 *   the original back to the copy's content;
 * - both shut off, the original equals the copy (guest content, qemu-img
 *   compare); failback --switch then starts the original and makes the
 *   replica forward and active, with the copy's checkpoints deleted;
 * - a second failover of the same replica makes a new checkpoint (the old
 *   ones gone), failback uses the bitmap again, and --switch with the copy
 *   stopped uncleanly says its checkpoint stays (libvirt 9.0 cannot delete a
 *   shut-off VM's) and still ends with the original running and equal; the
 *   next failover deletes that leftover.
 */
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { kvmctl, writeKvmctlConfig, ONE_QUICK_RETRY } from '../support/kvmctl.js';
import { hostWrite } from '../support/live-guest.js';
import { hostExec, hostImagesDir } from '../support/testbed.js';
import { downHosts, upHosts } from '../support/e2e-hosts.js';
import { domstate, virsh } from '../support/host-inventory.js';
import { makeTwoDiskVm } from '../support/two-disk-vm.js';

const run = promisify(execFile);
const VM = 'vm21';
const MiB = 1024 * 1024;
let state: string;

const ctl = (args: string[]) => kvmctl(['--json', ...args], { stateDir: state });
/** Writes 1 MiB at `offsetMiB` of the shut-off VM's data disk, behind kvmctl's back. */
const offlineWrite = (host: string, offsetMiB: number, pattern: number): Promise<string> =>
  hostExec(host, ['qemu-io', '-f', 'qcow2', '-c', `write -P ${pattern} ${offsetMiB}M 1M`, `/var/lib/libvirt/images/${VM}-data.qcow2`]);

async function sameContent(): Promise<void> {
  for (const file of [`${VM}.qcow2`, `${VM}-data.qcow2`]) {
    await run('qemu-img', ['compare', '-q', join(hostImagesDir('hosta'), file), join(hostImagesDir('hostb'), file)]);
  }
}

before(async () => {
  state = await upHosts('failback-bitmap');
  await writeKvmctlConfig(state, ONE_QUICK_RETRY);
  await makeTwoDiskVm('hosta', VM, { rawGiB: 1, dataMiB: 16, dataFormat: 'qcow2' });
});

after(() => downHosts(state));

/** Planned failover after the original's last write: the final sync brings about that 1 MiB over, the copy runs with a checkpoint for a bitmap failback. */
async function plannedFailover(t: TestContext): Promise<void> {
  await offlineWrite('hosta', 200, 0x44);
  const failover = await ctl(['failover', 'r21']);
  assert.equal(failover.code, 0, failover.stdout.slice(-4000) + failover.stderr);
  const checkpoint = String(failover.result?.checkpoint);
  assert.match(checkpoint, /^kvmclone\.r[0-9a-f]+\.\d+$/, failover.stdout.slice(-3000));
  assert.equal(failover.result?.failbackDelta, 'bitmap');
  assert.ok(typeof failover.result?.finalSync === 'string', 'the final sync ran');
  const finalBytes = Number(failover.result?.bytesOnWire);
  assert.ok(finalBytes >= 1 * MiB && finalBytes <= 2 * MiB, `the final sync moved about the 1 MiB written: ${finalBytes}`);
  assert.equal(await domstate('hostb', VM), 'running');
  assert.ok((await virsh('hostb', ['checkpoint-list', VM, '--name'])).split('\n').includes(checkpoint), 'the checkpoint is on the copy');
  t.diagnostic(`planned failover: final sync ${finalBytes} bytes, checkpoint ${checkpoint} (${String(failover.result?.seconds)} s)`);
}

/** 3 MiB written by the running copy (through its QEMU, as its guest would): failback by its bitmap moves about those bytes, the copy stays running. */
async function failbackByBitmap(t: TestContext): Promise<void> {
  for (const offset of [5, 300, 700]) await hostWrite('hostb', VM, { pattern: 0x5a, offset: offset * MiB, length: MiB });
  const back = await ctl(['failback', 'r21']);
  assert.equal(back.code, 0, back.stdout.slice(-4000) + back.stderr);
  assert.equal(back.result?.overwriteAsked, false);
  assert.equal(back.result?.delta, 'bitmap', back.stdout.slice(-4000));
  const [bySync] = back.result?.syncs as { live: boolean; delta: string; bytesOnWire: number }[];
  assert.deepEqual([bySync?.live, bySync?.delta], [true, 'bitmap']);
  const bitmapBytes = Number(back.result?.bytesOnWire);
  assert.ok(bitmapBytes >= 3 * MiB && bitmapBytes <= 4 * MiB, `about the 3 MiB written, not the disks: ${bitmapBytes}\n${back.stdout.slice(-4000)}`);
  t.diagnostic(`failback by the bitmap: ${bitmapBytes} bytes on the wire for 3 MiB written (${String(back.result?.seconds)} s)`);
  assert.equal(await domstate('hostb', VM), 'running', 'the copy stays in service');
}

/** The original written behind kvmctl's back and 1 MiB more on the copy: failback by hashes, with the reason, the copy's checkpoint deleted. */
async function failbackByHashes(t: TestContext): Promise<void> {
  // Over 1 MiB the copy wrote: putting it back costs data, not a zero range.
  await offlineWrite('hosta', 5, 0x77);
  await hostWrite('hostb', VM, { pattern: 0x6c, offset: 100 * MiB, length: MiB });
  const touched = await ctl(['failback', 'r21']);
  assert.equal(touched.code, 0, touched.stdout.slice(-4000) + touched.stderr);
  assert.equal(touched.result?.delta, 'hash');
  assert.match(String(touched.result?.deltaReason), /the original changed since the failover: .*vm21-data\.qcow2 changed/);
  assert.equal((await virsh('hostb', ['checkpoint-list', VM, '--name'])).trim(), '', 'a checkpoint refused as a base is deleted from the running copy');
  const hashBytes = Number(touched.result?.bytesOnWire);
  assert.ok(hashBytes >= 2 * MiB && hashBytes <= 3 * MiB, `the copy's 1 MiB and the original's 1 MiB put back: ${hashBytes}`);
  t.diagnostic(`failback by hashes after the original was touched: ${hashBytes} bytes (${String(touched.result?.seconds)} s)`);
}

/** --switch (the copy shut off): its checkpoints go, one final sync, the original runs, the replica is forward again; then both equal. */
async function switchBack(t: TestContext): Promise<void> {
  const switched = await ctl(['failback', 'r21', '--switch']);
  assert.equal(switched.code, 0, switched.stdout.slice(-4000) + switched.stderr);
  assert.equal(switched.result?.lifecycle, 'active');
  t.diagnostic(`failback --switch: ${String(switched.result?.bytesOnWire)} bytes on the wire (${String(switched.result?.seconds)} s)`);
  assert.equal(await domstate('hosta', VM), 'running');
  const shown = await ctl(['replica', 'show', 'r21']);
  const replica = shown.result?.replica as Record<string, unknown>;
  assert.deepEqual([replica.lifecycle, replica.direction, replica.paused], ['active', 'forward', false]);
  for (const line of switched.stdout.split('\n').filter((l) => /checkpoint/.test(l))) t.diagnostic(`--switch said: ${line.slice(0, 300)}`);
  assert.equal((await virsh('hostb', ['checkpoint-list', VM, '--name'])).trim(), '', 'the copy has no checkpoint of the way back left');
  await virsh('hosta', ['destroy', VM]);
  await sameContent();
}

/** A failover of r21 that leaves failback to the bitmap, with its checkpoint the only one on the copy (`why`); returns that checkpoint. */
async function failoverForBitmap(why: string): Promise<string> {
  const failover = await ctl(['failover', 'r21']);
  assert.equal(failover.code, 0, failover.stdout.slice(-4000) + failover.stderr);
  assert.equal(failover.result?.failbackDelta, 'bitmap');
  const checkpoint = String(failover.result?.checkpoint);
  assert.deepEqual((await virsh('hostb', ['checkpoint-list', VM, '--name'])).trim().split('\n'), [checkpoint], why);
  return checkpoint;
}

/** A second failover of the same replica: only its new checkpoint on the copy, and failback by the bitmap again. Returns that checkpoint. */
async function secondFailoverByBitmap(): Promise<string> {
  const checkpoint2 = await failoverForBitmap('only the new checkpoint is on the copy');
  await hostWrite('hostb', VM, { pattern: 0x21, offset: 400 * MiB, length: MiB });
  const back2 = await ctl(['failback', 'r21']);
  assert.equal(back2.code, 0, back2.stdout.slice(-4000) + back2.stderr);
  assert.equal(back2.result?.delta, 'bitmap', back2.stdout.slice(-4000));
  const bitmapBytes2 = Number(back2.result?.bytesOnWire);
  assert.ok(bitmapBytes2 >= MiB && bitmapBytes2 <= 2 * MiB, `about the 1 MiB written: ${bitmapBytes2}`);
  return checkpoint2;
}

/** The copy stopped uncleanly: --switch keeps and names its checkpoint (not the failover's), starts the original, and both end equal. */
async function switchWithCopyStoppedUncleanly(checkpoint2: string): Promise<void> {
  await virsh('hostb', ['destroy', VM]);
  const switched2 = await ctl(['failback', 'r21', '--switch']);
  assert.equal(switched2.code, 0, switched2.stdout.slice(-4000) + switched2.stderr);
  // libvirt 9.0 deletes checkpoints of running VMs only: the shut-off copy keeps its own, and --switch says so.
  const left = (await virsh('hostb', ['checkpoint-list', VM, '--name'])).trim();
  assert.match(left, /^kvmclone\.r[0-9a-f]+\.\d+$/, 'one checkpoint: the one the bitmap failback made');
  assert.notEqual(left, checkpoint2, "the failover's checkpoint was deleted once the failback confirmed the next");
  assert.match(switched2.stdout, new RegExp(`vm21 is shut off: its checkpoint ${left.replace(/\./g, '\\.')} stays .*the next failover of r21 deletes it`));
  assert.equal(await domstate('hosta', VM), 'running');
  await virsh('hosta', ['destroy', VM]);
  await sameContent();
}

/** The next failover deletes that leftover once it made its own checkpoint. */
async function nextFailoverDeletesLeftover(): Promise<void> {
  await failoverForBitmap('the leftover checkpoint is gone');
  await virsh('hostb', ['destroy', VM]);
}

test('planned failover checkpoints the copy; failback by its bitmap, then by hashes once the original was touched; --switch', async (t) => {
  assert.equal((await ctl(['replica', 'add', 'r21', '--vm', VM, '--from', 'hosta', '--to', 'hostb', '--every', '1h'])).code, 0);
  const seeded = await ctl(['replicate', 'r21']);
  assert.equal(seeded.code, 0, seeded.stdout.slice(-3000) + seeded.stderr);
  await plannedFailover(t);
  await failbackByBitmap(t);
  await failbackByHashes(t);
  // Both shut off: the original equals the copy.
  await virsh('hostb', ['destroy', VM]);
  await sameContent();
  await switchBack(t);
  const checkpoint2 = await secondFailoverByBitmap();
  await switchWithCopyStoppedUncleanly(checkpoint2);
  await nextFailoverDeletesLeftover();
});
