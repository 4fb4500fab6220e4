/**
 * Ordered NBD reads with a few in flight: agent/disk/read-ahead.ts's
 * readAheadWith, with reads started on an export instead of a file. NBD
 * answers requests out of order over one socket, so keeping several
 * outstanding hides the round trip and lets the server's disk work while
 * the caller hashes or sends the previous piece.
 */
import { dataLoss } from '../../shared/errors.js';
import type { PlannedRead, StartedRead } from '../disk/read-ahead.js';
import type { GuestCounters, GuestReader } from './guest-client.js';

/** Reads kept in flight on one export by default (1 MiB each: a few MiB of memory). */
export const GUEST_READ_DEPTH = 4;

/**
 * How readAheadWith starts each read on an export: the export's bytes of
 * the step, in a buffer of their own (`release` does nothing), counted in
 * `counters`. The ordering, the reads in flight and the wait for them when
 * the consumer stops early are readAheadWith's, as for a file.
 */
export function guestReads(client: GuestReader, counters?: GuestCounters): (item: PlannedRead) => StartedRead {
  const readOne = async (item: PlannedRead): Promise<Buffer> => {
    const data = await client.read(item.offset, item.length);
    if (data.length !== item.length) throw dataLoss(`the NBD server returned ${data.length} bytes for a ${item.length}-byte read at ${item.offset}`);
    if (counters !== undefined) counters.bytesRead += data.length;
    return data;
  };
  return (item) => ({ data: readOne(item) });
}
