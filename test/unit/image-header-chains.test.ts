/**
 * The qcow2 header check on real files made with qemu-img create: a chain
 * inside the roots passes, each link with its format, and a missing backing
 * file passes only when allowed and only under the roots.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { chainBlockdevOptions, checkImageChain } from '../../agent/images/image-header.js';
import { qemuImgChain, qemuImgMap } from '../../agent/images/qemu-img.js';
import { img, refusal, useHeaderDirs } from './support/image-header-fixture.js';

const dirs = useHeaderDirs();

describe('checkImageChain', () => {
  test('a chain inside the roots (relative and absolute references) passes, each link with its format', async () => {
    await img('-f', 'raw', join(dirs.root, 'base.raw'), '1M');
    await img('-f', 'qcow2', '-b', 'base.raw', '-F', 'raw', join(dirs.root, 'mid.qcow2'));
    await img('-f', 'qcow2', '-b', join(dirs.root, 'mid.qcow2'), '-F', 'qcow2', join(dirs.root, 'top.qcow2'));
    const chain = await checkImageChain(join(dirs.root, 'top.qcow2'), 'qcow2', { roots: dirs.roots });
    assert.deepEqual(
      chain.map((l) => [l.path, l.format, l.backingPath]),
      [
        [join(dirs.root, 'top.qcow2'), 'qcow2', join(dirs.root, 'mid.qcow2')],
        [join(dirs.root, 'mid.qcow2'), 'qcow2', join(dirs.root, 'base.raw')],
        [join(dirs.root, 'base.raw'), 'raw', ''],
      ],
    );
    assert.deepEqual(chainBlockdevOptions(chain), {
      driver: 'qcow2',
      file: { driver: 'file', filename: join(dirs.root, 'top.qcow2') },
      backing: {
        driver: 'qcow2',
        file: { driver: 'file', filename: join(dirs.root, 'mid.qcow2') },
        backing: { driver: 'raw', file: { driver: 'file', filename: join(dirs.root, 'base.raw') } },
      },
    });
    // qemu-img through the checked chain agrees.
    assert.equal(
      (await qemuImgMap(join(dirs.root, 'top.qcow2'), undefined, { roots: dirs.roots })).reduce((n, e) => n + e.length, 0),
      1024 * 1024,
    );
    assert.deepEqual(
      (await qemuImgChain(join(dirs.root, 'top.qcow2'))).map((i) => i.format),
      ['qcow2', 'qcow2', 'raw'],
    );
  });

  test('a missing backing file passes only when allowed (a base staged by the same operation) and only under the roots', async () => {
    await img('-f', 'qcow2', '-u', '-b', 'later.qcow2', '-F', 'qcow2', join(dirs.root, 'pending.qcow2'), '1M');
    await img('-f', 'qcow2', '-u', '-b', join(dirs.outside, 'later.qcow2'), '-F', 'qcow2', join(dirs.root, 'pending-out.qcow2'), '1M');
    assert.equal((await refusal(checkImageChain(join(dirs.root, 'pending.qcow2'), 'qcow2', { roots: dirs.roots }))).code, 'PERMISSION_DENIED');
    const chain = await checkImageChain(join(dirs.root, 'pending.qcow2'), 'qcow2', { roots: dirs.roots, allowMissingBacking: true });
    assert.deepEqual(
      chain.map((l) => [l.backingReference, l.backingPath]),
      [['later.qcow2', '']],
    );
    assert.match((await refusal(checkImageChain(join(dirs.root, 'pending-out.qcow2'), 'qcow2', { roots: dirs.roots, allowMissingBacking: true }))).message, /outside/);
  });
});
