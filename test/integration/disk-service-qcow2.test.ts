/**
 * DiskService over real gRPC on a unix socket, with real qemu-img: a qcow2
 * image copied as its file (with chunk hashes and with block hashes) is equal
 * for qemu-img compare and cmp, and StatImage reports the format, sizes and
 * the backing reference of an overlay.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { allocated, call } from './disk-harness.js';
import { checkStream, copyThrough, MiB, useDiskHarness } from './support/disk-service-fixture.js';
import { run } from './support/image-files.js';

const h = useDiskHarness();

describe('ReadRanges → WriteRanges → CommitStaging', () => {
  test('a qcow2 image round-trips as its file and qemu-img compare finds it equal', async () => {
    const source = join(h.root, 'vm.qcow2');
    const target = join(h.root, 'vm-copy.qcow2');
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', source, '256M']);
    await run('qemu-io', ['-c', 'write -P 0x5a 0 1M', '-c', 'write -P 0xc3 37M 3M', '-c', 'write -z 100M 2M', '-c', 'write -P 0x11 255M 1M', source]);
    const { seen, stagingId } = await copyThrough(h, source, target, 4 * MiB);
    checkStream(seen, (await stat(source)).size, 4 * MiB);
    await call((cb) => h.client.CommitStaging({ targetPath: target, stagingId }, cb));
    await run('qemu-img', ['compare', '-f', 'qcow2', '-F', 'qcow2', source, target]);
    // The same through block hashes (chunks of 4 MiB: many pieces each).
    const viaPieces = await copyThrough(h, source, `${target}.2`, 4 * MiB, true);
    checkStream(viaPieces.seen, (await stat(source)).size, 4 * MiB);
    await call((cb) => h.client.CommitStaging({ targetPath: `${target}.2`, stagingId: viaPieces.stagingId }, cb));
    await run('cmp', [source, `${target}.2`]);
    await run('cmp', [source, target]);
    const info = await call<{ format: string; virtualSize: number; fileSize: number; allocatedSize: number }>((cb) => h.client.StatImage({ path: target }, cb));
    assert.equal(info.format, 'qcow2');
    assert.equal(info.virtualSize, 256 * MiB);
    assert.equal(info.fileSize, (await stat(source)).size);
    assert.ok(info.allocatedSize <= (await allocated(source)));
  });

  test('StatImage reports the backing reference of an overlay', async () => {
    const base = join(h.root, 'base.qcow2');
    const overlay = join(h.root, 'overlay.qcow2');
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', base, '16M']);
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', overlay]);
    const info = await call<{ path: string; backingReference: string; backingFormat: string; virtualSize: number }>((cb) => h.client.StatImage({ path: overlay }, cb));
    assert.deepEqual([info.path, info.backingReference, info.backingFormat, info.virtualSize], [overlay, 'base.qcow2', 'qcow2', 16 * MiB]);
  });
});
