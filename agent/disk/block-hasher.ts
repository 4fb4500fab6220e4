/**
 * Block hashes and whole-image digests: how two sides of a copy find the
 * blocks that differ, and prove at the end that nothing does.
 *
 * Holes are given ZERO_HASH without being read at all; everything else is
 * read and hashed on a worker thread, in cache-sized pieces (hash-worker.ts).
 */
import type { FileHandle } from 'node:fs/promises';
import { ImageDigest, DEFAULT_BLOCK_SIZE } from '../../shared/block-hash.js';
import { invalidArgument, outOfRange } from '../../shared/errors.js';
import { hashOnWorker } from './hash-workers.js';
import { withReadOnlyFile } from './read-ahead.js';

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
 * yields them in batches of plan.batchBlocks (the last may be smaller). The
 * reading and hashing run on a worker thread (hash-worker.ts says why).
 */
export async function* hashBlocks(fh: FileHandle, size: number, plan: HashPlan, signal: AbortSignal): AsyncGenerator<HashBatch> {
  const end = hashEnd(plan, size);
  yield* hashOnWorker(fh.fd, plan.offset, end, plan.blockSize, plan.batchBlocks, signal);
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
