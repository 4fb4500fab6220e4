/**
 * DiskService over real gRPC on a unix socket: a sparse raw file read with
 * ReadRanges, written with WriteRanges and committed with CommitStaging comes
 * out byte-identical and still sparse, whether its chunks carry chunk hashes
 * or block hashes on the 64 KiB grid.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { allocated, call, scatter, sparseFile, stagingFiles } from './disk-harness.js';
import { checkStream, copyThrough, KiB, MiB, useDiskHarness } from './support/disk-service-fixture.js';
import { run } from './support/image-files.js';

const h = useDiskHarness();

describe('ReadRanges → WriteRanges → CommitStaging', () => {
  test('a 64 MiB sparse raw file round-trips byte-identical and stays sparse', async () => {
    const source = join(h.root, 'big.raw');
    const target = join(h.root, 'big-copy.raw');
    const size = 64 * MiB + 1234;
    const pieces = scatter(48 * MiB, 40, 7);
    // Allocated zeros inside data, and data in the short last block.
    pieces.push({ offset: 56 * MiB, data: Buffer.concat([randomBytes(4 * KiB), Buffer.alloc(512 * KiB), randomBytes(4 * KiB)]) });
    pieces.push({ offset: 64 * MiB, data: randomBytes(1234) });
    // Allocated zeros across a chunk boundary between two holes: one zero range on the wire.
    const zeroPiece = { offset: 60 * MiB - 64 * KiB, data: Buffer.alloc(2 * MiB) };
    pieces.push(zeroPiece);
    await sparseFile(source, size, pieces);
    const dataBytes = pieces.reduce((n, p) => n + p.data.length, 0);

    const { seen, stagingId } = await copyThrough(h, source, target);
    // 448 KiB of whole 64 KiB zero blocks inside the 56 MiB piece and the zero piece are announced, not sent.
    assert.equal(checkStream(seen, size, MiB), dataBytes - 448 * KiB - zeroPiece.data.length);
    assert.ok(seen.some((m) => m.kind === 'zero' && m.offset < zeroPiece.offset && m.offset + m.length > zeroPiece.offset + zeroPiece.data.length));
    assert.ok(seen.filter((m) => m.kind === 'zero').length >= 40);

    const committed = await call<{ path: string; size: number; allocatedSize: number }>((cb) => h.client.CommitStaging({ targetPath: target, stagingId }, cb));
    assert.equal(committed.path, target);
    assert.equal(committed.size, size);
    assert.deepEqual(await stagingFiles(h.root), []);
    await run('cmp', [source, target]);
    assert.ok((await readFile(source)).equals(await readFile(target)));
    const targetAllocated = await allocated(target);
    assert.ok(targetAllocated <= dataBytes + pieces.length * 8 * KiB, `allocated ${targetAllocated} for ${dataBytes} data bytes`);
    assert.ok(targetAllocated < (await allocated(source)), 'the allocated zero run was not written');
  });

  test('with block hashes a sparse file round-trips too: pieces hashed on the 64 KiB grid, checked by WriteRanges', async () => {
    const source = join(h.root, 'grid.raw');
    const target = join(h.root, 'grid-copy.raw');
    const size = 9 * MiB + 777;
    // Data that starts and ends inside 64 KiB blocks, and a short last block.
    await sparseFile(source, size, [
      { offset: 4 * KiB, data: randomBytes(200 * KiB) },
      { offset: 3 * MiB + 12 * KiB, data: randomBytes(MiB + 8 * KiB) },
      { offset: 9 * MiB - 4 * KiB, data: randomBytes(4 * KiB + 777) },
    ]);
    const { seen, stagingId } = await copyThrough(h, source, target, 0, true);
    checkStream(seen, size, MiB);
    await call((cb) => h.client.CommitStaging({ targetPath: target, stagingId }, cb));
    await run('cmp', [source, target]);
  });
});
