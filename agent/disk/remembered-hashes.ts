/**
 * HashBlocks, DigestImage and ReadRanges through the agent's HashMemory: block
 * hashes of an unchanged file come from memory, and a whole-file pass at the
 * default block size — hashing it, or reading all of it for a clone — is
 * remembered for the next caller (hash-memory.ts says when that is safe).
 */
import type { FileHandle } from 'node:fs/promises';
import { DEFAULT_BLOCK_SIZE, HASH_BYTES, ImageDigest } from '../../shared/block-hash.js';
import { hashBlocks, hashEnd, type HashBatch, type HashPlan } from './block-hasher.js';
import { identityOf, wallClockNs, type HashMemory } from './hash-memory.js';
import { readRanges, type ChunkSink, type ReadTotals } from './range-reader.js';
import type { ByteSpan } from './request-limits.js';
import { StreamDigester } from './stream-digest.js';

/**
 * Batches of `plan` copied from a remembered list of every block hash of a
 * `size`-byte file. Copies, not views: an apply takes the list out of the
 * memory and rewrites it in place (applied-digest.ts), and a batch still
 * waiting to be sent must keep the hashes it was cut with.
 */
function* batchesFrom(known: Buffer, plan: HashPlan, end: number): Generator<HashBatch> {
  const first = plan.offset / plan.blockSize;
  const last = Math.ceil(end / plan.blockSize);
  for (let block = first; block < last; block += plan.batchBlocks) {
    const count = Math.min(plan.batchBlocks, last - block);
    yield { offset: block * plan.blockSize, blockCount: count, hashes: Buffer.from(known.subarray(block * HASH_BYTES, (block + count) * HASH_BYTES)) };
  }
}

/**
 * The block hashes of `plan` over an open image (`path` resolved, as the
 * memory's key), from `memory` when it holds them for this state of the
 * file, else read — and remembered when the plan covered the whole file.
 */
export async function* rememberedHashBlocks(fh: FileHandle, path: string, size: number, plan: HashPlan, memory: HashMemory, signal: AbortSignal): AsyncGenerator<HashBatch> {
  const end = hashEnd(plan, size);
  if (plan.blockSize !== DEFAULT_BLOCK_SIZE) {
    yield* hashBlocks(fh, size, plan, signal);
    return;
  }
  const before = identityOf(await fh.stat({ bigint: true }));
  const known = Number(before.size) === size ? memory.recall(path, before, plan.blockSize) : undefined;
  if (known !== undefined) {
    yield* batchesFrom(known, plan, end);
    return;
  }
  // The whole file's hashes are collected into one buffer as they come: a 100 GiB image's are 25 MiB, and a list
  // of the batches joined at the end would hold them twice at the agent's peak.
  const bytes = Math.ceil(size / plan.blockSize) * HASH_BYTES;
  const all = plan.offset === 0 && end === size && memory.canHold(bytes) ? Buffer.allocUnsafe(bytes) : undefined;
  const startedNs = wallClockNs();
  for await (const batch of hashBlocks(fh, size, plan, signal)) {
    all?.set(batch.hashes, (batch.offset / plan.blockSize) * HASH_BYTES);
    yield batch;
  }
  if (all !== undefined) memory.remember(path, before, identityOf(await fh.stat({ bigint: true })), startedNs, plan.blockSize, all);
}

/** The whole-image digest (DigestImage form) of an open image, through `memory`. */
export async function rememberedDigest(fh: FileHandle, path: string, size: number, memory: HashMemory, signal: AbortSignal): Promise<string> {
  const digest = new ImageDigest(size);
  const plan: HashPlan = { blockSize: DEFAULT_BLOCK_SIZE, offset: 0, length: 0, batchBlocks: 4096 };
  for await (const batch of rememberedHashBlocks(fh, path, size, plan, memory, signal)) digest.update(batch.hashes);
  return digest.digest();
}

/**
 * readRanges of `ranges` (normalized) of an open image. Reading the whole file
 * digests it on the way (stream-digest.ts) and its hashes are remembered, so a
 * DigestImage after a clone reads nothing.
 */
export async function rememberedReadRanges(
  fh: FileHandle,
  path: string,
  size: number,
  ranges: readonly ByteSpan[],
  chunkSize: number,
  send: ChunkSink,
  memory: HashMemory,
  signal: AbortSignal,
  blockHashes = false,
  readDepth?: () => number,
): Promise<ReadTotals> {
  const depth = readDepth === undefined ? {} : { readDepth };
  const whole = size > 0 && ranges.length === 1 && ranges[0]?.offset === 0 && ranges[0].length === size;
  if (!whole) return readRanges(fh, ranges, chunkSize, send, signal, { blockHashes, ...depth });
  const before = identityOf(await fh.stat({ bigint: true }));
  const startedNs = wallClockNs();
  const digester = new StreamDigester(size, memory.canHold(Math.ceil(size / DEFAULT_BLOCK_SIZE) * HASH_BYTES));
  const totals = await readRanges(fh, ranges, chunkSize, send, signal, { blockHashes, digester, ...depth });
  const hashes = digester.finish()?.hashes;
  if (hashes !== undefined) memory.remember(path, before, identityOf(await fh.stat({ bigint: true })), startedNs, DEFAULT_BLOCK_SIZE, hashes);
  return totals;
}
