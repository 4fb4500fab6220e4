/**
 * Restore points of live syncs on the testbed: a running guest (TCG) with a
 * qcow2 system disk and a raw data disk, cloned with --live; then two
 * `kvmctl sync --live --keep 2` after known writes made through QEMU (as the
 * guest would write). `kvmctl points` lists two whole points whose digests
 * are the guest content the source had at the sync before; `kvmctl restore`
 * rolls the shut-off copy back to each in turn, every disk's guest content
 * then equal — by digest, computed here from a raw conversion — to what the
 * source had at that sync, the qcow2 still a qcow2. A live sync after the
 * restore finds the copy changed (hash delta, with the reason) and starts a
 * new chain.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { digestFile } from '../../agent/disk/block-hasher.js';
import { kvmctl, writeKvmctlConfig, ONE_QUICK_RETRY } from '../support/kvmctl.js';
import { hostDown, hostExec, hostImagesDir, hostUp, TESTBED_DIR, IMAGES } from '../support/testbed.js';
import { virsh } from '../support/host-inventory.js';
import { hostWrite } from '../support/live-guest.js';
import { defineLines, testDomainXml } from '../support/test-domain.js';

const run = promisify(execFile);
const KiB = 1024;
const MiB = 1024 * KiB;
/** The VM's disks: target, image name, format. */
const DISKS = [
  { target: 'vda', image: 'lp1.qcow2', format: 'qcow2' },
  { target: 'vdb', image: 'lp1-data.raw', format: 'raw' },
] as const;
let state: string;
let scratch: string;

/** A running guest (TCG, a boot sector that idles): a 1 MiB qcow2 vda and a 32 MiB raw vdb with 4 MiB of random data. */
async function makeRunningVm(host: string, name: string): Promise<void> {
  const xml = testDomainXml(name, {
    disks: [
      { file: `${IMAGES}/${name}.qcow2`, format: 'qcow2', target: 'vda' },
      { file: `${IMAGES}/${name}-data.raw`, format: 'raw', target: 'vdb' },
    ],
  });
  await hostExec(host, [
    'bash',
    '-c',
    [
      'set -e',
      `cd ${IMAGES}`,
      `qemu-img convert -q -f raw -O qcow2 -o compat=1.1 ${TESTBED_DIR}boot-sector.bin ${name}.qcow2`,
      `qemu-img resize -q -f qcow2 ${name}.qcow2 1M`,
      `truncate -s 32M ${name}-data.raw`,
      `for i in 0 1 2 3; do dd if=/dev/urandom of=${name}-data.raw bs=1M count=1 seek=$((i * 7)) conv=notrunc status=none; done`,
      ...defineLines(name, xml),
      `virsh -q -c qemu:///system start ${name} >/dev/null`,
    ].join('\n'),
  ]);
}

/**
 * The guest content of each disk of lp1 on `host`, as kvmclone digests it (64 KiB block hashes over the virtual
 * size): each image converted to raw here (-U: the source runs), then digested as a file.
 */
async function guestDigests(host: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const d of DISKS) {
    const raw = join(scratch, `${host}-${d.target}.raw`);
    await run('qemu-img', ['convert', '-U', '-f', d.format, '-O', 'raw', join(hostImagesDir(host), d.image), raw]);
    const fh = await open(raw, 'r');
    try {
      out[d.target] = await digestFile(fh, (await fh.stat()).size, AbortSignal.timeout(120_000));
    } finally {
      await fh.close();
    }
    await rm(raw);
  }
  return out;
}

/** Known writes through QEMU's block layer on the running source, as the guest would make them. */
async function write(seed: number): Promise<void> {
  await hostWrite('hosta', 'lp1', { disk: 'vdb', pattern: seed, offset: (seed % 5) * 3 * MiB, length: 256 * KiB });
  await hostWrite('hosta', 'lp1', { disk: 'vdb', pattern: seed + 1, offset: 20 * MiB + seed * 64 * KiB, length: 64 * KiB });
  await hostWrite('hosta', 'lp1', { disk: 'vda', pattern: seed + 2, offset: 512 * KiB + (seed % 4) * 64 * KiB, length: 64 * KiB });
}

interface Listed {
  id: string;
  complete: boolean;
  sizeBytes: number;
  disks: { target: string; digest: string; sizeBytes: number }[];
}

async function listPoints(): Promise<{ points: Listed[]; totalBytes: number }> {
  const out = await kvmctl(['--json', 'points', 'lp1', '--on', 'hostb'], { stateDir: state });
  assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
  return { points: out.result?.points as Listed[], totalBytes: Number(out.result?.totalBytes) };
}

