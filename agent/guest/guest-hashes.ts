/**
 * HashBlocks and DigestImage over an NBD export: the same block hashes and
 * the same digest a file of the guest's bytes would give (block-hasher.ts),
 * so a qcow2 — or a running VM's point-in-time view — compares directly with
 * a raw copy of it, and the two ends of a live copy prove they agree.
 *
 * Blocks that base:allocation vouches for as zero are given ZERO_HASH without
 * being read; the rest are read in ~1 MiB requests, a few in flight, and
 * hashed here (blake3 runs at ~4 GB/s, far above what NBD delivers).
 */
import { blockHash, DEFAULT_BLOCK_SIZE, HASH_BYTES, ImageDigest, ZERO_HASH } from '../../shared/block-hash.js';
import { hashEnd, type HashBatch, type HashPlan } from '../disk/block-hasher.js';
import { readAheadWith } from '../disk/read-ahead.js';
import { planReads } from '../disk/read-plan.js';
import type { GuestCounters, GuestReader } from './guest-client.js';
import { allocationExtents, zerosAsHoles } from './guest-extents.js';
import { GUEST_READ_DEPTH, guestReads } from './guest-read-ahead.js';

/** Bytes per read at most (whole blocks; a block larger than this is read whole). */
const READ_BYTES = 1024 * 1024;

/** Collects consecutive block hashes into batches of `batchBlocks`. */
class Batcher {
  private buffer: Buffer;
  private count = 0;
  private first: number;

  constructor(
    private readonly blockSize: number,
    private readonly batchBlocks: number,
    start: number,
  ) {
    this.buffer = Buffer.alloc(batchBlocks * HASH_BYTES);
    this.first = start;
  }

  /** Adds one block's hash; returns a full batch when this one completes it. */
  add(hash: Buffer): HashBatch | undefined {
    hash.copy(this.buffer, this.count * HASH_BYTES);
    this.count += 1;
    return this.count === this.batchBlocks ? this.take() : undefined;
  }

  /** The batch collected so far (possibly short), or undefined when empty. */
  take(): HashBatch | undefined {
    if (this.count === 0) return undefined;
    const batch: HashBatch = { offset: this.first, blockCount: this.count, hashes: this.buffer.subarray(0, this.count * HASH_BYTES) };
    this.first += this.count * this.blockSize;
    this.count = 0;
    this.buffer = Buffer.alloc(this.batchBlocks * HASH_BYTES);
    return batch;
  }
}

/**
 * Hashes the blocks of `plan` (validated against the export size like
 * HashBlocks on a file: hashEnd) and yields them in batches in order. The
 * last block of the export may be short; it is hashed as it is.
 */
export async function* guestHashBatches(client: GuestReader, plan: HashPlan, signal: AbortSignal, counters?: GuestCounters): AsyncGenerator<HashBatch> {
  const size = client.size;
  const end = hashEnd(plan, size);
  const { blockSize } = plan;
  const readSize = Math.max(blockSize, READ_BYTES);
  const extents = zerosAsHoles(allocationExtents(client, plan.offset, end - plan.offset, signal));
  const batcher = new Batcher(blockSize, plan.batchBlocks, plan.offset);
  for await (const { item, data } of readAheadWith(planReads(extents, plan.offset, end, blockSize, readSize), guestReads(client, counters), signal, GUEST_READ_DEPTH)) {
    // Steps start on block boundaries and are whole blocks (the export's last may be short).
    for (let at = 0; at < item.length; at += blockSize) {
      const length = Math.min(blockSize, item.length - at);
      const full = batcher.add(data === null ? ZERO_HASH : blockHash(data.subarray(at, at + length)));
      if (full !== undefined) yield full;
    }
  }
  const rest = batcher.take();
  if (rest !== undefined) yield rest;
}

/**
 * The whole-export digest in DigestImage form (shared/block-hash.ts
 * ImageDigest over the virtual size and the 64 KiB block hashes): equal to
 * the digest of a file holding the guest's bytes.
 */
export async function guestDigest(client: GuestReader, signal: AbortSignal, counters?: GuestCounters): Promise<string> {
  const digest = new ImageDigest(client.size);
  const plan: HashPlan = { blockSize: DEFAULT_BLOCK_SIZE, offset: 0, length: 0, batchBlocks: 4096 };
  for await (const batch of guestHashBatches(client, plan, signal, counters)) digest.update(batch.hashes);
  return digest.digest();
}
