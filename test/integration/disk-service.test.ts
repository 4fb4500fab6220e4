/**
 * DiskService over real gRPC on a unix socket, with real sparse files and
 * real qemu-img: extents, hashes, digests, a read → write → commit round trip
 * that must come out byte-identical and still sparse, and every refusal with
 * its status code.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { blockHash, chunkHash, gridPieceHashes, ImageDigest, ZERO_HASH } from '../../shared/block-hash.js';
import type { DataChunk } from '../../shared/generated/kvmclone/agent/v1/DataChunk.js';
import type { HashBlocksResponse__Output } from '../../shared/generated/kvmclone/agent/v1/HashBlocksResponse.js';
import type { MapExtentsResponse__Output } from '../../shared/generated/kvmclone/agent/v1/MapExtentsResponse.js';
import type { ReadRangesRequest } from '../../shared/generated/kvmclone/agent/v1/ReadRangesRequest.js';
import type { ReadRangesResponse__Output } from '../../shared/generated/kvmclone/agent/v1/ReadRangesResponse.js';
import type { WriteRangesRequest } from '../../shared/generated/kvmclone/agent/v1/WriteRangesRequest.js';
import { allocated, call, collect, eventually, fdsOpenOn, scatter, sparseFile, stagingFiles, startDiskHarness, statusOf, writeAll, type DiskHarness } from './disk-harness.js';

const run = promisify(execFile);
const KiB = 1024;
const MiB = 1024 * KiB;

let h: DiskHarness;
before(async () => {
  h = await startDiskHarness();
});
after(async () => {
  await h.close();
});

/** One ReadRanges message as the copy saw it (bytes dropped, hash checked). */
interface Seen {
  kind: 'data' | 'zero';
  offset: number;
  length: number;
  hashOk: boolean;
}

/** ReadRanges of `source` piped into WriteRanges of `target`, with backpressure on both sides. */
async function copyThrough(source: string, target: string, chunkSize = 0, blockHashes = false): Promise<{ seen: Seen[]; stagingId: string }> {
  const size = (await stat(source)).size;
  const seen: Seen[] = [];
  async function* requests(): AsyncGenerator<WriteRangesRequest> {
    yield { open: { targetPath: target, size } };
    for await (const m of h.client.ReadRanges({ path: source, chunkSize, blockHashes })) {
      const msg = m as ReadRangesResponse__Output;
      if (msg.payload === 'data' && msg.data) {
        const { offset, data, hash } = msg.data;
        // Asked for block hashes, a chunk carries those and no chunk hash; otherwise the reverse.
        const hashOk = blockHashes
          ? hash.length === 0 && gridPieceHashes(offset, data).equals(msg.data.blockHashes)
          : msg.data.blockHashes.length === 0 && chunkHash(data).equals(hash);
        seen.push({ kind: 'data', offset, length: data.length, hashOk });
        yield { data: msg.data };
      } else if (msg.payload === 'zero' && msg.zero) {
        seen.push({ kind: 'zero', offset: msg.zero.offset, length: msg.zero.length, hashOk: true });
        yield { zero: msg.zero };
      } else {
        assert.fail(`a ReadRanges message without payload: ${JSON.stringify(msg)}`);
      }
    }
  }
  const res = await writeAll(h.writer, requests());
  return { seen, stagingId: res.stagingId };
}

