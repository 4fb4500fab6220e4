/**
 * DiskService's refusals of paths over real gRPC on a unix socket: outside
 * the image roots, through symlinks, with '..' segments, and a directory —
 * for reads, hashes, stats, writes and commits alike, nothing outside touched.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chunkHash } from '../../shared/block-hash.js';
import { call, collect, statusOf, writeAll } from './disk-harness.js';
import { KiB, useDiskHarness } from './support/disk-service-fixture.js';

const h = useDiskHarness();

describe('refusals', () => {
  test('paths outside the roots, through symlinks, and with .. segments', async () => {
    const secret = join(h.outside, 'secret.img');
    await writeFile(secret, 'outside data');
    const before = await stat(secret);
    await symlink(secret, join(h.root, 'link-out.img'));
    await symlink(h.outside, join(h.root, 'dir-out'));

    const outside = await statusOf(collect(h.client.ReadRanges({ path: secret })));
    assert.equal(outside.code, grpc.status.PERMISSION_DENIED);
    const viaLink = await statusOf(collect(h.client.ReadRanges({ path: join(h.root, 'link-out.img') })));
    assert.equal(viaLink.code, grpc.status.PERMISSION_DENIED);
    assert.match(viaLink.details, /resolves to/);
    const hashLink = await statusOf(collect(h.client.HashBlocks({ path: join(h.root, 'link-out.img') })));
    assert.equal(hashLink.code, grpc.status.PERMISSION_DENIED);
    const statLink = await statusOf(call((cb) => h.client.StatImage({ path: join(h.root, 'link-out.img') }, cb)));
    assert.equal(statLink.code, grpc.status.PERMISSION_DENIED);

    const data = randomBytes(4 * KiB);
    for (const targetPath of [join(h.root, 'link-out.img'), join(h.root, 'dir-out', 'new.img'), join(h.outside, 'new.img')]) {
      const s = await statusOf(writeAll(h.client, [{ open: { targetPath, size: 4 * KiB } }, { data: { offset: 0, data, hash: chunkHash(data) } }]));
      assert.equal(s.code, grpc.status.PERMISSION_DENIED, targetPath);
      const c = await statusOf(call((cb) => h.client.CommitStaging({ targetPath, stagingId: '0f0f0f0f-aaaa-bbbb-cccc-000000000000', replace: true }, cb)));
      assert.equal(c.code, grpc.status.PERMISSION_DENIED, targetPath);
    }
    assert.equal(await readFile(secret, 'utf8'), 'outside data');
    assert.equal((await stat(secret)).mtimeMs, before.mtimeMs);
    assert.deepEqual((await readdir(h.outside)).sort(), ['secret.img']);

    const dotdot = await statusOf(collect(h.client.ReadRanges({ path: `${h.root}/../outside/secret.img` })));
    assert.equal(dotdot.code, grpc.status.INVALID_ARGUMENT);
    assert.match(dotdot.details, /'\.\.'/);
  });

  test('a directory is not an image', async () => {
    await mkdir(join(h.root, 'adir'));
    const s = await statusOf(collect(h.client.ReadRanges({ path: join(h.root, 'adir') })));
    assert.equal(s.code, grpc.status.INVALID_ARGUMENT);
    assert.match(s.details, /not a regular file/);
  });
});
