/**
 * DiskService over real gRPC on a unix socket, with real sparse files and
 * real qemu-img: MapExtents of the file and guest layers, and what an empty
 * file looks like to every call; DigestImage equal for equal content however
 * it is allocated.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { blockHash, ImageDigest } from '../../shared/block-hash.js';
import type { HashBlocksResponse__Output } from '../../shared/generated/kvmclone/agent/v1/HashBlocksResponse.js';
import type { MapExtentsResponse__Output } from '../../shared/generated/kvmclone/agent/v1/MapExtentsResponse.js';
import { allocated, call, collect, sparseFile, statusOf } from './disk-harness.js';
import { KiB, MiB, useDiskHarness } from './support/disk-service-fixture.js';
import { run } from './support/image-files.js';

const h = useDiskHarness();

describe('MapExtents', () => {
  test('file layer: holes and data of a sparse file, merged and covering the file', async () => {
    const path = join(h.root, 'extents.raw');
    await sparseFile(path, 8 * MiB, [
      { offset: 1 * MiB, data: randomBytes(128 * KiB) },
      { offset: 3 * MiB, data: Buffer.alloc(128 * KiB) },
      { offset: 8 * MiB - 4 * KiB, data: randomBytes(4 * KiB) },
    ]);
    const plain = await collect<MapExtentsResponse__Output>(h.client.MapExtents({ path }));
    assert.equal(plain.length, 1);
    assert.equal(plain[0]?.size, 8 * MiB);
    assert.deepEqual(plain[0]?.extents, [
      { offset: 0, length: 1 * MiB, kind: 'EXTENT_KIND_HOLE' },
      { offset: 1 * MiB, length: 128 * KiB, kind: 'EXTENT_KIND_DATA' },
      { offset: 1 * MiB + 128 * KiB, length: 2 * MiB - 128 * KiB, kind: 'EXTENT_KIND_HOLE' },
      { offset: 3 * MiB, length: 128 * KiB, kind: 'EXTENT_KIND_DATA' },
      { offset: 3 * MiB + 128 * KiB, length: 5 * MiB - 132 * KiB, kind: 'EXTENT_KIND_HOLE' },
      { offset: 8 * MiB - 4 * KiB, length: 4 * KiB, kind: 'EXTENT_KIND_DATA' },
    ]);
    const zeroes = await collect<MapExtentsResponse__Output>(h.client.MapExtents({ path, detectZeroes: true, layer: 'EXTENT_LAYER_FILE' }));
    assert.deepEqual(zeroes[0]?.extents[3], { offset: 3 * MiB, length: 128 * KiB, kind: 'EXTENT_KIND_ZERO' });
    assert.equal(zeroes[0]?.extents.filter((e) => e.kind === 'EXTENT_KIND_DATA').length, 2);
  });

  test('guest layer of a qcow2 image through qemu-img map; detect_zeroes is refused there', async () => {
    const path = join(h.root, 'guest.qcow2');
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', path, '64M']);
    await run('qemu-io', ['-c', 'write -P 0xab 1M 2M', path]);
    const res = await collect<MapExtentsResponse__Output>(h.client.MapExtents({ path, layer: 'EXTENT_LAYER_GUEST' }));
    assert.equal(res[0]?.size, 64 * MiB);
    assert.deepEqual(res[0]?.extents, [
      { offset: 0, length: 1 * MiB, kind: 'EXTENT_KIND_HOLE' },
      { offset: 1 * MiB, length: 2 * MiB, kind: 'EXTENT_KIND_DATA' },
      { offset: 3 * MiB, length: 61 * MiB, kind: 'EXTENT_KIND_HOLE' },
    ]);
    const bad = await statusOf(collect(h.client.MapExtents({ path, layer: 'EXTENT_LAYER_GUEST', detectZeroes: true })));
    assert.equal(bad.code, grpc.status.INVALID_ARGUMENT);
    assert.match(bad.details, /detect_zeroes/);
  });
});

describe('HashBlocks and DigestImage', () => {
  test('an empty file: one empty hash batch and one empty extent message still tell the size', async () => {
    const path = join(h.root, 'empty.raw');
    await writeFile(path, '');
    const hashes = await collect<HashBlocksResponse__Output>(h.client.HashBlocks({ path }));
    assert.deepEqual(
      hashes.map((x) => [x.offset, x.blockCount, x.hashes.length, x.fileSize]),
      [[0, 0, 0, 0]],
    );
    const extents = await collect<MapExtentsResponse__Output>(h.client.MapExtents({ path, detectZeroes: true }));
    assert.deepEqual(
      extents.map((x) => [x.extents.length, x.size]),
      [[0, 0]],
    );
    assert.deepEqual(await collect(h.client.ReadRanges({ path })), []);
    const digest = await call<{ size: number; digest: string }>((cb) => h.client.DigestImage({ path }, cb));
    assert.equal(digest.digest, new ImageDigest(0).digest());
  });

  test('digest is equal for equal content however it is allocated, and differs otherwise', async () => {
    const data = randomBytes(300 * KiB);
    const sparse = join(h.root, 'digest-sparse.raw');
    const dense = join(h.root, 'digest-dense.raw');
    const other = join(h.root, 'digest-other.raw');
    const size = 4 * MiB + 123;
    await sparseFile(sparse, size, [{ offset: 1 * MiB, data }]);
    const full = Buffer.alloc(size);
    data.copy(full, 1 * MiB);
    await writeFile(dense, full);
    const changed = Buffer.from(full);
    changed[size - 1] = 1;
    await writeFile(other, changed);
    assert.ok((await allocated(dense)) > 3 * (await allocated(sparse)));

    const digest = (path: string) => call<{ size: number; digest: string }>((cb) => h.client.DigestImage({ path }, cb));
    const [s, d, o] = await Promise.all([digest(sparse), digest(dense), digest(other)]);
    assert.equal(s.size, size);
    assert.equal(s.digest, d.digest);
    assert.notEqual(s.digest, o.digest);
    // Independent computation: ImageDigest over 64 KiB block hashes.
    const expected = new ImageDigest(size);
    for (let at = 0; at < size; at += 64 * KiB) expected.update(blockHash(full.subarray(at, at + 64 * KiB)));
    assert.equal(s.digest, expected.digest());
  });
});
