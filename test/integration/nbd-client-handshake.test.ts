/**
 * NbdClient against real qemu-nbd (started by startQemuNbd) on real raw and
 * qcow2 images: the handshake (size, transmission flags, granted metadata
 * contexts), read-only refusals, a close that is final, and a persistent
 * dirty bitmap listing exactly the ranges written since it was added.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { NBD_STATE_DIRTY } from '../../agent/nbd/nbd-protocol.js';
import { run } from './support/image-files.js';
import { ALLOCATION, assertTiles, collect, hasCode, KiB, MiB, useNbdImages } from './support/nbd-fixture.js';

const { image, serve, connect } = useNbdImages();

describe('against qemu-nbd', () => {
  test('handshake: size, transmission flags and granted contexts; read-only refusals; close is final', async () => {
    const size = 10 * MiB + 3 * 512; // qemu-nbd exports whole sectors
    const rw = await connect(await serve(await image('raw', size, randomBytes(size)), 'raw'), [ALLOCATION, 'qemu:dirty-bitmap:nope']);
    assert.equal(rw.size, size);
    assert.equal(rw.exportName, 'vdb');
    assert.deepEqual([rw.readOnly, rw.canFlush, rw.canTrim, rw.canWriteZeroes, rw.canMultiConn], [false, true, true, true, true]);
    assert.equal(rw.maxRequest, 32 * MiB);
    assert.equal(rw.minBlockSize, 1);
    assert.equal(rw.hasContext(ALLOCATION), true);
    assert.equal(rw.hasContext('qemu:dirty-bitmap:nope'), false);
    await assert.rejects(rw.blockStatus('qemu:dirty-bitmap:nope', 0, 4096), hasCode('NOT_FOUND', /did not grant metadata context "qemu:dirty-bitmap:nope"/));
    assert.equal((await rw.read(size - 3, 3)).length, 3);
    await assert.rejects(rw.read(size - 3, 4), hasCode('OUT_OF_RANGE'));
    await assert.rejects(rw.read(-1, 4), hasCode('INVALID_ARGUMENT'));

    const ro = await connect(await serve(await image('qcow2', 64 * MiB), 'qcow2', { readOnly: true }), []);
    assert.equal(ro.size, 64 * MiB);
    assert.equal(ro.readOnly, true);
    assert.equal(ro.canWriteZeroes, false);
    assert.equal(ro.hasContext(ALLOCATION), false);
    await assert.rejects(ro.write(0, Buffer.alloc(512)), hasCode('PERMISSION_DENIED', /read-only NBD export "vdb"/));
    await assert.rejects(ro.writeZeroes(0, 512), hasCode('PERMISSION_DENIED'));
    assert.ok((await ro.read(0, 1 * MiB)).equals(Buffer.alloc(MiB)), 'a fresh qcow2 reads as zeros (holes)');

    await Promise.all([rw.close(), rw.close()]);
    await rw.close();
    await assert.rejects(rw.read(0, 1), hasCode('UNAVAILABLE', /closed/));
  });

  test('a persistent dirty bitmap lists exactly the ranges written since it was added', async () => {
    const size = 64 * MiB;
    const path = await image('qcow2', size);
    await run('qemu-img', ['bitmap', '--add', '--enable', '-g', String(64 * KiB), path, 'b0']);
    const writer = await serve(path, 'qcow2');
    const w = await connect(writer);
    await w.write(1 * MiB, randomBytes(64 * KiB));
    await w.write(10 * MiB + 100, randomBytes(5000)); // inside one 64 KiB granule
    await w.write(20 * MiB, randomBytes(3 * MiB));
    await w.writeZeroes(40 * MiB, 128 * KiB);
    await w.flush();
    await w.close();
    await writer.close();

    const reader = await connect(await serve(path, 'qcow2', { readOnly: true, bitmap: 'b0' }), ['qemu:dirty-bitmap:b0', ALLOCATION]);
    assert.equal(reader.hasContext('qemu:dirty-bitmap:b0'), true);
    const extents = await collect(reader.extents('qemu:dirty-bitmap:b0', 0, size));
    assertTiles(extents, size);
    const dirty = extents.filter((e) => e.flags & NBD_STATE_DIRTY).map(({ offset, length }) => ({ offset, length }));
    assert.deepEqual(dirty, [
      { offset: 1 * MiB, length: 64 * KiB },
      { offset: 10 * MiB, length: 64 * KiB },
      { offset: 20 * MiB, length: 3 * MiB },
      { offset: 40 * MiB, length: 128 * KiB },
    ]);
    assert.deepEqual(await reader.blockStatus('qemu:dirty-bitmap:b0', 20 * MiB + 5, 10), [{ offset: 20 * MiB + 5, length: 10, flags: NBD_STATE_DIRTY }]);
    assert.deepEqual(await reader.blockStatus('qemu:dirty-bitmap:b0', 30 * MiB, 10), [{ offset: 30 * MiB, length: 10, flags: 0 }]);
  });
});
