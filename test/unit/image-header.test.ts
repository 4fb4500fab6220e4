/**
 * The qcow2 header check on real files made with qemu-img create: chains
 * inside the roots pass, a backing file outside them, a device, a protocol or
 * any external data file is refused, and a raw image whose first sector looks
 * like qcow2 is handled as the format the caller says.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KvmcloneError } from '../../shared/errors.js';
import { ImageRoots } from '../../agent/paths/image-roots.js';
import { chainBlockdevOptions, checkImageChain, hasProtocolPrefix, sniffFormat } from '../../agent/images/image-header.js';
import { qemuImgChain, qemuImgInfo, qemuImgMap } from '../../agent/images/qemu-img.js';

const run = promisify(execFile);
const img = (...args: string[]) => run('qemu-img', ['create', '-q', ...args]);

let dir: string;
let root: string;
let outside: string;
let roots: ImageRoots;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvmclone-header-'));
  root = join(dir, 'images');
  outside = join(dir, 'outside');
  await mkdir(root);
  await mkdir(outside);
  roots = await ImageRoots.open([root]);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function refusal(promise: Promise<unknown>): Promise<KvmcloneError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof KvmcloneError, `expected a KvmcloneError, got ${String(err)}`);
    return err;
  }
  assert.fail('the check passed but a refusal was expected');
}

describe('checkImageChain', () => {
  test('a chain inside the roots (relative and absolute references) passes, each link with its format', async () => {
    await img('-f', 'raw', join(root, 'base.raw'), '1M');
    await img('-f', 'qcow2', '-b', 'base.raw', '-F', 'raw', join(root, 'mid.qcow2'));
    await img('-f', 'qcow2', '-b', join(root, 'mid.qcow2'), '-F', 'qcow2', join(root, 'top.qcow2'));
    const chain = await checkImageChain(join(root, 'top.qcow2'), 'qcow2', { roots });
    assert.deepEqual(
      chain.map((l) => [l.path, l.format, l.backingPath]),
      [
        [join(root, 'top.qcow2'), 'qcow2', join(root, 'mid.qcow2')],
        [join(root, 'mid.qcow2'), 'qcow2', join(root, 'base.raw')],
        [join(root, 'base.raw'), 'raw', ''],
      ],
    );
    assert.deepEqual(chainBlockdevOptions(chain), {
      driver: 'qcow2',
      file: { driver: 'file', filename: join(root, 'top.qcow2') },
      backing: {
        driver: 'qcow2',
        file: { driver: 'file', filename: join(root, 'mid.qcow2') },
        backing: { driver: 'raw', file: { driver: 'file', filename: join(root, 'base.raw') } },
      },
    });
    // qemu-img through the checked chain agrees.
    assert.equal(
      (await qemuImgMap(join(root, 'top.qcow2'), undefined, { roots })).reduce((n, e) => n + e.length, 0),
      1024 * 1024,
    );
    assert.deepEqual(
      (await qemuImgChain(join(root, 'top.qcow2'))).map((i) => i.format),
      ['qcow2', 'qcow2', 'raw'],
    );
  });

  test('a backing file outside the roots is PERMISSION_DENIED, also one step down the chain or through a symlink', async () => {
    await img('-f', 'qcow2', join(outside, 'other-vm.qcow2'), '1M');
    await img('-f', 'qcow2', '-b', join(outside, 'other-vm.qcow2'), '-F', 'qcow2', join(root, 'steals.qcow2'));
    await img('-f', 'qcow2', '-b', 'steals.qcow2', '-F', 'qcow2', join(root, 'above.qcow2'));
    await symlink(join(outside, 'other-vm.qcow2'), join(root, 'link.qcow2'));
    await img('-f', 'qcow2', '-u', '-b', 'link.qcow2', '-F', 'qcow2', join(root, 'via-link.qcow2'), '1M');
    await img('-f', 'qcow2', '-u', '-b', '../outside/other-vm.qcow2', '-F', 'qcow2', join(root, 'dotdot.qcow2'), '1M');
    for (const name of ['steals.qcow2', 'above.qcow2', 'via-link.qcow2', 'dotdot.qcow2']) {
      const err = await refusal(checkImageChain(join(root, name), 'qcow2', { roots }));
      assert.equal(err.code, 'PERMISSION_DENIED', name);
      assert.match(err.message, /outside the agent's image roots/, name);
    }
    // Without roots (a read-only look) the same chain is followed.
    assert.equal((await checkImageChain(join(root, 'above.qcow2'), 'qcow2')).length, 3);
  });

  test('a device, a protocol or a dangling symlink as backing file is refused, with or without roots', async () => {
    await img('-f', 'qcow2', '-u', '-b', '/dev/null', '-F', 'raw', join(root, 'device.qcow2'), '1M');
    await img('-f', 'qcow2', '-u', '-b', 'nbd://127.0.0.1:10809/x', '-F', 'raw', join(root, 'nbd.qcow2'), '1M');
    await symlink(join(outside, 'nothing-here'), join(root, 'dangling'));
    await img('-f', 'qcow2', '-u', '-b', 'dangling', '-F', 'raw', join(root, 'dangling.qcow2'), '1M');
    for (const options of [{ roots }, {}]) {
      assert.match(
        (await refusal(checkImageChain(join(root, 'device.qcow2'), 'qcow2', options))).message,
        options.roots ? /outside the agent's image roots/ : /not a regular file/,
      );
      assert.match((await refusal(checkImageChain(join(root, 'nbd.qcow2'), 'qcow2', options))).message, /protocol/);
      assert.match((await refusal(checkImageChain(join(root, 'dangling.qcow2'), 'qcow2', { ...options, allowMissingBacking: true }))).message, /symlink that leads nowhere/);
    }
    assert.ok(hasProtocolPrefix('json:{"driver":"file"}'));
    assert.ok(!hasProtocolPrefix('/images/a:b.qcow2'));
  });

  test('an external data file is refused always, even inside the roots, and even by qemuImgInfo', async () => {
    await img('-f', 'raw', join(root, 'data.raw'), '1M');
    await img('-f', 'qcow2', '-o', `data_file=${join(root, 'data.raw')}`, join(root, 'with-data.qcow2'), '1M');
    const err = await refusal(checkImageChain(join(root, 'with-data.qcow2'), 'qcow2', { roots }));
    assert.equal(err.code, 'PERMISSION_DENIED');
    assert.match(err.message, /external data file.*data\.raw/);
    assert.equal((await refusal(qemuImgInfo(join(root, 'with-data.qcow2')))).code, 'PERMISSION_DENIED');
  });

  test('a missing backing file passes only when allowed (a base staged by the same operation) and only under the roots', async () => {
    await img('-f', 'qcow2', '-u', '-b', 'later.qcow2', '-F', 'qcow2', join(root, 'pending.qcow2'), '1M');
    await img('-f', 'qcow2', '-u', '-b', join(outside, 'later.qcow2'), '-F', 'qcow2', join(root, 'pending-out.qcow2'), '1M');
    assert.equal((await refusal(checkImageChain(join(root, 'pending.qcow2'), 'qcow2', { roots }))).code, 'PERMISSION_DENIED');
    const chain = await checkImageChain(join(root, 'pending.qcow2'), 'qcow2', { roots, allowMissingBacking: true });
    assert.deepEqual(
      chain.map((l) => [l.backingReference, l.backingPath]),
      [['later.qcow2', '']],
    );
    assert.match((await refusal(checkImageChain(join(root, 'pending-out.qcow2'), 'qcow2', { roots, allowMissingBacking: true }))).message, /outside/);
  });

  test('a raw image whose first sector is a qcow2 header naming /dev/sda is raw when the caller says so; sniffed, it is checked as qcow2', async () => {
    await img('-f', 'qcow2', '-u', '-b', '/dev/sda', '-F', 'raw', join(outside, 'evil-header.qcow2'), '1M');
    const { stdout } = await run('head', ['-c', '65536', join(outside, 'evil-header.qcow2')], { encoding: 'buffer' });
    const rawDisk = join(root, 'guest.raw');
    await writeFile(rawDisk, Buffer.concat([stdout, Buffer.alloc(1024 * 1024 - (stdout as Buffer).length)]));
    assert.deepEqual(
      (await checkImageChain(rawDisk, 'raw', { roots })).map((l) => l.format),
      ['raw'],
    );
    const info = await qemuImgInfo(rawDisk, undefined, 'raw');
    assert.deepEqual([info.format, info.virtualSize, info.backingReference], ['raw', 1024 * 1024, '']);
    assert.equal(await sniffFormat(rawDisk), 'qcow2');
    assert.equal((await refusal(checkImageChain(rawDisk, await sniffFormat(rawDisk), { roots }))).code, 'PERMISSION_DENIED');
  });

  test('a malformed or looping header is DATA_LOSS', async () => {
    await writeFile(join(root, 'short.qcow2'), Buffer.from('QFI\xfb', 'latin1'));
    assert.equal((await refusal(checkImageChain(join(root, 'short.qcow2'), 'qcow2', { roots }))).code, 'DATA_LOSS');
    await img('-f', 'qcow2', '-u', '-b', 'loop-b.qcow2', '-F', 'qcow2', join(root, 'loop-a.qcow2'), '1M');
    await img('-f', 'qcow2', '-u', '-b', 'loop-a.qcow2', '-F', 'qcow2', join(root, 'loop-b.qcow2'), '1M');
    assert.match((await refusal(checkImageChain(join(root, 'loop-a.qcow2'), 'qcow2', { roots }))).message, /loops/);
  });
});
