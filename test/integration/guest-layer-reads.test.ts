/**
 * The guest layer's reads with real qemu-img and qemu-nbd on two in-process
 * agents (a raw file stands in for the source's live view: a raw file's FILE
 * layer is its guest view, byte for byte): guest HashBlocks and DigestImage
 * of qcow2 images (with a backing chain) equal to those of their raw
 * conversions, and guest ReadRanges and extents that rebuild the image.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExtentLayer } from '../../shared/generated/kvmclone/agent/v1/ExtentLayer.js';
import type { ReadRangesResponse } from '../../shared/generated/kvmclone/agent/v1/ReadRangesResponse.js';
import { checkChunk } from '../../agent/disk/chunk-check.js';
import { StreamDigester } from '../../agent/disk/stream-digest.js';
import { guestExtents } from '../../agent/guest/guest-extents.js';
import { withGuestImage } from '../../agent/guest/guest-image.js';
import { readGuestRanges } from '../../agent/guest/guest-reads.js';
import { rejectsWithStatus } from '../support/grpc-status.js';
import { nbdSockets, run } from './support/image-files.js';
import { digestOf, hashes, KiB, MiB, useGuestLayerAgents } from './support/guest-layer-fixture.js';

const agents = useGuestLayerAgents();

test('guest HashBlocks and DigestImage of a qcow2 (and of an overlay on it) equal those of its raw conversion hashed as a file', async () => {
  const src = join(agents.imagesA, 'vm.raw');
  const base = join(agents.imagesA, 'base.qcow2');
  const overlay = join(agents.imagesA, 'overlay.qcow2');
  await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', src, base]);
  await run('qemu-img', ['create', '-f', 'qcow2', '-b', base, '-F', 'qcow2', overlay]);
  await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x41 5M 64k', '-c', 'write -z 0 1M', '-c', 'write -P 0x7 33M 192k', overlay]);
  for (const image of [base, overlay]) {
    const flat = `${image}.flat.raw`;
    await run('qemu-img', ['convert', '-O', 'raw', image, flat]);
    const guest = await hashes(agents.a, image, 'EXTENT_LAYER_GUEST');
    const file = await hashes(agents.a, flat, 'EXTENT_LAYER_FILE');
    assert.equal(guest.size, 40 * MiB, 'the size is the virtual size');
    assert.ok(guest.hashes.equals(file.hashes), `${image}: every 64 KiB block hash matches`);
    const plan = { blockSize: 4096, offset: 4 * MiB, length: 2 * MiB };
    assert.ok(
      (await hashes(agents.a, image, 'EXTENT_LAYER_GUEST', plan)).hashes.equals((await hashes(agents.a, flat, 'EXTENT_LAYER_FILE', plan)).hashes),
      `${image}: a 4 KiB span`,
    );
    assert.deepEqual(await digestOf(agents.a, image, 'EXTENT_LAYER_GUEST'), await digestOf(agents.a, flat));
    assert.notDeepEqual(await digestOf(agents.a, image), await digestOf(agents.a, flat), 'the FILE layer of a qcow2 is its qcow2 file');
  }
  assert.deepEqual(await digestOf(agents.a, src, 'EXTENT_LAYER_GUEST'), await digestOf(agents.a, src), 'a raw image is its own guest view');
  assert.deepEqual(await nbdSockets(agents.runA), [], 'every qemu-nbd is gone with its socket');
  // An enum value this agent does not know (a newer client's) is refused, not taken for FILE.
  await rejectsWithStatus(digestOf(agents.a, src, 7 as unknown as ExtentLayer), 'INVALID_ARGUMENT');
});

test('guest ReadRanges and extents over a qemu-nbd of a qcow2 rebuild its raw conversion, digest on the way, send no zeros', async () => {
  const image = join(agents.imagesA, 'base.qcow2');
  const flat = await readFile(`${image}.flat.raw`);
  await withGuestImage(image, 'qcow2', { writable: false, runtimeDir: agents.runA, signal: AbortSignal.timeout(60_000) }, async ({ client, size }) => {
    assert.equal(size, flat.length);
    const kinds = new Map<string, number>();
    let covered = 0;
    for await (const e of guestExtents(client, AbortSignal.timeout(60_000))) {
      assert.equal(e.offset, covered);
      covered += e.length;
      kinds.set(e.kind, (kinds.get(e.kind) ?? 0) + e.length);
      if (e.kind !== 'data') assert.ok(flat.subarray(e.offset, e.offset + e.length).equals(Buffer.alloc(e.length)), 'holes and zeros read as zeros');
    }
    assert.equal(covered, size);
    assert.ok((kinds.get('data') ?? 0) < 15 * MiB, 'most of the image is not data');
    const rebuilt = Buffer.alloc(size, 0xff);
    const counters = { bytesRead: 0 };
    const digester = new StreamDigester(size);
    const totals = await readGuestRanges(
      client,
      [{ offset: 0, length: size }],
      MiB,
      async (m: ReadRangesResponse) => {
        if (m.data) {
          const data = m.data.data as Buffer;
          checkChunk({ offset: m.data.offset as number, data, hash: Buffer.alloc(0), blockHashes: m.data.blockHashes as Buffer });
          data.copy(rebuilt, m.data.offset as number);
        } else if (m.zero) rebuilt.fill(0, m.zero.offset as number, (m.zero.offset as number) + (m.zero.length as number));
      },
      AbortSignal.timeout(60_000),
      { blockHashes: true, counters, digester },
    );
    assert.ok(rebuilt.equals(flat));
    assert.ok(totals.dataBytes <= 10 * MiB + 768 * KiB, `only data is sent (${totals.dataBytes})`);
    assert.ok(counters.bytesRead >= totals.dataBytes && counters.bytesRead < 15 * MiB, `zeros are not read (${counters.bytesRead})`);
    assert.equal(digester.finish()?.digest, (await digestOf(agents.a, `${image}.flat.raw`)).digest);
  });
});
