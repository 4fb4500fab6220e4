/**
 * Found by the fuzzer (scripts/bench fuzz, seed 20261203): an image under the
 * roots whose qcow2 header names a backing file outside them was read through
 * its format — GUEST-layer MapExtents (qemu-img map), HashBlocks and
 * DigestImage (qemu-nbd) — and qemu opened the outside file, so its data
 * reached the caller (with a raw backing such as a copy of /etc/shadow, its
 * bytes). Every chain opened through its format is now checked against the
 * roots first: PERMISSION_DENIED, and the outside file is not opened (its
 * atime, set before its mtime so a read shows even on relatime, stays).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { call, collect, statusOf } from './disk-harness.js';
import { useDiskHarness } from './support/disk-service-fixture.js';
import { run } from './support/image-files.js';

let secret: string;
let overlay: string;
let rawOverlay: string;
let inside: string;

const h = useDiskHarness(async (harness) => {
  secret = join(harness.outside, 'secret.qcow2');
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', secret, '1M']);
  const shadow = join(harness.outside, 'shadow');
  await writeFile(shadow, Buffer.alloc(1024 * 1024, 0x53));
  overlay = join(harness.root, 'overlay.qcow2');
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-u', '-b', secret, '-F', 'qcow2', overlay, '1M']);
  rawOverlay = join(harness.root, 'over-raw.qcow2');
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-u', '-b', shadow, '-F', 'raw', rawOverlay, '1M']);
  // A chain that stays inside: still readable through its format.
  const base = join(harness.root, 'base.qcow2');
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', base, '1M']);
  inside = join(harness.root, 'inside.qcow2');
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', inside, '1M']);
  for (const f of [secret, shadow]) {
    const { mtimeMs } = await stat(f);
    const mtime = Math.floor(mtimeMs / 1000);
    await utimes(f, mtime - 3600, mtime);
  }
});

const GUEST = 'EXTENT_LAYER_GUEST' as const;

test('GUEST-layer MapExtents, HashBlocks and DigestImage refuse a chain that leaves the roots, and open nothing outside', async () => {
  const atimes = await Promise.all([secret, join(h.outside, 'shadow')].map(async (f) => (await stat(f, { bigint: true })).atimeNs));
  for (const path of [overlay, rawOverlay]) {
    const calls: ReadonlyArray<readonly [string, () => Promise<unknown>]> = [
      ['MapExtents', () => collect(h.client.mapExtents({ path, layer: GUEST }))],
      ['HashBlocks', () => collect(h.client.hashBlocks({ path, layer: GUEST }))],
      ['DigestImage', () => call((cb) => h.client.digestImage({ path, layer: GUEST }, cb))],
    ];
    for (const [name, send] of calls) {
      const { code, details } = await statusOf(send());
      assert.equal(code, grpc.status.PERMISSION_DENIED, `${name} ${path}: ${details}`);
      assert.match(details, /backing file.*outside the agent's image roots/, name);
    }
  }
  const after = await Promise.all([secret, join(h.outside, 'shadow')].map(async (f) => (await stat(f, { bigint: true })).atimeNs));
  assert.deepEqual(after, atimes, 'the files outside the roots were not read');
});

test('a chain inside the roots is still read through its format', async () => {
  const digest = await call<{ digest: string }>((cb) => h.client.digestImage({ path: inside, layer: GUEST }, cb));
  assert.match(digest.digest, /^blake3:/);
  const maps = await collect<{ extents: unknown[] }>(h.client.mapExtents({ path: inside, layer: GUEST }));
  assert.ok(maps.length > 0);
});
