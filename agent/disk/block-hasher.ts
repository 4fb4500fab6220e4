/**
 * Block hashes and whole-image digests: how two sides of a copy find the
 * blocks that differ, and prove at the end that nothing does.
 *
 * Hashing (blake3, ~4–5 GB/s) is faster than the disk, so the work is keeping
 * the disk busy: a few 2 MiB reads stay in flight while the current one is
 * hashed, and holes are given ZERO_HASH without being read at all.
 */
import type { FileHandle } from 'node:fs/promises';
import { HASH_BYTES, ImageDigest, ZERO_HASH, blockHash, DEFAULT_BLOCK_SIZE } from '../../shared/block-hash.js';
import { invalidArgument, outOfRange } from '../../shared/errors.js';
import { fileExtents, planReads } from './extent-map.js';
import { BufferPool } from './buffer-pool.js';
import { READ_AHEAD_DEPTH, readAhead, withReadOnlyFile } from './read-ahead.js';

/** One batch of consecutive block hashes. */
export interface HashBatch {
  /** Offset of the first block. */
  readonly offset: number;
  readonly blockCount: number;
  /** blockCount × 16 bytes. */
  readonly hashes: Buffer;
}

/** What to hash; sizes already validated (see request-limits.ts). */
export interface HashPlan {
  readonly blockSize: number;
  /** A multiple of blockSize, at most the file size. */
  readonly offset: number;
  /** 0 means to the end of the file. */
  readonly length: number;
  readonly batchBlocks: number;
}

/** Bytes per read: at least one block, at least 2 MiB. */
const HASH_READ_BYTES = 2 * 1024 * 1024;

/**
 * Checks a plan against the file size and returns the end of the hashed
 * span. The span must end on a block boundary or at the end of the file, so
 * only the file's last block can be short.
 */
export function hashEnd(plan: HashPlan, size: number): number {
  if (plan.offset % plan.blockSize !== 0) throw invalidArgument(`offset: ${plan.offset} is not a multiple of block_size ${plan.blockSize}`);
  if (plan.offset > size) throw outOfRange(`offset: ${plan.offset} lies past the end of the file (${size} bytes)`);
  if (plan.length === 0) return size;
  const end = plan.offset + plan.length;
  if (!Number.isSafeInteger(end)) throw invalidArgument('length: offset + length overflows');
  if (end > size) throw outOfRange(`length: bytes ${plan.offset} to ${end} lie past the end of the file (${size} bytes)`);
  if (end !== size && plan.length % plan.blockSize !== 0) {
    throw invalidArgument(`length: ${plan.length} is not a multiple of block_size ${plan.blockSize} and does not reach the end of the file`);
  }
  return end;
}

/**
 * Hashes the blocks of [plan.offset, end) of an open file of `size` bytes and
 * yields them in batches of plan.batchBlocks (the last may be smaller).
 */
export async function* hashBlocks(fh: FileHandle, size: number, plan: HashPlan, signal: AbortSignal): AsyncGenerator<HashBatch> {
  const { blockSize, batchBlocks } = plan;
  const end = hashEnd(plan, size);
  const readSize = Math.max(blockSize, HASH_READ_BYTES);
  let batch = Buffer.allocUnsafe(batchBlocks * HASH_BYTES);
  let batchOffset = plan.offset;
  let count = 0;

  const flush = (): HashBatch => {
    const out: HashBatch = { offset: batchOffset, blockCount: count, hashes: batch.subarray(0, count * HASH_BYTES) };
    batchOffset += count * blockSize;
    batch = Buffer.allocUnsafe(batchBlocks * HASH_BYTES);
    count = 0;
    return out;
  };

  const plan$ = planReads(fileExtents(fh.fd, plan.offset, end), plan.offset, end, blockSize, readSize);
  const pool = new BufferPool(readSize, READ_AHEAD_DEPTH + 1);
  for await (const { item, data, release } of readAhead(fh, plan$, signal, READ_AHEAD_DEPTH, pool)) {
    // Steps start on block boundaries; only a step ending at the end of the file ends mid-block.
    const blocks = Math.ceil(item.length / blockSize);
    for (let i = 0; i < blocks; i += 1) {
      const hash = data === null ? ZERO_HASH : blockHash(data.subarray(i * blockSize, Math.min(data.length, (i + 1) * blockSize)));
      hash.copy(batch, count * HASH_BYTES);
      count += 1;
      if (count === batchBlocks) {
        signal.throwIfAborted();
        yield flush();
      }
    }
    release();
  }
  if (count > 0) yield flush();
}

/**
 * The whole-image digest of an open file: blake3-256 over its size and its
 * 64 KiB block hashes (shared/block-hash.ts ImageDigest). Holes and written
 * zeros hash alike, so a sparse copy digests like its dense source.
 */
export async function digestFile(fh: FileHandle, size: number, signal: AbortSignal): Promise<string> {
  const digest = new ImageDigest(size);
  const plan: HashPlan = { blockSize: DEFAULT_BLOCK_SIZE, offset: 0, length: 0, batchBlocks: 4096 };
  for await (const batch of hashBlocks(fh, size, plan, signal)) digest.update(batch.hashes);
  return digest.digest();
}

/** digestFile of the file at `path` (read-only, not through a symlink) at its size now. */
export function digestPath(path: string, signal: AbortSignal): Promise<string> {
  return withReadOnlyFile(path, async (fh) => digestFile(fh, (await fh.stat()).size, signal));
}
