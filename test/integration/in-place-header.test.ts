/**
 * The header of a qcow2 synced in place, with real qemu-img images: the
 * backing reference rewritten in memory as `qemu-img rebase -u` writes it,
 * and the plan an in-place pull makes of the first bytes before its journal
 * commits — the destination's chain kept, anything unexpected refused.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { withBackingReference } from '../../agent/images/qcow2-backing-rewrite.js';
import { qcow2HeaderOf } from '../../agent/images/image-header.js';
import { ImageRoots } from '../../agent/paths/image-roots.js';
import { HeaderWindow, planHeader, type HeaderPlan } from '../../agent/transfer/in-place-header.js';
import { KvmcloneError } from '../../shared/errors.js';
import { makeRootAndOutside } from '../support/root-and-outside.js';
import { run } from './support/image-files.js';

const MiB = 1024 * 1024;
let dir: string;
let images: string;
let outside: string;
let roots: ImageRoots;

before(async () => {
  ({ dir, images, outside, roots } = await makeRootAndOutside('kvmclone-inplace-header-', 'clones'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function qemuImg(...args: string[]): Promise<string> {
  return (await run('qemu-img', args)).stdout;
}

async function info(path: string): Promise<{ 'backing-filename'?: string; 'backing-filename-format'?: string }> {
  return JSON.parse(await qemuImg('info', '-f', 'qcow2', '--output=json', path)) as { 'backing-filename'?: string };
}

/** The first 2 MiB of an image (all of it when smaller): what a sync of its header region would send. */
async function firstBytes(path: string): Promise<Buffer> {
  return (await readFile(path)).subarray(0, 2 * MiB);
}

/** A qcow2 v3 overlay of `base` (named as `reference`); with a persistent bitmap its header has one more extension. */
async function overlay(path: string, reference: string, base: string, bitmap = true): Promise<void> {
  await qemuImg('create', '-q', '-f', 'qcow2', '-o', 'compat=1.1', base, '4M');
  await qemuImg('create', '-q', '-f', 'qcow2', '-b', reference, '-F', 'qcow2', path);
  if (bitmap) await qemuImg('bitmap', '--add', '-f', 'qcow2', path, 'kvmclone.b1');
  await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x61 1M 64k', path]);
}

/** planHeader of `target` as if the source's first bytes were `incoming` (one data piece over the whole window). */
async function plan(target: string, incoming: Buffer): Promise<HeaderPlan> {
  const window = new HeaderWindow();
  const size = (await stat(target)).size;
  window.takeData(0, incoming.subarray(0, Math.min(window.limit, size)));
  const fh = await open(target, 'r');
  try {
    return await planHeader({ target, fh, currentSize: size, newSize: size, window, roots });
  } finally {
    await fh.close();
  }
}

