/**
 * ReadRanges over an NBD export, with exactly the wire semantics of
 * agent/disk/range-reader.ts on a file: data chunks of at most `chunkSize`
 * bytes cut on multiples of it, each with its hash (or per-64 KiB-piece
 * block hashes), and everything that reads as zeros — spans base:allocation
 * vouches for, and all-zero 64 KiB blocks found by reading — announced as
 * zero ranges, never sent. The destination of a live copy cannot tell a view
 * from a raw file of the guest's bytes, which is the point.
 *
 * A few reads stay in flight while a chunk is hashed and sent, and `send`
 * waits while the peer's window is full, so a slow peer holds at most a few
 * chunks here.
 */
import { chunkHash, gridPieceHashes } from '../../shared/block-hash.js';
import { zeroRuns } from '../disk/extent-map.js';
import type { ChunkSink, ReadTotals } from '../disk/range-reader.js';
import { planReads } from '../disk/read-plan.js';
import type { PlannedRead } from '../disk/read-ahead.js';
import type { ByteSpan } from '../disk/request-limits.js';
import type { StreamDigester } from '../disk/stream-digest.js';
import type { GuestCounters, GuestReader } from './guest-client.js';
import { AllocationCursor, zerosAsHoles } from './guest-extents.js';
import { guestReadAhead } from './guest-read-ahead.js';

/** How a guest ReadRanges call hashes and accounts for what it sends. */
export interface GuestReadOptions {
  /** Per-64 KiB-piece hashes (DataChunk.block_hashes) instead of one hash per chunk. */
  readonly blockHashes?: boolean;
  /** Data bytes read from the export are added here. */
  readonly counters?: GuestCounters;
  /** Sees every piece sent, in order (a whole-export read digests it on the way: stream-digest.ts). */
  readonly digester?: StreamDigester;
}

/** The read plan of every range in turn, so read-ahead crosses from one range into the next. */
async function* planAll(client: GuestReader, ranges: readonly ByteSpan[], chunkSize: number, signal: AbortSignal): AsyncGenerator<PlannedRead> {
  const allocation = new AllocationCursor(client, ranges, signal);
  for (const r of ranges) {
    yield* planReads(zerosAsHoles(allocation.within(r.offset, r.length)), r.offset, r.offset + r.length, 1, chunkSize);
  }
}

/**
 * Streams `ranges` (validated against the export size, sorted, merged:
 * request-limits.ts normalizeRanges) of `client`'s export through `send`.
 * Adjacent zero ranges are merged into one message.
 */
export async function readGuestRanges(client: GuestReader, ranges: readonly ByteSpan[], chunkSize: number, send: ChunkSink, signal: AbortSignal, options: GuestReadOptions = {}): Promise<ReadTotals> {
  const { blockHashes = false, counters, digester } = options;
  const totals: ReadTotals = { dataBytes: 0, dataChunks: 0, zeroBytes: 0 };
  let zeroOffset = 0;
  let zeroLength = 0;

  const flushZero = async (): Promise<void> => {
    if (zeroLength === 0) return;
    const zero = { offset: zeroOffset, length: zeroLength };
    digester?.zero(zeroOffset, zeroLength);
    totals.zeroBytes += zeroLength;
    zeroLength = 0;
    await send({ zero });
  };
  const addZero = async (offset: number, length: number): Promise<void> => {
    if (zeroLength > 0 && zeroOffset + zeroLength === offset) {
      zeroLength += length;
      return;
    }
    await flushZero();
    zeroOffset = offset;
    zeroLength = length;
  };

  for await (const { item, data } of guestReadAhead(client, planAll(client, ranges, chunkSize, signal), signal, undefined, counters)) {
    if (data === null) {
      await addZero(item.offset, item.length);
      continue;
    }
    for (const run of zeroRuns(data, item.offset)) {
      if (run.zero) {
        await addZero(run.offset, run.length);
        continue;
      }
      await flushZero();
      signal.throwIfAborted();
      const bytes = data.subarray(run.offset - item.offset, run.offset - item.offset + run.length);
      // With block hashes, one pass: the same piece hashes go on the wire and into the digest.
      const pieces = blockHashes ? gridPieceHashes(run.offset, bytes) : undefined;
      digester?.data(run.offset, bytes, pieces);
      await send({ data: pieces === undefined ? { offset: run.offset, data: bytes, hash: chunkHash(bytes) } : { offset: run.offset, data: bytes, blockHashes: pieces } });
      totals.dataBytes += run.length;
      totals.dataChunks += 1;
    }
  }
  await flushZero();
  return totals;
}
