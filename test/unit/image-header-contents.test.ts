/**
 * The qcow2 header check on real files made with qemu-img create: any
 * external data file is refused, a raw image whose first sector looks like
 * qcow2 is handled as the format the caller says, and a malformed or looping
 * header is DATA_LOSS.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkImageChain, sniffFormat } from '../../agent/images/image-header.js';
import { qemuImgInfo } from '../../agent/images/qemu-img.js';
import { img, refusal, run, useHeaderDirs } from './support/image-header-fixture.js';

const dirs = useHeaderDirs();

describe('checkImageChain', () => {
  test('an external data file is refused always, even inside the roots, and even by qemuImgInfo', async () => {
    await img('-f', 'raw', join(dirs.root, 'data.raw'), '1M');
    await img('-f', 'qcow2', '-o', `data_file=${join(dirs.root, 'data.raw')}`, join(dirs.root, 'with-data.qcow2'), '1M');
    const err = await refusal(checkImageChain(join(dirs.root, 'with-data.qcow2'), 'qcow2', { roots: dirs.roots }));
    assert.equal(err.code, 'PERMISSION_DENIED');
    assert.match(err.message, /external data file.*data\.raw/);
    assert.equal((await refusal(qemuImgInfo(join(dirs.root, 'with-data.qcow2')))).code, 'PERMISSION_DENIED');
  });

  test('a raw image whose first sector is a qcow2 header naming /dev/sda is raw when the caller says so; sniffed, it is checked as qcow2', async () => {
    await img('-f', 'qcow2', '-u', '-b', '/dev/sda', '-F', 'raw', join(dirs.outside, 'evil-header.qcow2'), '1M');
    const { stdout } = await run('head', ['-c', '65536', join(dirs.outside, 'evil-header.qcow2')], { encoding: 'buffer' });
    const rawDisk = join(dirs.root, 'guest.raw');
    await writeFile(rawDisk, Buffer.concat([stdout, Buffer.alloc(1024 * 1024 - (stdout as Buffer).length)]));
    assert.deepEqual(
      (await checkImageChain(rawDisk, 'raw', { roots: dirs.roots })).map((l) => l.format),
      ['raw'],
    );
    const info = await qemuImgInfo(rawDisk, undefined, 'raw');
    assert.deepEqual([info.format, info.virtualSize, info.backingReference], ['raw', 1024 * 1024, '']);
    assert.equal(await sniffFormat(rawDisk), 'qcow2');
    assert.equal((await refusal(checkImageChain(rawDisk, await sniffFormat(rawDisk), { roots: dirs.roots }))).code, 'PERMISSION_DENIED');
  });

  test('a malformed or looping header is DATA_LOSS', async () => {
    await writeFile(join(dirs.root, 'short.qcow2'), Buffer.from('QFI\xfb', 'latin1'));
    assert.equal((await refusal(checkImageChain(join(dirs.root, 'short.qcow2'), 'qcow2', { roots: dirs.roots }))).code, 'DATA_LOSS');
    await img('-f', 'qcow2', '-u', '-b', 'loop-b.qcow2', '-F', 'qcow2', join(dirs.root, 'loop-a.qcow2'), '1M');
    await img('-f', 'qcow2', '-u', '-b', 'loop-a.qcow2', '-F', 'qcow2', join(dirs.root, 'loop-b.qcow2'), '1M');
    assert.match((await refusal(checkImageChain(join(dirs.root, 'loop-a.qcow2'), 'qcow2', { roots: dirs.roots }))).message, /loops/);
  });
});
