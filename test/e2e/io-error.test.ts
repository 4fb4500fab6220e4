/**
 * The I/O-error injector of the testbed (IMAGES_EIO=1, test/testbed/eio-fs.c)
 * on real hosts: the images dir is eio-fs and everything the agent, qemu-img
 * and libvirt do there works through it; a file made unreadable fails reads
 * with EIO from the chosen offset (even reads the page cache could have
 * answered); a clone of a VM whose disk is unreadable fails with a clear I/O
 * error and leaves nothing on the destination; once the fault is lifted the
 * same clone succeeds — onto an IMAGES_EIO host, so staging files, xattrs,
 * fallocate, SEEK_DATA, renameat2 and directory fsyncs go through eio-fs too.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { kvmctl, ONE_QUICK_RETRY, writeKvmctlConfig, type KvmctlRun } from '../support/kvmctl.js';
import { disableIoErrors, enableIoErrors, listIoErrors } from '../support/faults/io-error.js';
import { E2E_DIR, hostDown, hostExec, hostImagesDir, hostUp, testbedScript, IMAGES } from '../support/testbed.js';
import { domains, imageFiles } from '../support/host-inventory.js';
import { makeTwoDiskVm } from '../support/two-disk-vm.js';
import { lgetxattr } from '../../agent/native/libc.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const VM = 'eio1';
const DATA = `${VM}-data.raw`;
let state: string;

before(async () => {
  await Promise.all(['hosta', 'hostb'].map(hostDown));
  await hostUp('hosta', 1, { IMAGES_EIO: '1' });
  await hostUp('hostb', 2, { IMAGES_EIO: '1' });
  state = await mkdtemp(join(tmpdir(), 'kvmclone-eio-e2e-'));
  // The fault does not heal by itself: a run that would retry gives up at once.
  await writeKvmctlConfig(state, ONE_QUICK_RETRY);
  await makeTwoDiskVm('hosta', VM, { rawGiB: 1, dataMiB: 16 });
});

after(async () => {
  await Promise.all(['hosta', 'hostb'].map(hostDown));
  await rm(state, { recursive: true, force: true });
});

function said(out: KvmctlRun): string {
  return `exit ${out.code}\n${out.stdout}\n${out.stderr}`;
}

/** dd inside the host: the exit status and stderr of reading `count` MiB of `file` from MiB `skip` on. */
async function readInHost(host: string, file: string, skipMiB: number, countMiB: number): Promise<{ ok: boolean; stderr: string }> {
  const out = await hostExec(host, [
    'bash',
    '-c',
    `dd if=${IMAGES}/${file} of=/dev/null bs=1M skip=${skipMiB} count=${countMiB} status=none 2>/tmp/eio-dd.err; rc=$?; cat /tmp/eio-dd.err; rm -f /tmp/eio-dd.err; echo "rc=$rc"`,
  ]);
  return { ok: /rc=0\s*$/.test(out), stderr: out };
}

test('the images dir is eio-fs: reads inside the host see the backing files', async () => {
  for (const host of ['hosta', 'hostb']) {
    assert.equal((await hostExec(host, ['findmnt', '-n', '-o', 'FSTYPE', IMAGES])).trim(), 'fuse.eio', `${host}'s images dir`);
  }
  const inside = (await hostExec('hosta', ['sha256sum', `${IMAGES}/${DATA}`])).split(' ')[0];
  const outside = createHash('sha256')
    .update(await readFile(join(hostImagesDir('hosta'), DATA)))
    .digest('hex');
  assert.equal(inside, outside);
  // SEEK_DATA/SEEK_HOLE go through: qemu-img map finds the 16 scattered MiB, not a 1 GiB run of data.
  const map = JSON.parse(await hostExec('hosta', ['qemu-img', 'map', '--output=json', '-f', 'raw', `${IMAGES}/${DATA}`])) as { length: number; data: boolean }[];
  const data = map.filter((e) => e.data).reduce((n, e) => n + e.length, 0);
  assert.ok(data >= 16 * MiB && data <= 32 * MiB, `${data} bytes of data mapped`);
  assert.deepEqual(await listIoErrors('hosta'), []);
});

test('enable fails reads from the offset on, even of data just read (no page cache), and disable heals', async () => {
  assert.ok((await readInHost('hosta', DATA, 0, 64)).ok, 'a first read works (and would fill a page cache)');
  await enableIoErrors('hosta', DATA, 32 * MiB);
  try {
    assert.ok((await readInHost('hosta', DATA, 0, 32)).ok, 'before the offset reads still work');
    const bad = await readInHost('hosta', DATA, 0, 64);
    assert.ok(!bad.ok, 'a read across the offset fails');
    assert.match(bad.stderr, /Input\/output error/);
    const rules = await listIoErrors('hosta');
    assert.equal(rules.length, 1);
    assert.equal(rules[0]?.file, DATA);
    assert.equal(rules[0]?.fromOffset, 32 * MiB);
    assert.ok((rules[0]?.failedReads ?? 0) >= 1, 'the failure was the injected one');
    // The fault is on the file, not on its name; other files are not affected.
    assert.ok((await readInHost('hosta', `${VM}.qcow2`, 0, 1)).ok);
    await hostExec('hosta', ['ln', `${IMAGES}/${DATA}`, `${IMAGES}/eio-link.raw`]);
    try {
      assert.ok(!(await readInHost('hosta', 'eio-link.raw', 32, 1)).ok, 'a hard link of the file fails as well');
    } finally {
      await hostExec('hosta', ['rm', '-f', `${IMAGES}/eio-link.raw`]);
    }
  } finally {
    await disableIoErrors('hosta', DATA);
  }
  assert.ok((await readInHost('hosta', DATA, 0, 1024)).ok, 'after disable the whole file reads');
  assert.deepEqual(await listIoErrors('hosta'), []);
  await assert.rejects(enableIoErrors('hosta', 'no-such-file.raw'), /No such file/);
});

