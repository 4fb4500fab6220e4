/**
 * Ordered NBD reads with a few in flight: what agent/disk/read-ahead.ts does
 * for a file, for an export. NBD answers requests out of order over one
 * socket, so keeping several outstanding hides the round trip and lets the
 * server's disk work while the caller hashes or sends the previous piece.
 */
import { dataLoss } from '../../shared/errors.js';
import { readAheadWith, type PlannedRead, type ReadResult } from '../disk/read-ahead.js';
import type { GuestCounters, GuestReader } from './guest-client.js';

/** Reads kept in flight on one export by default (1 MiB each: a few MiB of memory). */
export const GUEST_READ_DEPTH = 4;

/**
 * Yields the plan's steps in order with their bytes (null for steps that are
 * not read), with up to `depth` reads in flight. When the consumer stops
 * early, the reads still in flight are awaited before returning, so the
 * caller may close the connection as soon as its loop ends. Every read gets
 * a buffer of its own (`release` does nothing).
 */
export function guestReadAhead<T extends PlannedRead>(
  client: GuestReader,
  plan: AsyncIterable<T> | Iterable<T>,
  signal: AbortSignal,
  depth: number | (() => number) = GUEST_READ_DEPTH,
  counters?: GuestCounters,
): AsyncGenerator<ReadResult<T>> {
  const readOne = async (item: T): Promise<Buffer> => {
    const data = await client.read(item.offset, item.length);
    if (data.length !== item.length) throw dataLoss(`the NBD server returned ${data.length} bytes for a ${item.length}-byte read at ${item.offset}`);
    if (counters !== undefined) counters.bytesRead += data.length;
    return data;
  };
  return readAheadWith(plan, (item) => ({ data: readOne(item) }), signal, depth);
}
