/**
 * --bwlimit where the bytes leave the source agent (a real agent process):
 * ReadRanges with rate_limit sends a file of random data at that rate within
 * ±10 % once the half-second burst is spent; two streams of one operation
 * share the rate, streams of two operations each get their own; a rate under
 * 64 KiB/s is INVALID_ARGUMENT; without a limit the same read is far faster.
 * --compress: a compressible file's chunks arrive zstd-compressed, decompress
 * to the file byte for byte with their block hashes intact, and fewer bytes
 * cross; a random file's go plain.
 *
 * Starts an agent: run under the testbed lock
 * (flock /tmp/kvmclone-testbed.lock node --test dist/test/integration/transfer-controls.test.js).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { plainData } from '../../agent/transfer/chunk-compression.js';
import { checkChunk } from '../../agent/disk/chunk-check.js';
import { join } from 'node:path';
import { Metadata } from '@grpc/grpc-js';
import { createAgentClients, type AgentClients } from '../../shared/agent-clients.js';
import type { ReadRangesResponse__Output } from '../../shared/generated/kvmclone/agent/v1/ReadRangesResponse.js';
import { OPERATION_ID_METADATA } from '../../shared/operation-metadata.js';
import { startAgentHarness, type AgentHarness } from '../support/agent-process.js';
import { rejectsWithStatus } from '../support/grpc-status.js';
import { BURST_SECONDS } from '../../agent/transfer/rate-limits.js';

const MiB = 1024 * 1024;
const RATE = 4 * MiB;
const FILE_BYTES = 12 * MiB;
let harness: AgentHarness;
let admin: AgentClients;
let image: string;
let image2: string;
let textImage: string;

before(async () => {
  harness = await startAgentHarness({ config: 'shutdown_grace: 1s\n' });
  admin = createAgentClients(`unix:${harness.socket}`);
  image = join(harness.imagesRoot, 'random.raw');
  image2 = join(harness.imagesRoot, 'random2.raw');
  await writeFile(image, randomBytes(FILE_BYTES));
  await writeFile(image2, randomBytes(FILE_BYTES));
  textImage = join(harness.imagesRoot, 'text.raw');
  await writeFile(textImage, Buffer.from(Array.from({ length: 200_000 }, (_, i) => `line ${i}: kvmclone moves only changed blocks\n`).join('')));
});

after(async () => {
  admin?.close();
  await harness?.stop();
});

/** Reads `path` whole as operation `op` at `rate`; resolves with the data bytes and the seconds it took. */
async function timedRead(path: string, rate: number, op: string): Promise<{ bytes: number; seconds: number }> {
  const metadata = new Metadata();
  metadata.set(OPERATION_ID_METADATA, op);
  const started = performance.now();
  let bytes = 0;
  for await (const m of admin.disk.readRanges({ path, ranges: [], chunkSize: 0, rateLimit: rate }, metadata) as AsyncIterable<ReadRangesResponse__Output>)
    bytes += m.data?.data.length ?? 0;
  return { bytes, seconds: (performance.now() - started) / 1000 };
}

/** Seconds `bytes` take at `rate` once the bucket's initial burst is spent. */
const expected = (bytes: number, rate: number): number => (bytes - rate * BURST_SECONDS) / rate;

test('one stream at 4 MiB/s: within ±10 % of the rate', async () => {
  const { bytes, seconds } = await timedRead(image, RATE, 'op-bw-1');
  assert.equal(bytes, FILE_BYTES);
  const want = expected(bytes, RATE);
  assert.ok(seconds >= want * 0.9 && seconds <= want * 1.1, `${bytes} bytes in ${seconds.toFixed(2)} s; at 4 MiB/s ${want.toFixed(2)} s`);
});

test('two streams of one operation share its rate; two operations each have their own', async () => {
  const shared = await Promise.all([timedRead(image, RATE, 'op-bw-2'), timedRead(image2, RATE, 'op-bw-2')]);
  const sharedSeconds = Math.max(...shared.map((r) => r.seconds));
  const want = expected(2 * FILE_BYTES, RATE);
  assert.ok(sharedSeconds >= want * 0.9 && sharedSeconds <= want * 1.1, `one operation, two files: ${sharedSeconds.toFixed(2)} s; at 4 MiB/s in all ${want.toFixed(2)} s`);
  const apart = await Promise.all([timedRead(image, RATE, 'op-bw-3'), timedRead(image2, RATE, 'op-bw-4')]);
  const apartSeconds = Math.max(...apart.map((r) => r.seconds));
  const wantApart = expected(FILE_BYTES, RATE);
  assert.ok(apartSeconds >= wantApart * 0.9 && apartSeconds <= wantApart * 1.1, `two operations: ${apartSeconds.toFixed(2)} s; each at 4 MiB/s ${wantApart.toFixed(2)} s`);
});

test('no limit: the same read is far faster; a rate below 64 KiB/s is refused', async () => {
  const { seconds } = await timedRead(image, 0, 'op-bw-5');
  assert.ok(seconds < expected(FILE_BYTES, RATE) / 3, `unlimited read took ${seconds.toFixed(2)} s`);
  const message = await rejectsWithStatus(timedRead(image, 1000, 'op-bw-6'), 'INVALID_ARGUMENT');
  assert.match(message, /rate_limit: 1000 is not a rate/);
});

test('--compress: compressible chunks arrive zstd and decompress to the file with intact block hashes; random ones go plain', async () => {
  for (const [path, expectCompressed] of [
    [textImage, true],
    [image, false],
  ] as const) {
    const file = await readFile(path);
    let wire = 0;
    let compressedChunks = 0;
    const parts: Buffer[] = [];
    const stream = admin.disk.readRanges({ path, ranges: [], chunkSize: 0, blockHashes: true, compress: 'COMPRESS_AUTO' });
    for await (const m of stream as AsyncIterable<ReadRangesResponse__Output>) {
      if (!m.data) continue;
      wire += m.data.data.length;
      if (m.data.compression === 'COMPRESSION_ZSTD') compressedChunks += 1;
      const plain = plainData(m.data, 'test');
      // Throws DATA_LOSS unless every 64 KiB piece matches its block hash: the hashes cover the plain bytes.
      checkChunk({ offset: Number(m.data.offset), data: plain, hash: m.data.hash, blockHashes: m.data.blockHashes });
      parts.push(plain);
    }
    assert.ok(Buffer.concat(parts).equals(file), `${path}: the chunks make the file`);
    if (expectCompressed) assert.ok(compressedChunks > 0 && wire < file.length / 4, `${path}: ${wire} bytes crossed for ${file.length}`);
    else assert.ok(compressedChunks === 0 && wire === file.length, `${path}: random data went plain (${compressedChunks} compressed)`);
  }
});