/** The agent's audit records on `host` that ended in DATA_LOSS for `file` (the audit names the paths of each call). */
async function dataLossRecords(host: string, file: string): Promise<{ method: string; message: string }[]> {
  const lines = (await readFile(join(E2E_DIR, host, 'var-log-kvmclone', 'audit.log'), 'utf8')).split('\n').filter(Boolean);
  return lines
    .map((l) => JSON.parse(l) as { method?: string; code?: string; message?: string | null; paths?: string[] })
    .filter((r) => r.code === 'DATA_LOSS' && (r.paths ?? []).includes(`${IMAGES}/${file}`))
    .map((r) => ({ method: r.method ?? '', message: r.message ?? '' }));
}

for (const [when, fromOffset, phase] of [
  ['from its first byte', 0, 'PREFLIGHT'],
  ['from 512 MiB on (mid-transfer)', 512 * MiB, 'TRANSFER'],
] as const) {
  test(`a clone whose source disk is unreadable ${when} fails with a clear I/O error and leaves nothing on the destination`, async () => {
    const filesBefore = await imageFiles('hostb');
    const domainsBefore = await domains('hostb');
    const auditBefore = (await dataLossRecords('hosta', DATA)).length;
    await enableIoErrors('hosta', DATA, fromOffset);
    let out: KvmctlRun;
    try {
      out = await kvmctl(['--json', 'clone', VM, '--from', 'hosta', '--to', 'hostb', '--name', `${VM}-copy`], { stateDir: state });
      const rules = await listIoErrors('hosta');
      assert.ok((rules[0]?.failedReads ?? 0) >= 1, `the agent's reads hit the fault: ${JSON.stringify(rules)}`);
    } finally {
      await disableIoErrors('hosta', DATA);
    }
    assert.equal(out.code, 1, said(out));
    const phases = out.events.filter((e) => e.type === 'phase' && e.phase !== 'REVERT').map((e) => e.phase);
    assert.equal(phases.at(-1), phase, `it failed in ${phase}: ${said(out)}`);
    const error = (out.result?.error ?? {}) as { code?: string; message?: string };
    assert.equal(error.code, 'DATA_LOSS', said(out));
    // Before TRANSFER hosta says so itself; during it, hostb (which pulls from hosta) reports its source agent's error.
    assert.match(error.message ?? '', phase === 'PREFLIGHT' ? /^hosta: .*input\/output error \(EIO\)/ : /^hostb: source agent: .*input\/output error \(EIO\)/, said(out));
    // And it names the unreadable image, so the user knows which disk of which host to look at.
    assert.ok((error.message ?? '').includes(`${IMAGES}/${DATA}`), `the error names ${IMAGES}/${DATA}: ${said(out)}`);
    if (phase === 'TRANSFER') {
      // ReadRanges is audited (read-only calls such as PREFLIGHT's are not): the record names the unreadable file.
      const audit = (await dataLossRecords('hosta', DATA)).slice(auditBefore);
      assert.deepEqual(
        audit.map((r) => r.method),
        ['/kvmclone.agent.v1.DiskService/ReadRanges'],
        said(out),
      );
      assert.match(audit[0]?.message ?? '', /input\/output error \(EIO\)/);
    }
    assert.deepEqual(await domains('hostb'), domainsBefore, 'no domain is left');
    assert.deepEqual(await imageFiles('hostb'), filesBefore, 'no file is left');
  });
}

test('with the fault lifted the clone succeeds, onto an IMAGES_EIO host: equal disks, sparse, xattrs kept', async () => {
  const out = await kvmctl(['--json', 'clone', VM, '--from', 'hosta', '--to', 'hostb', '--name', `${VM}-copy`], { stateDir: state });
  assert.equal(out.code, 0, said(out));
  const a = hostImagesDir('hosta');
  const b = hostImagesDir('hostb');
  await run('qemu-img', ['compare', '-U', '-q', join(a, DATA), join(b, `${VM}-copy-data.raw`)]);
  await run('qemu-img', ['compare', '-U', '-q', join(a, `${VM}.qcow2`), join(b, `${VM}-copy.qcow2`)]);
  const alloc = async (p: string): Promise<number> => (await stat(p)).blocks * 512;
  const srcAlloc = await alloc(join(a, DATA));
  const dstAlloc = await alloc(join(b, `${VM}-copy-data.raw`));
  assert.ok(Math.abs(dstAlloc - srcAlloc) <= 4 * MiB, `allocation ${dstAlloc} close to ${srcAlloc}: holes stay holes`);
  assert.deepEqual(
    (await imageFiles('hostb')).filter((f) => f.includes('staging')),
    [],
    'no staging file is left',
  );
  assert.ok((await domains('hostb')).includes(`${VM}-copy`));
  // The agent's fsetxattr on its staging file went through eio-fs to the backing file (the attribute stays on the committed file).
  const recorded = lgetxattr(join(b, `${VM}-copy-data.raw`), 'user.kvmclone.operation', 128)?.toString('utf8') ?? '';
  assert.equal(recorded, out.result?.id, 'the operation id was recorded through eio-fs');
});

test('host-eio.sh refuses a host that is not up with IMAGES_EIO=1', async () => {
  await assert.rejects(testbedScript('host-eio.sh', ['hostz', 'list']), /not up with IMAGES_EIO=1/);
});
