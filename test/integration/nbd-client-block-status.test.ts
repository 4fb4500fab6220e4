/**
 * NbdClient's zeroing and block status: writeZeroes against real qemu-nbd,
 * seen through base:allocation and the raw file's blocks (a hole only when
 * it may punch one), and against a scripted server, a block status reply
 * covering less than asked (followed up) or more (clamped).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import type { NbdExtent } from '../../agent/nbd/nbd-client.js';
import { NBD_CMD_BLOCK_STATUS, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_BLOCK_STATUS, NBD_STATE_HOLE, NBD_STATE_ZERO } from '../../agent/nbd/nbd-protocol.js';
import { ALLOCATION, assertTiles, collect, KiB, MiB, useNbdImages } from './support/nbd-fixture.js';
import { structured, u32 } from './support/scripted-nbd-server.js';

const { image, serve, connect, scriptedServer } = useNbdImages();

describe('against qemu-nbd', () => {
  test('writeZeroes reads back as zeros, shows as zero in base:allocation, and punches a hole only when it may', async () => {
    const size = 32 * MiB;
    const data = randomBytes(size);
    const path = await image('raw', size, data);
    const client = await connect(await serve(path, 'raw'));
    const blocks = async (): Promise<number> => (await stat(path)).blocks;
    const full = await blocks();
    await client.writeZeroes(4 * MiB, 4 * MiB);
    await client.flush();
    assert.ok(full - (await blocks()) >= (4 * MiB) / 512, 'mayTrim (the default): the range is deallocated');
    const afterTrimmed = await blocks();
    await client.writeZeroes(12 * MiB, 4 * MiB, { mayTrim: false });
    await client.flush();
    // NO_HOLE zeroes in place (ext4 may turn the range into an unwritten extent): nothing is freed,
    // though splitting the extent can cost the file system an extent-tree block or two.
    const afterZeroed = await blocks();
    assert.ok(afterZeroed >= afterTrimmed && afterZeroed - afterTrimmed <= (16 * KiB) / 512, `NO_HOLE: the range stays allocated (${afterTrimmed} → ${afterZeroed} blocks)`);

    const back = await client.read(0, size, undefined, Buffer.alloc(size, 0xff)); // holes must be filled in, not skipped
    assert.ok(back.subarray(4 * MiB, 8 * MiB).equals(Buffer.alloc(4 * MiB)));
    assert.ok(back.subarray(12 * MiB, 16 * MiB).equals(Buffer.alloc(4 * MiB)));
    assert.ok(back.subarray(0, 4 * MiB).equals(data.subarray(0, 4 * MiB)));
    assert.ok(back.subarray(8 * MiB, 12 * MiB).equals(data.subarray(8 * MiB, 12 * MiB)));
    assert.ok(back.subarray(16 * MiB).equals(data.subarray(16 * MiB)));

    const extents = await collect(client.extents(ALLOCATION, 0, size));
    assertTiles(extents, size);
    const flagsAt = (offset: number): number => (extents.find((e) => e.offset <= offset && offset < e.offset + e.length) as NbdExtent).flags;
    for (const at of [4 * MiB, 8 * MiB - 1, 12 * MiB, 16 * MiB - 1]) assert.ok(flagsAt(at) & NBD_STATE_ZERO, `zero at ${at}`);
    for (const at of [0, 4 * MiB - 1, 8 * MiB, 12 * MiB - 1, 16 * MiB, size - 1]) assert.equal(flagsAt(at), 0, `data at ${at}`);
    const one = await client.blockStatus(ALLOCATION, 5 * MiB, 1000);
    assert.deepEqual(one, [{ offset: 5 * MiB, length: 1000, flags: NBD_STATE_HOLE | NBD_STATE_ZERO }], 'clamped to the request');
  });
});

describe('against a scripted NBD server', () => {
  test('block status: a reply covering less is followed up, one running past the request is clamped', async () => {
    const { path, seen } = await scriptedServer((req, socket) => {
      assert.equal(req.type, NBD_CMD_BLOCK_STATUS);
      const extents =
        req.offset === 0
          ? [
              [64 * KiB, 0],
              [64 * KiB, 3],
            ]
          : [[4 * MiB, 3]];
      const payload = Buffer.concat([u32(1), ...extents.flatMap(([l, f]) => [u32(l), u32(f)])]);
      socket.write(structured(req, NBD_REPLY_TYPE_BLOCK_STATUS, NBD_REPLY_FLAG_DONE, payload));
    });
    const client = await connect(path, [ALLOCATION], 'any');
    assert.deepEqual(await client.blockStatus(ALLOCATION, 0, MiB), [
      { offset: 0, length: 64 * KiB, flags: 0 },
      { offset: 64 * KiB, length: 64 * KiB, flags: 3 },
    ]);
    const all = await collect(client.extents(ALLOCATION, 0, MiB));
    assert.deepEqual(
      all,
      [
        { offset: 0, length: 64 * KiB, flags: 0 },
        { offset: 64 * KiB, length: MiB - 64 * KiB, flags: 3 },
      ],
      'merged and clamped',
    );
    assert.deepEqual(
      seen.slice(1).map((r) => [r.offset, r.length]),
      [
        [0, MiB],
        [128 * KiB, MiB - 128 * KiB],
      ],
    );
  });
});
