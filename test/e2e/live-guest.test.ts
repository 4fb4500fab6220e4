/**
 * The live guest on one testbed host: it boots under TCG and rewrites vdb in
 * passes; a copy taken while it is paused is one point in time, a copy read
 * block by block while it writes is not (so the checker can fail); hostWrite
 * puts exactly the bytes it names into a running guest's disk (KVM boot-sector
 * guest where the machine has /dev/kvm, TCG otherwise).
 * Host lgA, IDX 41: names no other e2e file uses.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { hostImagesDir } from '../support/testbed.js';
import { checkPointInTime, ensureLiveGuestBuilt, hostWrite, inHost, makeLiveGuest, readPasses, runTestbed, waitForPass } from '../support/live-guest.js';

const run = promisify(execFile);
const HOST = 'lgA';
const IDX = '41';
const VM = 'gp1'; // the live guest (TCG)
const BOOT_VM = 'bs1'; // the boot-sector guest: KVM where the machine has it, else TCG
const BOOT_TYPE = existsSync('/dev/kvm') ? 'kvm' : 'qemu';
const VDB_MB = 16; // a pass takes ~3 s under TCG
const BLOCK = 65536;
let tmp: string;

const virsh = (...args: string[]): Promise<string> => inHost(HOST, ['virsh', '-q', '-c', 'qemu:///system', ...args]);
const image = (file: string): string => join(hostImagesDir(HOST), file);

/** The guest-visible content of a disk image (qcow2 or raw), read beside a running QEMU. */
async function guestView(file: string): Promise<Buffer> {
  const out = join(tmp, `view-${Date.now()}.raw`);
  await run('qemu-img', ['convert', '-U', '-O', 'raw', file, out]);
  try {
    return await readFile(out);
  } finally {
    await rm(out, { force: true });
  }
}

/**
 * Copies the guest's view of a qcow2 one 64 KiB block at a time, reading the
 * image file directly (its cluster map is taken once: after pass 1 every
 * cluster is allocated and stays put) — a naive copy of a running guest's disk.
 * `midway` runs after the first half, like a copier that stalls.
 */
async function slowCopy(qcow2: string, out: string, opts: { delayMs: number; midway: () => Promise<void> }): Promise<void> {
  const { stdout } = await run('qemu-img', ['map', '-U', '--output=json', '-f', 'qcow2', qcow2]);
  const extents = JSON.parse(stdout) as { start: number; length: number; data: boolean; offset?: number }[];
  const size = extents.reduce((n, e) => Math.max(n, e.start + e.length), 0);
  const src = await open(qcow2, 'r');
  const dst = await open(out, 'w');
  try {
    for (let off = 0; off < size; off += BLOCK) {
      if (off === size / 2) await opts.midway();
      const buf = Buffer.alloc(BLOCK);
      for (let p = off; p < off + BLOCK;) {
        const e = extents.find((x) => x.start <= p && p < x.start + x.length);
        assert.ok(e, `no extent at ${p}`);
        const n = Math.min(off + BLOCK, e.start + e.length) - p;
        if (e.data && e.offset !== undefined) await src.read(buf, p - off, n, e.offset + (p - e.start));
        p += n;
      }
      await dst.write(buf, 0, BLOCK, off);
      await sleep(opts.delayMs);
    }
  } finally {
    await src.close();
    await dst.close();
  }
}

/** Asserts that `after` differs from `before` exactly in [offset, offset+length), which holds `pattern`. */
function assertWritten(before: Buffer, after: Buffer, w: { pattern: number; offset: number; length: number }): void {
  assert.equal(after.length, before.length);
  const end = w.offset + w.length;
  assert.ok(!before.subarray(w.offset, end).every((b) => b === w.pattern), 'the range held other bytes before');
  assert.ok(
    after.subarray(w.offset, end).every((b) => b === w.pattern),
    'the range holds the pattern',
  );
  assert.ok(before.subarray(0, w.offset).equals(after.subarray(0, w.offset)), 'nothing changed before the range');
  assert.ok(before.subarray(end).equals(after.subarray(end)), 'nothing changed after the range');
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'kvmclone-live-guest-'));
  await runTestbed('host-down.sh', [HOST]);
  await runTestbed('host-up.sh', [HOST, IDX]);
  const t0 = Date.now();
  await ensureLiveGuestBuilt();
  console.log(`# live guest build: ${Date.now() - t0} ms`);
  await makeLiveGuest(HOST, VM, { vdbMb: VDB_MB });
  await runTestbed('make-vm.sh', [HOST, BOOT_VM, '--raw-size-mb', '4'], { env: { DOMAIN_TYPE: BOOT_TYPE } });
  const t1 = Date.now();
  await virsh('start', VM);
  await virsh('start', BOOT_VM);
  const pass1 = await waitForPass(HOST, VM, 1, 120_000);
  console.log(`# boot to pass 1 done: ${Date.now() - t1} ms (guest: /init → pass 1 start ${pass1.start} s)`);
  const pass2 = await waitForPass(HOST, VM, 2, 90_000);
  console.log(`# pass 2 (${VDB_MB} MiB): ${((pass2.done! - pass2.start) * 1000).toFixed(0)} ms; start to pass 2 done: ${Date.now() - t1} ms`);
});

