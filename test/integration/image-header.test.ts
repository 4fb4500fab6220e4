/**
 * Staged images whose qcow2 header points anywhere unexpected are never
 * committed: a WriteRanges stream writes a qcow2 naming /dev/sda, a file
 * outside the roots or an external data file, and CommitStaging refuses and
 * removes the staging file; RebaseStaging onto a path outside the roots is
 * refused; a chain inside the roots (the clone's relative backing file, its
 * base staged and committed after the overlay) still commits.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chunkHash } from '../../shared/block-hash.js';
import { call, stagingFiles, startDiskHarness, statusOf, writeAll, type DiskHarness } from './disk-harness.js';
import { run } from './support/image-files.js';

let h: DiskHarness;
before(async () => {
  h = await startDiskHarness();
});
after(async () => {
  await h.close();
});

/** Stages the bytes of `source` (a real image made in the outside dir) as `target` over WriteRanges. */
async function stage(source: string, target: string): Promise<string> {
  const data = await readFile(source);
  const res = await writeAll(h.writer, [{ open: { targetPath: target, size: data.length } }, { data: { offset: 0, data, hash: chunkHash(data) } }]);
  return res.stagingId;
}

/** qemu-img create in the test's outside directory, where a relative `data_file` is made (never in the working directory). */
const create = (...args: string[]) => run('qemu-img', ['create', '-q', '-f', 'qcow2', ...args], { cwd: h.outside });

describe('CommitStaging checks the staged header chain', () => {
  const cases: [string, string[], grpc.status, RegExp][] = [
    ['a backing file /dev/sda', ['-u', '-b', '/dev/sda', '-F', 'raw'], grpc.status.PERMISSION_DENIED, /\/dev\/sda/],
    ['a backing file outside the roots', ['-u', '-b', '../outside/other-vm.qcow2', '-F', 'qcow2'], grpc.status.PERMISSION_DENIED, /outside the agent's image roots/],
    ['an external data file', ['-o', 'data_file=data.raw'], grpc.status.PERMISSION_DENIED, /external data file/],
    ['a protocol backing', ['-u', '-b', 'nbd+unix:///x?socket=/run/x', '-F', 'raw'], grpc.status.PERMISSION_DENIED, /protocol/],
  ];
  for (const [what, options, code, message] of cases) {
    test(`a staged qcow2 naming ${what} is refused and its staging file removed`, async () => {
      const name = what.replace(/\W+/g, '-');
      await create(join(h.outside, 'other-vm.qcow2'), '1M');
      const source = join(h.outside, `${name}.qcow2`);
      await create(...options, source, '1M');
      const target = join(h.root, `${name}.qcow2`);
      const stagingId = await stage(source, target);
      const refused = await statusOf(call((cb) => h.client.CommitStaging({ targetPath: target, stagingId, replace: true }, cb)));
      assert.equal(refused.code, code, refused.details);
      assert.match(refused.details, message);
      assert.match(refused.details, /staging file was removed/);
      assert.deepEqual(await stagingFiles(h.root), []);
      await assert.rejects(readFile(target), /ENOENT/);
    });
  }

  test('a qcow2 on a relative backing file commits before its base is committed, and the base after it', async () => {
    const base = join(h.outside, 'base.qcow2');
    const overlay = join(h.outside, 'disk.qcow2');
    await create(base, '1M');
    await create('-b', 'base.qcow2', '-F', 'qcow2', overlay);
    const overlayId = await stage(overlay, join(h.root, 'disk.qcow2'));
    const baseId = await stage(base, join(h.root, 'base.qcow2'));
    await call((cb) => h.client.CommitStaging({ targetPath: join(h.root, 'disk.qcow2'), stagingId: overlayId }, cb));
    await call((cb) => h.client.CommitStaging({ targetPath: join(h.root, 'base.qcow2'), stagingId: baseId }, cb));
    await run('qemu-img', ['compare', '-f', 'qcow2', '-F', 'qcow2', overlay, join(h.root, 'disk.qcow2')]);
  });
});

describe('RebaseStaging checks the new backing file and the result', () => {
  test('a rebase onto a path outside the roots (or a device) is refused and the header is left alone', async () => {
    const source = join(h.outside, 'plain.qcow2');
    await create(source, '1M');
    const target = join(h.root, 'rebased.qcow2');
    const stagingId = await stage(source, target);
    for (const backingPath of [join(h.outside, 'other-vm.qcow2'), '/dev/sda']) {
      const refused = await statusOf(call((cb) => h.client.RebaseStaging({ targetPath: target, stagingId, backingPath, backingFormat: 'raw' }, cb)));
      assert.equal(refused.code, grpc.status.PERMISSION_DENIED, refused.details);
    }
    const staged = join(h.root, (await stagingFiles(h.root))[0] ?? 'missing');
    const { stdout } = await run('qemu-img', ['info', '-f', 'qcow2', '--output=json', staged]);
    assert.equal((JSON.parse(stdout) as { 'backing-filename'?: string })['backing-filename'], undefined);
    // Onto a base inside the roots (staged, committed later) it works.
    const res = await call<{ backingReference: string }>((cb) =>
      h.client.RebaseStaging({ targetPath: target, stagingId, backingPath: join(h.root, 'later-base.qcow2'), backingFormat: 'qcow2' }, cb),
    );
    assert.equal(res.backingReference, join(h.root, 'later-base.qcow2'));
    await call((cb) => h.client.CommitStaging({ targetPath: target, stagingId }, cb));
  });

  test('a rebase onto an existing base inside the roots whose own header leads outside is refused', async () => {
    await create(join(h.outside, 'other-vm.qcow2'), '1M');
    const bad = join(h.root, 'bad-base.qcow2');
    await create('-b', join(h.outside, 'other-vm.qcow2'), '-F', 'qcow2', bad);
    const source = join(h.outside, 'plain2.qcow2');
    await create(source, '1M');
    const target = join(h.root, 'rebased2.qcow2');
    const stagingId = await stage(source, target);
    const refused = await statusOf(call((cb) => h.client.RebaseStaging({ targetPath: target, stagingId, backingPath: bad, backingFormat: 'qcow2' }, cb)));
    assert.equal(refused.code, grpc.status.PERMISSION_DENIED, refused.details);
    assert.match(refused.details, /outside the agent's image roots/);
    await call((cb) => h.client.AbortStaging({ targetPath: target, stagingId }, cb));
  });
});
