/**
 * qemu-img reads exactly the chain kvmclone checked (issue 10, hole 4): the
 * links are held open and qemu-img gets their descriptors, and a link whose
 * file was swapped after the check — here for a qcow2 naming an external
 * data file — is refused instead of handed to qemu.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkImageChain } from '../../agent/images/image-header.js';
import { holdChain } from '../../agent/images/held-chain.js';
import { qemuImgChain, qemuImgInfo, qemuImgMap } from '../../agent/images/qemu-img.js';
import { ImageRoots } from '../../agent/paths/image-roots.js';
import { KvmcloneError } from '../../shared/errors.js';
import { run } from './support/image-files.js';

let dir: string;
let roots: ImageRoots;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvmclone-chain-'));
  roots = await ImageRoots.open([dir]);
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', join(dir, 'base.qcow2'), '4M']);
  await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x41 1M 64k', join(dir, 'base.qcow2')]);
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', join(dir, 'top.qcow2')]);
  await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x42 2M 64k', join(dir, 'top.qcow2')]);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('map, chain and info of an overlay run on held descriptors and see both layers', async () => {
  const map = await qemuImgMap(join(dir, 'top.qcow2'), undefined, { roots });
  const data = map.filter((e) => e.data).map((e) => [e.offset, e.length]);
  assert.deepEqual(data, [
    [1048576, 65536],
    [2097152, 65536],
  ]);
  const chain = await qemuImgChain(join(dir, 'top.qcow2'), undefined, { roots });
  assert.deepEqual(
    chain.map((i) => [i.path, i.format, i.backingReference, i.backingPath]),
    [
      [join(dir, 'top.qcow2'), 'qcow2', 'base.qcow2', join(dir, 'base.qcow2')],
      [join(dir, 'base.qcow2'), 'qcow2', '', ''],
    ],
  );
  const info = await qemuImgInfo(join(dir, 'top.qcow2'));
  assert.equal(info.path, join(dir, 'top.qcow2'));
  assert.equal(info.backingPath, join(dir, 'base.qcow2'));
  assert.equal(info.virtualSize, 4 * 1024 * 1024);
});

test('a link swapped after the check for a qcow2 naming an external data file is refused, not handed to qemu', async () => {
  const links = await checkImageChain(join(dir, 'top.qcow2'), 'qcow2', { roots });
  // The swap: a different qcow2, with a data file, renamed over the checked base.
  // (An absolute data file name: qemu-img create resolves a relative one against its working directory.)
  await writeFile(join(dir, 'data.raw'), Buffer.alloc(0));
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `data_file=${join(dir, 'data.raw')}`, join(dir, 'evil.qcow2'), '4M']);
  await rename(join(dir, 'evil.qcow2'), join(dir, 'base.qcow2'));
  await assert.rejects(holdChain(links), (err: unknown) => err instanceof KvmcloneError && err.code === 'PERMISSION_DENIED' && /external data file/.test(err.message));
});