after(async () => {
  await runTestbed('host-down.sh', [HOST]);
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('a copy of vdb taken while the guest is paused is one point in time', async () => {
  const copy = join(tmp, 'paused.qcow2');
  await virsh('suspend', VM);
  try {
    await copyFile(image(`${VM}-vdb.qcow2`), copy);
  } finally {
    await virsh('resume', VM);
  }
  const check = await checkPointInTime(copy);
  assert.ok(check.ok, check.detail);
  assert.ok(check.report!.pass >= 2, check.detail);
});

test('a copy of vdb read block by block while the guest writes fails the checker', async () => {
  // Whatever the speeds, the copy must not look like one point in time: it stalls halfway until
  // the writer has rewritten the whole disk once more, so its second half is newer than its first.
  // (A copy that happens to outrun the writer can look consistent by luck; the paused one always is.)
  const copy = join(tmp, 'slow.raw');
  const t0 = Date.now();
  let waited = 0;
  await slowCopy(image(`${VM}-vdb.qcow2`), copy, {
    delayMs: 10,
    midway: async () => {
      const passes = await readPasses(HOST, VM);
      const t = Date.now();
      await waitForPass(HOST, VM, passes[passes.length - 1].n + 1, 120_000);
      waited = Date.now() - t;
    },
  });
  console.log(`# slow copy: ${Date.now() - t0} ms (${waited} ms of it stalled halfway)`);
  const check = await checkPointInTime(copy);
  assert.equal(check.ok, false, check.detail);
  assert.match(check.report!.problems.join('; '), /out of order/, check.detail);
});

test(`hostWrite changes exactly the bytes it names (boot-sector guest: ${BOOT_TYPE}, live guest: qemu)`, async () => {
  // the boot-sector guest, running: its only disk, past the boot sector
  const bs = { disk: 'vda', pattern: 0x41, offset: 1024 * 1024 + 1536, length: 5000 };
  const bsBefore = await guestView(image(`${BOOT_VM}.qcow2`));
  await hostWrite(HOST, BOOT_VM, bs);
  assertWritten(bsBefore, await guestView(image(`${BOOT_VM}.qcow2`)), bs);

  // the live guest under TCG, running: vda, which it never writes; unaligned, across a cluster
  const vda = { disk: 'vda', pattern: 0x5a, offset: 2 * 1024 * 1024 - 7, length: 70_000 };
  const vdaBefore = await guestView(image(`${VM}-vda.qcow2`));
  await hostWrite(HOST, VM, vda);
  assertWritten(vdaBefore, await guestView(image(`${VM}-vda.qcow2`)), vda);

  // the live guest's vdb (the default disk), paused so that it cannot overwrite the bytes:
  // they land, and the checker names the block they broke
  const vdb = { pattern: 0x41, offset: 5 * BLOCK + 3 * 512, length: 1024 };
  await virsh('suspend', VM);
  try {
    const vdbBefore = await guestView(image(`${VM}-vdb.qcow2`));
    assert.ok((await checkPointInTime(image(`${VM}-vdb.qcow2`))).ok, 'consistent before the write');
    await hostWrite(HOST, VM, vdb);
    assertWritten(vdbBefore, await guestView(image(`${VM}-vdb.qcow2`)), vdb);
    const check = await checkPointInTime(image(`${VM}-vdb.qcow2`));
    assert.equal(check.ok, false, check.detail);
    assert.match(check.detail, /first at 5 /);
  } finally {
    await virsh('resume', VM);
  }
  await assert.rejects(hostWrite(HOST, VM, { disk: 'vdb', pattern: 1, offset: VDB_MB * 1024 * 1024 - 1, length: 2 }), /write failed/);
  await assert.rejects(hostWrite(HOST, VM, { disk: 'vdz', pattern: 1, offset: 0, length: 1 }), /no running virtio disk vdz/);
});
