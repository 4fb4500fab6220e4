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
import { sendReads, type ChunkSink, type ReadOptions, type ReadTotals } from '../disk/range-reader.js';
import { planReads } from '../disk/read-plan.js';
import { readAheadWith, type PlannedRead } from '../disk/read-ahead.js';
import type { ByteSpan } from '../disk/request-limits.js';
import type { GuestCounters, GuestReader } from './guest-client.js';
import { AllocationCursor, zerosAsHoles } from './guest-extents.js';
import { GUEST_READ_DEPTH, guestReads } from './guest-read-ahead.js';

/** How a guest ReadRanges call hashes and accounts for what it sends. */
export interface GuestReadOptions extends ReadOptions {
  /** Data bytes read from the export are added here. */
  readonly counters?: GuestCounters;
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
 * request-limits.ts normalizeRanges) of `client`'s export through `send`,
 * with the file reader's chunk and zero sender (range-reader.ts sendReads).
 */
export async function readGuestRanges(
  client: GuestReader,
  ranges: readonly ByteSpan[],
  chunkSize: number,
  send: ChunkSink,
  signal: AbortSignal,
  options: GuestReadOptions = {},
): Promise<ReadTotals> {
  const { counters, readDepth, ...sending } = options;
  // An NBD read has a round trip a pread has not: one read more in flight than the file reader's share.
  const depth = readDepth === undefined ? GUEST_READ_DEPTH : () => Math.min(GUEST_READ_DEPTH, readDepth() + 1);
  return sendReads(readAheadWith(planAll(client, ranges, chunkSize, signal), guestReads(client, counters), signal, depth), send, signal, sending);
}