/** Checks a ReadRanges stream: covers [0, size) in order, zero runs merged, chunks bounded and hashed; returns data bytes. */
function checkStream(seen: Seen[], size: number, chunkSize: number): number {
  let at = 0;
  let previous: Seen['kind'] | undefined;
  let dataBytes = 0;
  for (const m of seen) {
    assert.equal(m.offset, at, 'messages are contiguous and in order');
    assert.ok(m.length > 0);
    if (m.kind === 'zero') assert.notEqual(previous, 'zero', 'adjacent zero ranges are merged');
    if (m.kind === 'data') {
      assert.ok(m.length <= chunkSize, `a ${m.length}-byte chunk exceeds ${chunkSize}`);
      assert.ok(m.hashOk, `chunk at ${m.offset} carries a wrong hash`);
      dataBytes += m.length;
    }
    previous = m.kind;
    at += m.length;
  }
  assert.equal(at, size);
  return dataBytes;
}

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
  test('batches of block hashes; holes and zero blocks get ZERO_HASH; the last block may be short', async () => {
    const path = join(h.root, 'hash.raw');
    const block = 64 * KiB;
    const a = randomBytes(block);
    const b = randomBytes(block);
    const tail = randomBytes(1000);
    // Blocks: 0 data, 1 hole, 2 written zeros, 3 data, 4..9 hole, 10 short data.
    await sparseFile(path, 10 * block + 1000, [
      { offset: 0, data: a },
      { offset: 2 * block, data: Buffer.alloc(block) },
      { offset: 3 * block, data: b },
      { offset: 10 * block, data: tail },
    ]);
    const batches = await collect<HashBlocksResponse__Output>(h.client.HashBlocks({ path, batchBlocks: 4 }));
    assert.deepEqual(
      batches.map((x) => [x.offset, x.blockCount, x.blockSize, x.fileSize]),
      [
        [0, 4, block, 10 * block + 1000],
        [4 * block, 4, block, 10 * block + 1000],
        [8 * block, 3, block, 10 * block + 1000],
      ],
    );
    const all = Buffer.concat(batches.map((x) => x.hashes));
    const expected = [blockHash(a), ZERO_HASH, ZERO_HASH, blockHash(b), ...Array<Buffer>(6).fill(ZERO_HASH), blockHash(tail)];
    assert.deepEqual(all, Buffer.concat(expected));
    assert.notDeepEqual(blockHash(a), ZERO_HASH);

    const part = await collect<HashBlocksResponse__Output>(h.client.HashBlocks({ path, offset: 2 * block, length: 2 * block }));
    assert.deepEqual(
      part.map((x) => [x.offset, x.blockCount]),
      [[2 * block, 2]],
    );
    assert.deepEqual(part[0]?.hashes, Buffer.concat([ZERO_HASH, blockHash(b)]));

    const big = await collect<HashBlocksResponse__Output>(h.client.HashBlocks({ path, blockSize: 4 * MiB }));
    assert.equal(big[0]?.blockCount, 1);
    assert.deepEqual(big[0]?.hashes, blockHash(await readFile(path)));
  });

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

  test('refuses bad block_size, batch_blocks, unaligned offset and offsets past the end', async () => {
    const path = join(h.root, 'hash.raw');
    for (const [req, code, field] of [
      [{ blockSize: 3000 }, grpc.status.INVALID_ARGUMENT, 'block_size'],
      [{ blockSize: 8 * MiB }, grpc.status.INVALID_ARGUMENT, 'block_size'],
      [{ batchBlocks: 70_000 }, grpc.status.INVALID_ARGUMENT, 'batch_blocks'],
      [{ offset: 4096 }, grpc.status.INVALID_ARGUMENT, 'offset'],
      [{ offset: 64 * MiB }, grpc.status.OUT_OF_RANGE, 'offset'],
      [{ length: 100 * 64 * KiB }, grpc.status.OUT_OF_RANGE, 'length'],
    ] as const) {
      const s = await statusOf(collect(h.client.HashBlocks({ path, ...req })));
      assert.equal(s.code, code, JSON.stringify(req));
      assert.match(s.details, new RegExp(field));
    }
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

    const { seen, stagingId } = await copyThrough(source, target);
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
    const { seen, stagingId } = await copyThrough(source, target, 0, true);
    checkStream(seen, size, MiB);
    await call((cb) => h.client.CommitStaging({ targetPath: target, stagingId }, cb));
    await run('cmp', [source, target]);
  });

  test('WriteRanges refuses block hashes that do not match (DATA_LOSS), are the wrong length, or come with a chunk hash (INVALID_ARGUMENT)', async () => {
    const target = join(h.root, 'bad-pieces.raw');
    const data = randomBytes(100 * KiB);
    const offset = 32 * KiB;
    const pieces = gridPieceHashes(offset, data);
    assert.equal(pieces.length, 3 * 16, 'bytes 32 KiB to 132 KiB lie in three 64 KiB blocks');
    const damaged = Buffer.from(data);
    damaged[70 * KiB] ^= 1;
    const cases: [DataChunk, grpc.status, RegExp][] = [
      [{ offset, data: damaged, blockHashes: pieces }, grpc.status.DATA_LOSS, /does not match its block hashes/],
      [{ offset, data, blockHashes: pieces.subarray(16) }, grpc.status.INVALID_ARGUMENT, /covers 3 block piece\(s\) but carries 32 bytes/],
      [{ offset, data, blockHashes: pieces, hash: chunkHash(data) }, grpc.status.INVALID_ARGUMENT, /both hash and block_hashes/],
    ];
    for (const [chunk, code, message] of cases) {
      const s = await statusOf(writeAll(h.client, [{ open: { targetPath: target, size: MiB } }, { data: chunk }]));
      assert.equal(s.code, code, s.details);
      assert.match(s.details, message);
    }
    assert.deepEqual(await stagingFiles(h.root), []);
  });

  test('a qcow2 image round-trips as its file and qemu-img compare finds it equal', async () => {
    const source = join(h.root, 'vm.qcow2');
    const target = join(h.root, 'vm-copy.qcow2');
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', source, '256M']);
    await run('qemu-io', ['-c', 'write -P 0x5a 0 1M', '-c', 'write -P 0xc3 37M 3M', '-c', 'write -z 100M 2M', '-c', 'write -P 0x11 255M 1M', source]);
    const { seen, stagingId } = await copyThrough(source, target, 4 * MiB);
    checkStream(seen, (await stat(source)).size, 4 * MiB);
    await call((cb) => h.client.CommitStaging({ targetPath: target, stagingId }, cb));
    await run('qemu-img', ['compare', '-f', 'qcow2', '-F', 'qcow2', source, target]);
    // The same through block hashes (chunks of 4 MiB: many pieces each).
    const viaPieces = await copyThrough(source, `${target}.2`, 4 * MiB, true);
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

  test('commit without replace onto an existing target is ALREADY_EXISTS; with replace it succeeds', async () => {
    const target = join(h.root, 'exists.raw');
    await writeFile(target, 'old image');
    const data = randomBytes(64 * KiB);
    const res = await writeAll(h.client, [{ open: { targetPath: target, size: data.length } }, { data: { offset: 0, data, hash: chunkHash(data) } }]);
    assert.equal(res.bytesWritten, data.length);
    assert.equal(res.chunksWritten, 1);
    assert.equal(res.stagingPath, join(h.root, `.exists.raw.${res.stagingId}.kvmclone-staging`));
    const refused = await statusOf(call((cb) => h.client.CommitStaging({ targetPath: target, stagingId: res.stagingId }, cb)));
    assert.equal(refused.code, grpc.status.ALREADY_EXISTS);
    assert.match(refused.details, /already exists.*replace/);
    assert.equal(await readFile(target, 'utf8'), 'old image');
    assert.deepEqual(await stagingFiles(h.root), [`.exists.raw.${res.stagingId}.kvmclone-staging`]);
    await call((cb) => h.client.CommitStaging({ targetPath: target, stagingId: res.stagingId, replace: true }, cb));
    assert.deepEqual(await readFile(target), data);
    assert.deepEqual(await stagingFiles(h.root), []);
    const again = await statusOf(call((cb) => h.client.CommitStaging({ targetPath: target, stagingId: res.stagingId }, cb)));
    assert.equal(again.code, grpc.status.NOT_FOUND);
  });

  test('abort removes the staging file, and aborting again succeeds with removed = false', async () => {
    const target = join(h.root, 'aborted.raw');
    const res = await writeAll(h.client, [{ open: { targetPath: target, size: 10 * MiB } }]);
    assert.equal((await stat(res.stagingPath)).size, 10 * MiB);
    assert.equal(await allocated(res.stagingPath), 0, 'a new staging file is sparse');
    assert.equal((await stat(res.stagingPath)).mode & 0o777, 0o600);
    const first = await call<{ removed: boolean }>((cb) => h.client.AbortStaging({ targetPath: target, stagingId: res.stagingId }, cb));
    assert.equal(first.removed, true);
    assert.deepEqual(await stagingFiles(h.root), []);
    const second = await call<{ removed: boolean }>((cb) => h.client.AbortStaging({ targetPath: target, stagingId: res.stagingId }, cb));
    assert.equal(second.removed, false);
    await assert.rejects(stat(target));
  });

  test('resume: a reopened staging file keeps its data, and zero ranges are punched into it', async () => {
    const target = join(h.root, 'resumed.raw');
    const a = randomBytes(1 * MiB);
    const b = randomBytes(1 * MiB);
    const first = await writeAll(h.client, [{ open: { targetPath: target, size: 4 * MiB } }, { data: { offset: 0, data: a, hash: chunkHash(a) } }]);
    const wrongSize = await statusOf(writeAll(h.client, [{ open: { targetPath: target, size: 5 * MiB, stagingId: first.stagingId } }]));
    assert.equal(wrongSize.code, grpc.status.FAILED_PRECONDITION);
    const second = await writeAll(h.client, [
      { open: { targetPath: target, size: 4 * MiB, stagingId: first.stagingId } },
      { data: { offset: 2 * MiB, data: b, hash: chunkHash(b) } },
      { zero: { offset: 0, length: 512 * KiB } },
    ]);
    assert.equal(second.stagingId, first.stagingId);
    assert.equal(second.zeroBytes, 512 * KiB);
    // A failure of a resumed write keeps the file (and its earlier progress).
    const bad = await statusOf(writeAll(h.client, [{ open: { targetPath: target, size: 4 * MiB, stagingId: first.stagingId } }, { zero: { offset: 4 * MiB, length: 1 } }]));
    assert.equal(bad.code, grpc.status.OUT_OF_RANGE);
    assert.equal(await allocated(second.stagingPath), 1.5 * MiB);
    await call((cb) => h.client.CommitStaging({ targetPath: target, stagingId: first.stagingId }, cb));
    const expected = Buffer.alloc(4 * MiB);
    a.copy(expected, 0);
    expected.fill(0, 0, 512 * KiB);
    b.copy(expected, 2 * MiB);
    assert.ok((await readFile(target)).equals(expected));
  });

  test('a zero range over bytes this stream wrote makes them zero again', async () => {
    const target = join(h.root, 'rezeroed.raw');
    const a = randomBytes(128 * KiB);
    const res = await writeAll(h.client, [
      { open: { targetPath: target, size: 1 * MiB } },
      { data: { offset: 0, data: a, hash: chunkHash(a) } },
      { zero: { offset: 0, length: 64 * KiB } },
      { zero: { offset: 512 * KiB, length: 64 * KiB } },
    ]);
    await call((cb) => h.client.CommitStaging({ targetPath: target, stagingId: res.stagingId }, cb));
    const got = await readFile(target);
    assert.ok(got.subarray(0, 64 * KiB).equals(Buffer.alloc(64 * KiB)));
    assert.ok(got.subarray(64 * KiB, 128 * KiB).equals(a.subarray(64 * KiB)));
    assert.equal(await allocated(target), 64 * KiB);
  });

  test('a staging file in use is locked: abort and commit are ABORTED until the write ends', async () => {
    const target = join(h.root, 'locked.raw');
    const stream = h.client.WriteRanges(() => undefined);
    stream.write({ open: { targetPath: target, size: 1 * MiB } });
    let name: string | undefined;
    await eventually(async () => (name = (await stagingFiles(h.root)).find((n) => n.startsWith('.locked.raw.'))) !== undefined, 'the staging file exists');
    const id = (name as string).slice('.locked.raw.'.length, -'.kvmclone-staging'.length);
    const busy = await statusOf(call((cb) => h.client.AbortStaging({ targetPath: target, stagingId: id }, cb)));
    assert.equal(busy.code, grpc.status.ABORTED);
    const busyCommit = await statusOf(call((cb) => h.client.CommitStaging({ targetPath: target, stagingId: id }, cb)));
    assert.equal(busyCommit.code, grpc.status.ABORTED);
    stream.end();
    await eventually(
      async () => (await call<{ removed: boolean }>((cb) => h.client.AbortStaging({ targetPath: target, stagingId: id }, cb)).catch(() => ({ removed: false }))).removed,
      'the abort succeeds',
    );
    assert.deepEqual(await stagingFiles(h.root), []);
  });
});

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

  test('WriteRanges protocol errors, each with its code, leave no staging file behind', async () => {
    const target = join(h.root, 'refused.raw');
    const good = randomBytes(64 * KiB);
    const cases: [string, WriteRangesRequest[], grpc.status, RegExp][] = [
      ['data before open', [{ data: { offset: 0, data: good, hash: chunkHash(good) } }], grpc.status.INVALID_ARGUMENT, /first message.*open/],
      ['no messages at all', [], grpc.status.INVALID_ARGUMENT, /open/],
      ['second open', [{ open: { targetPath: target, size: MiB } }, { open: { targetPath: target, size: MiB } }], grpc.status.INVALID_ARGUMENT, /second/],
      ['size 0', [{ open: { targetPath: target, size: 0 } }], grpc.status.INVALID_ARGUMENT, /open\.size/],
      ['absurd size', [{ open: { targetPath: target, size: 65 * 1024 ** 4 } }], grpc.status.INVALID_ARGUMENT, /64 TiB/],
      ['bad staging id', [{ open: { targetPath: target, size: MiB, stagingId: '../../etc' } }], grpc.status.INVALID_ARGUMENT, /staging_id/],
      ['unknown staging id', [{ open: { targetPath: target, size: MiB, stagingId: '0f0f0f0f-aaaa-bbbb-cccc-000000000000' } }], grpc.status.NOT_FOUND, /staging_id/],
      [
        'hash mismatch',
        [{ open: { targetPath: target, size: MiB } }, { data: { offset: 64 * KiB, data: good, hash: chunkHash(randomBytes(8)) } }],
        grpc.status.DATA_LOSS,
        /offset 65536/,
      ],
      ['short hash', [{ open: { targetPath: target, size: MiB } }, { data: { offset: 0, data: good, hash: Buffer.alloc(3) } }], grpc.status.INVALID_ARGUMENT, /hash/],
      [
        'empty data',
        [{ open: { targetPath: target, size: MiB } }, { data: { offset: 0, data: Buffer.alloc(0), hash: chunkHash(Buffer.alloc(0)) } }],
        grpc.status.INVALID_ARGUMENT,
        /empty/,
      ],
      [
        'data past the size',
        [{ open: { targetPath: target, size: MiB } }, { data: { offset: MiB - 4096, data: good, hash: chunkHash(good) } }],
        grpc.status.OUT_OF_RANGE,
        /past the declared/,
      ],
      ['zero past the size', [{ open: { targetPath: target, size: MiB } }, { zero: { offset: MiB, length: 4096 } }], grpc.status.OUT_OF_RANGE, /past the end/],
      [
        'offset beyond 2^53',
        [{ open: { targetPath: target, size: MiB } }, { data: { offset: '18446744073709551615', data: good, hash: chunkHash(good) } }],
        grpc.status.INVALID_ARGUMENT,
        /data\.offset/,
      ],
    ];
    for (const [name, messages, code, details] of cases) {
      const s = await statusOf(writeAll(h.client, messages));
      assert.equal(s.code, code, `${name}: ${s.details}`);
      assert.match(s.details, details, name);
      assert.deepEqual(await stagingFiles(h.root), [], `${name} left a staging file`);
    }
    await assert.rejects(stat(target));
  });

  test('ReadRanges refuses a bad chunk_size and ranges past the end', async () => {
    const path = join(h.root, 'small.raw');
    await sparseFile(path, MiB, [{ offset: 0, data: randomBytes(4096) }]);
    const cases: [ReadRangesRequest, grpc.status, string][] = [
      [{ chunkSize: 100_000 }, grpc.status.INVALID_ARGUMENT, 'chunk_size'],
      [{ chunkSize: 8 * MiB }, grpc.status.INVALID_ARGUMENT, 'chunk_size'],
      [{ ranges: [{ offset: MiB - 10, length: 11 }] }, grpc.status.OUT_OF_RANGE, 'ranges\\[0\\]'],
      [{ ranges: [{ offset: 0, length: 0 }] }, grpc.status.INVALID_ARGUMENT, 'length'],
    ];
    for (const [req, code, field] of cases) {
      const s = await statusOf(collect(h.client.ReadRanges({ path, ...req })));
      assert.equal(s.code, code, JSON.stringify(req));
      assert.match(s.details, new RegExp(field));
    }
    // Ranges in any order, overlapping, come back merged and sorted.
    const got = await collect<ReadRangesResponse__Output>(
      h.client.ReadRanges({
        path,
        ranges: [
          { offset: 8192, length: 4096 },
          { offset: 0, length: 6000 },
          { offset: 4096, length: 100 },
        ],
      }),
    );
    assert.deepEqual(
      got.map((m) => (m.payload === 'data' ? ['data', m.data?.offset, m.data?.data.length] : ['zero', m.zero?.offset, m.zero?.length])),
      [
        ['data', 0, 4096],
        ['zero', 4096, 1904],
        ['zero', 8192, 4096],
      ],
    );
  });

  test('an oversized message (9 MiB chunk) is RESOURCE_EXHAUSTED and the staging file is removed', async () => {
    const target = join(h.root, 'oversized.raw');
    const client = h.newClient({ 'grpc.max_send_message_length': 16 * MiB });
    const big = randomBytes(9 * MiB);
    const s = await statusOf(writeAll(client, [{ open: { targetPath: target, size: 16 * MiB } }, { data: { offset: 0, data: big, hash: chunkHash(big) } }]));
    assert.equal(s.code, grpc.status.RESOURCE_EXHAUSTED);
    await eventually(async () => (await stagingFiles(h.root)).length === 0, 'the staging file is removed');
  });

  test('a cancelled WriteRanges removes its new staging file', async () => {
    const target = join(h.root, 'cancelled-write.raw');
    const stream = h.client.WriteRanges(() => undefined);
    stream.write({ open: { targetPath: target, size: 8 * MiB } });
    const data = randomBytes(MiB);
    stream.write({ data: { offset: 0, data, hash: chunkHash(data) } });
    await eventually(async () => (await stagingFiles(h.root)).length === 1, 'the staging file exists');
    await eventually(async () => (await allocated(join(h.root, (await stagingFiles(h.root))[0])).catch(() => 0)) > 0, 'the chunk is written');
    stream.cancel();
    await eventually(async () => (await stagingFiles(h.root)).length === 0, 'the staging file is removed');
  });
});

describe('cancellation', () => {
  test('a ReadRanges cancelled mid-stream stops on the server and closes the image', async () => {
    const path = join(h.root, 'cancel.raw');
    await sparseFile(path, 96 * MiB, [{ offset: 0, data: randomBytes(96 * MiB) }]);
    const stream = h.client.ReadRanges({ path, chunkSize: 64 * KiB });
    let received = 0;
    stream.on('data', () => {
      received += 1;
      // Stop reading: the server fills the 16 MiB window and waits for 'drain'.
      if (received === 3) stream.pause();
    });
    const ended = new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve));
    stream.on('error', () => undefined);
    await eventually(async () => received >= 3, 'the first chunks arrive');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await fdsOpenOn(path), 1, 'the server holds the image open while it waits on the slow client');
    const started = Date.now();
    stream.cancel();
    const status = await ended;
    assert.equal(status.code, grpc.status.CANCELLED);
    await eventually(async () => (await fdsOpenOn(path)) === 0, 'the server closes the image', 1000);
    assert.ok(Date.now() - started < 1000);
    assert.ok(received < (96 * 16) / 2, `received ${received} of 1536 chunks before the cancel`);
  });
});
