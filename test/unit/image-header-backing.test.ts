/**
 * The qcow2 header check on real files made with qemu-img create: a backing
 * file outside the roots (also further down the chain, through a symlink or
 * '..'), a device, a protocol or a dangling symlink is refused.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { checkImageChain, hasProtocolPrefix } from '../../agent/images/image-header.js';
import { img, refusal, useHeaderDirs } from './support/image-header-fixture.js';

const dirs = useHeaderDirs();

describe('checkImageChain', () => {
  test('a backing file outside the roots is PERMISSION_DENIED, also one step down the chain or through a symlink', async () => {
    await img('-f', 'qcow2', join(dirs.outside, 'other-vm.qcow2'), '1M');
    await img('-f', 'qcow2', '-b', join(dirs.outside, 'other-vm.qcow2'), '-F', 'qcow2', join(dirs.root, 'steals.qcow2'));
    await img('-f', 'qcow2', '-b', 'steals.qcow2', '-F', 'qcow2', join(dirs.root, 'above.qcow2'));
    await symlink(join(dirs.outside, 'other-vm.qcow2'), join(dirs.root, 'link.qcow2'));
    await img('-f', 'qcow2', '-u', '-b', 'link.qcow2', '-F', 'qcow2', join(dirs.root, 'via-link.qcow2'), '1M');
    await img('-f', 'qcow2', '-u', '-b', '../outside/other-vm.qcow2', '-F', 'qcow2', join(dirs.root, 'dotdot.qcow2'), '1M');
    for (const name of ['steals.qcow2', 'above.qcow2', 'via-link.qcow2', 'dotdot.qcow2']) {
      const err = await refusal(checkImageChain(join(dirs.root, name), 'qcow2', { roots: dirs.roots }));
      assert.equal(err.code, 'PERMISSION_DENIED', name);
      assert.match(err.message, /outside the agent's image roots/, name);
    }
    // Without roots (a read-only look) the same chain is followed.
    assert.equal((await checkImageChain(join(dirs.root, 'above.qcow2'), 'qcow2')).length, 3);
  });

  test('a device, a protocol or a dangling symlink as backing file is refused, with or without roots', async () => {
    await img('-f', 'qcow2', '-u', '-b', '/dev/null', '-F', 'raw', join(dirs.root, 'device.qcow2'), '1M');
    await img('-f', 'qcow2', '-u', '-b', 'nbd://127.0.0.1:10809/x', '-F', 'raw', join(dirs.root, 'nbd.qcow2'), '1M');
    await symlink(join(dirs.outside, 'nothing-here'), join(dirs.root, 'dangling'));
    await img('-f', 'qcow2', '-u', '-b', 'dangling', '-F', 'raw', join(dirs.root, 'dangling.qcow2'), '1M');
    for (const options of [{ roots: dirs.roots }, {}]) {
      assert.match(
        (await refusal(checkImageChain(join(dirs.root, 'device.qcow2'), 'qcow2', options))).message,
        options.roots ? /outside the agent's image roots/ : /not a regular file/,
      );
      assert.match((await refusal(checkImageChain(join(dirs.root, 'nbd.qcow2'), 'qcow2', options))).message, /protocol/);
      assert.match((await refusal(checkImageChain(join(dirs.root, 'dangling.qcow2'), 'qcow2', { ...options, allowMissingBacking: true }))).message, /symlink that leads nowhere/);
    }
    assert.ok(hasProtocolPrefix('json:{"driver":"file"}'));
    assert.ok(!hasProtocolPrefix('/images/a:b.qcow2'));
  });
});