async function refusal(promise: Promise<unknown>): Promise<KvmcloneError> {
  const err = await promise.then(
    () => assert.fail('expected a refusal'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof KvmcloneError, String(err));
  return err;
}

test('the backing reference rewritten in memory is what qemu-img rebase -u writes, byte for byte', async () => {
  // (Without a bitmap: qemu-img rebase opens the image read-write and stores its bitmaps anew, elsewhere.)
  const src = join(images, 'rw-src.qcow2');
  await overlay(src, join(images, 'rw-base.qcow2'), join(images, 'rw-base.qcow2'), false);
  await qemuImg('create', '-q', '-f', 'qcow2', join(images, 'clones', 'rw-base.qcow2'), '4M');
  const byQemu = join(images, 'rw-qemu.qcow2');
  await copyFile(src, byQemu);
  await qemuImg('rebase', '-u', '-f', 'qcow2', '-b', join(images, 'clones', 'rw-base.qcow2'), '-F', 'qcow2', byQemu);

  const cluster = (await readFile(src)).subarray(0, 65536);
  const header = await qcow2HeaderOf(cluster, src);
  const ours = withBackingReference(cluster, header.clusterSize, join(images, 'clones', 'rw-base.qcow2'), 'qcow2', src);
  assert.ok(ours.equals((await readFile(byQemu)).subarray(0, 65536)), 'the first cluster equals the one qemu-img rebase -u wrote');
});

test('a rewritten header keeps every other extension (a persistent bitmap) and passes qemu-img check', async () => {
  const src = join(images, 'bm-src.qcow2');
  await overlay(src, join(images, 'bm-base.qcow2'), join(images, 'bm-base.qcow2'));
  await qemuImg('create', '-q', '-f', 'qcow2', join(images, 'clones', 'bm-base.qcow2'), '4M');
  const cluster = (await readFile(src)).subarray(0, 65536);
  const ours = withBackingReference(cluster, 65536, join(images, 'clones', 'bm-base.qcow2'), 'qcow2', src);
  const mine = join(images, 'bm-ours.qcow2');
  await copyFile(src, mine);
  const fh = await open(mine, 'r+');
  await fh.write(ours, 0, ours.length, 0);
  await fh.close();
  assert.equal((await info(mine))['backing-filename'], join(images, 'clones', 'bm-base.qcow2'));
  assert.equal((await info(mine))['backing-filename-format'], 'qcow2');
  await qemuImg('check', '-q', '-f', 'qcow2', mine);
  const withBitmap = JSON.parse(await qemuImg('info', '-f', 'qcow2', '--output=json', mine)) as { 'format-specific'?: { data?: { bitmaps?: { name: string }[] } } };
  assert.deepEqual(
    withBitmap['format-specific']?.data?.bitmaps?.map((b) => b.name),
    ['kvmclone.b1'],
    'the bitmap extension is kept',
  );
});

test('removing the backing reference, and a name that does not fit, in memory', async () => {
  const src = join(images, 'rm-src.qcow2');
  await overlay(src, 'rm-base.qcow2', join(images, 'rm-base.qcow2'));
  const cluster = (await readFile(src)).subarray(0, 65536);
  const none = withBackingReference(cluster, 65536, '', '', src);
  const header = await qcow2HeaderOf(none, src);
  assert.equal(header.backingReference, '');
  assert.equal(header.backingFormat, '');
  assert.throws(() => withBackingReference(cluster, 65536, 'x'.repeat(1024), 'qcow2', src), /longer than qcow2 allows/);
  const small = Buffer.from(cluster.subarray(0, 512));
  small.writeUInt32BE(9, 20); // 512-byte clusters: no room for the extensions and a long name
  assert.throws(() => withBackingReference(small, 512, `/${'d'.repeat(500)}`, 'qcow2', src), /first cluster/);
});

test("an in-place sync keeps the destination's backing reference; the source's form is kept for the digest", async () => {
  // Source: a top naming the source's base by an absolute path; destination: the same top rebased into clones/.
  const srcBase = join(outside, 'keep-base.qcow2');
  const src = join(outside, 'keep.qcow2');
  await overlay(src, srcBase, srcBase);
  const dstBase = join(images, 'clones', 'keep-base.qcow2');
  await copyFile(srcBase, dstBase);
  const dst = join(images, 'clones', 'keep.qcow2');
  await copyFile(src, dst);
  await qemuImg('rebase', '-u', '-f', 'qcow2', '-b', dstBase, '-F', 'qcow2', dst);
  await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x62 2M 64k', src]);

  const incoming = await firstBytes(src);
  const result = await plan(dst, incoming);
  assert.equal(result.backingReference, dstBase, 'the header keeps naming the destination base');
  assert.ok(result.record !== undefined && result.sourceForm !== undefined);
  assert.ok(result.sourceForm.equals(incoming.subarray(0, result.sourceForm.length)), "the digest's view is the source's bytes");
  const written = await qcow2HeaderOf(result.record, dst);
  assert.equal(written.backingReference, dstBase);
  assert.equal(written.backingFormat, 'qcow2');
  const byHeader = await qcow2HeaderOf(incoming, src);
  assert.equal(written.virtualSize, byHeader.virtualSize);

  // Nothing of the window sent: the header stays as it is, nothing to write.
  const fh = await open(dst, 'r');
  const size = (await stat(dst)).size;
  const untouched = await planHeader({ target: dst, fh, currentSize: size, newSize: size, window: new HeaderWindow(), roots }).finally(() => fh.close());
  assert.equal(untouched.record, undefined);
  assert.equal(untouched.sourceForm, undefined);
});

test('refused before the commit: an external data file, a header that is not qcow2, a base the destination lacks, a chain leaving the roots', async () => {
  const dst = join(images, 'ref.qcow2');
  await overlay(dst, 'ref-base.qcow2', join(images, 'ref-base.qcow2'));

  // The source's header names an external data file (/dev/sda would be read and written as the disk).
  const withData = join(outside, 'data.qcow2');
  await qemuImg('create', '-q', '-f', 'qcow2', '-o', `data_file=${join(outside, 'data.raw')}`, withData, '4M');
  await qemuImg('rebase', '-u', '-f', 'qcow2', '-b', 'ref-base.qcow2', '-F', 'qcow2', withData);
  const denied = await refusal(plan(dst, await firstBytes(withData)));
  assert.equal(denied.code, 'PERMISSION_DENIED');
  assert.match(denied.message, /external data file/);

  // Bytes that are no qcow2 header at all.
  const garbage = await refusal(plan(dst, Buffer.alloc(2 * MiB, 0x41)));
  assert.equal(garbage.code, 'DATA_LOSS');
  assert.match(garbage.message, /not a qcow2 image.*not applied/);

  // The destination is standalone; the source names a base.
  const standalone = join(images, 'alone.qcow2');
  await qemuImg('create', '-q', '-f', 'qcow2', standalone, '4M');
  const lacks = await refusal(plan(standalone, await firstBytes(dst)));
  assert.equal(lacks.code, 'FAILED_PRECONDITION');
  assert.match(lacks.message, /no base to keep it on/);

  // The destination's own chain leads out of the roots (someone rebased it by hand): nothing more is written into it.
  const escaped = join(images, 'escaped.qcow2');
  await overlay(escaped, join(outside, 'escaped-base.qcow2'), join(outside, 'escaped-base.qcow2'));
  const out = await refusal(plan(escaped, await firstBytes(escaped)));
  assert.equal(out.code, 'PERMISSION_DENIED');
  assert.match(out.message, /outside the agent's image roots/);
});