const byTarget = (p: Listed): Record<string, string> => Object.fromEntries(p.disks.map((d) => [d.target, d.digest]));

before(async () => {
  await Promise.all(['hosta', 'hostb'].map(hostDown));
  await hostUp('hosta', 1);
  await hostUp('hostb', 2);
  state = await mkdtemp(join(tmpdir(), 'kvmclone-live-points-e2e-'));
  scratch = await mkdtemp(join(tmpdir(), 'kvmclone-live-points-raw-'));
  await writeKvmctlConfig(state, ONE_QUICK_RETRY);
  await makeRunningVm('hosta', 'lp1');
  const out = await kvmctl(['--json', 'clone', 'lp1', '--from', 'hosta', '--to', 'hostb', '--live'], { stateDir: state });
  assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
});

after(async () => {
  await Promise.all(['hosta', 'hostb'].map(hostDown));
  await rm(state, { recursive: true, force: true });
  await rm(scratch, { recursive: true, force: true });
});

test('two live syncs with --keep 2 keep two points of guest content; restore to each gives what the source had at that sync, qcow2 and raw', async () => {
  // The source's guest content at each sync: states[0] at the clone, states[k] at live sync k.
  const states = [await guestDigests('hosta')];
  assert.deepEqual(await guestDigests('hostb'), states[0], 'the clone equals the source');
  const syncs: string[] = [];
  for (const seed of [0x31, 0x52]) {
    await write(seed);
    const out = await kvmctl(['--json', 'sync', 'lp1', '--from', 'hosta', '--to', 'hostb', '--live', '--keep', '2'], { stateDir: state });
    assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
    assert.match(await virsh('hosta', ['domstate', 'lp1']), /running/, 'the source kept running');
    syncs.push(String(out.result?.id));
    states.push(await guestDigests('hosta'));
    assert.deepEqual(await guestDigests('hostb'), states.at(-1), `the copy equals the source after live sync ${syncs.length}`);
  }

  const { points, totalBytes } = await listPoints();
  assert.deepEqual(
    points.map((p) => p.id),
    [syncs[1], syncs[0]],
    'a point per live sync, newest first, named by its operation',
  );
  assert.ok(
    points.every((p) => p.complete && p.disks.length === 2),
    'every disk has its point',
  );
  assert.deepEqual(byTarget(points[0]), states[1], "the newest point is the source's guest content at the first live sync");
  assert.deepEqual(byTarget(points[1]), states[0], 'the older one is the clone');
  assert.ok(totalBytes < 4 * MiB, `the points take about what the syncs overwrote, not the disks (${totalBytes} bytes)`);
  const vda = await hostExec('hostb', ['qemu-img', 'info', '-U', `${IMAGES}/lp1.qcow2`]);
  assert.match(vda, /file format: qcow2/);

  // The copy was never started: shut off. Newest first, then the oldest.
  for (const [i, point] of points.entries()) {
    const want = states[1 - i];
    assert.ok(want);
    const out = await kvmctl(['--json', 'restore', 'lp1', '--on', 'hostb', '--point', point.id, '--yes'], { stateDir: state });
    assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
    assert.deepEqual(out.result?.digests, want, "the agent's checked digests are the point's");
    assert.deepEqual(await guestDigests('hostb'), want, `restored to the state at ${i === 0 ? 'live sync 1' : 'the clone'}`);
    assert.match(await hostExec('hostb', ['qemu-img', 'info', '-U', `${IMAGES}/lp1.qcow2`]), /file format: qcow2/, 'still a qcow2');
  }
  assert.deepEqual((await listPoints()).points, [], 'the points restored to are used up');

  // The copy changed behind the checkpoint's back: the next live sync compares hashes, converges, and keeps a new point.
  const again = await kvmctl(['--json', 'sync', 'lp1', '--from', 'hosta', '--to', 'hostb', '--live', '--keep', '2'], { stateDir: state });
  assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
  assert.equal(again.result?.delta, 'hash', JSON.stringify(again.result));
  assert.match(String(again.result?.deltaReason), /changed since the last sync/);
  assert.deepEqual(await guestDigests('hostb'), await guestDigests('hosta'));
  const fresh = (await listPoints()).points;
  assert.equal(fresh.length, 1);
  assert.deepEqual(byTarget(fresh[0]), states[0], 'the new point is of the restored copy');
});
