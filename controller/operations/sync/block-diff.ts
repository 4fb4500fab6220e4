/**
 * Compares two streams of block hashes (HashBlocks batches from the source
 * and the destination, arriving at the same time) and yields the byte ranges
 * of the source that differ, neighbours joined. Only these are fetched; an
 * all-zero source block is fetched as a zero range (the destination punches
 * it), never as bytes.
 */
import { HASH_BYTES, ZERO_HASH } from '../../../shared/block-hash.js';

/** One HashBlocks batch, reduced to what comparing needs. */
export interface HashBatch {
  offset: number;
  blockSize: number;
  blockCount: number;
  hashes: Buffer;
  fileSize: number;
}

/** A byte range of the source to fetch. */
export interface DiffRange {
  offset: number;
  length: number;
}

/** The comparison's outcome. */
export interface BlockDiff {
  ranges: DiffRange[];
  /** Blocks compared (the source's block count). */
  blocks: number;
  /** Blocks that differ. */
  changedBlocks: number;
  sourceSize: number;
  destSize: number;
}

/**
 * How far a comparison got, kept across calls: a comparison interrupted by a
 * dropped connection is continued from block `next` (the hash streams are
 * asked again from there) instead of from the start.
 */
export interface DiffProgress {
  /** Ranges found so far. */
  ranges: DiffRange[];
  /** Blocks found to differ so far. */
  changed: number;
  /** The first block not yet compared. */
  next: number;
}

/** Hashes in block order, pulled from a batch stream on demand. */
class HashCursor {
  private batch: HashBatch | undefined;
  private index = 0;
  private readonly iterator: AsyncIterator<HashBatch>;
  fileSize = -1;

  constructor(stream: AsyncIterable<HashBatch>) {
    this.iterator = stream[Symbol.asyncIterator]();
  }

  /** The hash of block `n` (blocks arrive in order), or undefined past the end. */
  async hashOf(n: number, blockSize: number): Promise<Buffer | undefined> {
    for (;;) {
      if (this.batch) {
        const first = this.batch.offset / blockSize;
        if (n < first + this.batch.blockCount) {
          this.index = n - first;
          return this.batch.hashes.subarray(this.index * HASH_BYTES, (this.index + 1) * HASH_BYTES);
        }
      }
      const next = await this.iterator.next();
      if (next.done === true) return undefined;
      this.batch = next.value;
      this.fileSize = next.value.fileSize;
      if (next.value.blockSize !== blockSize) throw new Error(`hash batches of ${next.value.blockSize} bytes where ${blockSize} were asked for`);
    }
  }

  /** Reads to the end so the file size is known even when no block was needed. */
  async drain(): Promise<void> {
    for (let next = await this.iterator.next(); next.done !== true; next = await this.iterator.next()) this.fileSize = next.value.fileSize;
  }
}

/**
 * Walks both hash streams block by block. A block differs when its hash
 * differs or the destination has no such block; the last block of either
 * file differs when the sizes differ (a short block hashes differently).
 */
export async function diffBlocks(source: AsyncIterable<HashBatch>, dest: AsyncIterable<HashBatch>, blockSize: number, progress?: DiffProgress): Promise<BlockDiff> {
  const src = new HashCursor(source);
  const dst = new HashCursor(dest);
  // With `progress`, both streams start at block progress.next, and what is found is kept there as it is found.
  const state = progress ?? { ranges: [], changed: 0, next: 0 };
  const ranges = state.ranges;
  let n = state.next;
  for (; ; n += 1, state.next = n) {
    const a = await src.hashOf(n, blockSize);
    if (a === undefined) break;
    const b = await dst.hashOf(n, blockSize);
    if (b !== undefined && a.equals(b)) continue;
    // Past the destination's end a zero block needs nothing: growing the file leaves a hole there.
    if (b === undefined && a.equals(ZERO_HASH) && (n + 1) * blockSize <= src.fileSize) continue;
    state.changed += 1;
    const offset = n * blockSize;
    const last = ranges.at(-1);
    if (last && last.offset + last.length === offset) last.length += blockSize;
    else ranges.push({ offset, length: blockSize });
  }
  await src.drain();
  await dst.drain();
  const sourceSize = src.fileSize;
  const destSize = dst.fileSize;
  // The final block of the source may be short: clip the last range to the file.
  const tail = ranges.at(-1);
  if (tail && tail.offset + tail.length > sourceSize) tail.length = sourceSize - tail.offset;
  // Same hashes but different sizes in the last block are caught by the hash (short blocks differ).
  return { ranges: [...ranges], blocks: n, changedBlocks: state.changed, sourceSize, destSize };
}
