/**
 * Restore points on the testbed: `kvmctl sync --keep 2` three times after
 * known changes keeps the two newest points of each disk (the qcow2 system
 * disk on its backing file and the raw data disk); `kvmctl points` lists
 * them; `kvmctl restore` rolls the copy back to each in turn, every disk
 * then byte-identical with the source as it was before that sync; a running
 * copy is refused. The points are no leftovers for `kvmctl gc`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { kvmctl } from '../support/kvmctl.js';
import { hostExec, hostImagesDir, IMAGES } from '../support/testbed.js';
import { downHosts } from '../support/e2e-hosts.js';
import { upWithClonedVm } from '../support/cloned-vm.js';
import { sha256 } from '../support/file-sha256.js';
import { overwriteBlocks } from '../support/change-blocks.js';

const DISKS = ['vm7.qcow2', 'vm7-data.raw'];
let state: string;

before(async () => {
  state = await upWithClonedVm('points', 'vm7', { rawGiB: 1, dataMiB: 48 });
});

after(() => downHosts(state));

/** sha256 of each disk of vm7 on `host`. */
async function disksOn(host: string): Promise<string[]> {
  return Promise.all(DISKS.map((d) => sha256(join(hostImagesDir(host), d))));
}

/** Known changes at the source: `count` random 64 KiB blocks of the data disk, and a write through the system disk's format. */
async function change(seed: number): Promise<void> {
  await overwriteBlocks('hosta', `${IMAGES}/vm7-data.raw`, 40, seed);
  await hostExec('hosta', ['qemu-io', '-f', 'qcow2', '-c', `write -P ${seed % 250} ${(seed % 7) * 64}k 64k`, `${IMAGES}/vm7.qcow2`]);
}

test('three syncs with --keep 2 keep two points; restore to each gives the source as it was before that sync; a running copy is refused', async () => {
  const states: string[][] = [await disksOn('hosta')];
  for (const seed of [3, 5, 8]) {
    await change(seed);
    const out = await kvmctl(['--json', 'sync', 'vm7', '--from', 'hosta', '--to', 'hostb', '--keep', '2'], { stateDir: state });
    assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
    assert.deepEqual(await disksOn('hostb'), await disksOn('hosta'));
    states.push(await disksOn('hosta'));
  }
  const listed = await kvmctl(['--json', 'points', 'vm7', '--on', 'hostb'], { stateDir: state });
  assert.equal(listed.code, 0, listed.stdout);
  const points = listed.result?.points as { id: string; complete: boolean; sizeBytes: number; disks: unknown[] }[];
  assert.equal(points.length, 2, 'pruned to --keep 2');
  assert.ok(points.every((p) => p.complete && p.disks.length === 2));
  assert.ok(Number(listed.result?.totalBytes) < 64 * 1024 * 1024, `points take what the syncs overwrote (${String(listed.result?.totalBytes)} bytes)`);
  const gc = await kvmctl(['--json', 'gc', 'hostb'], { stateDir: state });
  assert.equal(gc.code, 0, gc.stdout);
  assert.equal((await hostExec('hostb', ['ls', '-A', IMAGES])).split('\n').filter((f) => f.includes('kvmclone-point')).length, 4, 'gc leaves the points');

  const first = await kvmctl(['--json', '--yes', 'restore', 'vm7', '--on', 'hostb', '--point', points[0]?.id ?? ''], { stateDir: state });
  assert.equal(first.code, 0, `${first.stdout}\n${first.stderr}`);
  assert.deepEqual(await disksOn('hostb'), states[2], 'equal to the source before the third sync');
  const second = await kvmctl(['--json', '--yes', 'restore', 'vm7', '--on', 'hostb', '--point', points[1]?.id ?? ''], { stateDir: state });
  assert.equal(second.code, 0, `${second.stdout}\n${second.stderr}`);
  assert.deepEqual(await disksOn('hostb'), states[1], 'equal to the source before the second sync');
  const left = await kvmctl(['--json', 'points', 'vm7', '--on', 'hostb'], { stateDir: state });
  assert.deepEqual(left.result?.points, [], 'every point restored through is used up');

  // A new point, and the copy running: refused, nothing touched.
  const again = await kvmctl(['--json', 'sync', 'vm7', '--from', 'hosta', '--to', 'hostb', '--keep', '2'], { stateDir: state });
  assert.equal(again.code, 0, again.stdout);
  const [point] = (await kvmctl(['--json', 'points', 'vm7', '--on', 'hostb'], { stateDir: state })).result?.points as { id: string }[];
  await hostExec('hostb', ['virsh', '-c', 'qemu:///system', 'start', 'vm7']);
  try {
    const refused = await kvmctl(['--json', '--yes', 'restore', 'vm7', '--on', 'hostb', '--point', point?.id ?? ''], { stateDir: state });
    assert.equal(refused.code, 3, refused.stdout);
    assert.match(String((refused.result?.error as { message?: string }).message), /vm7 on hostb is running: shut it down/);
  } finally {
    await hostExec('hostb', ['virsh', '-c', 'qemu:///system', 'destroy', 'vm7']);
  }
});
