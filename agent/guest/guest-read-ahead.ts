/**
 * Ordered NBD reads with a few in flight: what agent/disk/read-ahead.ts does
 * for a file, for an export. NBD answers requests out of order over one
 * socket, so keeping several outstanding hides the round trip and lets the
 * server's disk work while the caller hashes or sends the previous piece.
 */
import { dataLoss } from '../../shared/errors.js';
import type { PlannedRead } from '../disk/read-ahead.js';
import type { GuestCounters, GuestReader } from './guest-client.js';

/** Reads kept in flight on one export by default (1 MiB each: a few MiB of memory). */
export const GUEST_READ_DEPTH = 4;

/** Plan steps buffered ahead of the caller at most (bounds the queue when many zero spans lie between reads). */
const MAX_QUEUED_STEPS = 256;

/**
 * Yields the plan's steps in order with their bytes (null for steps that are
 * not read), with up to `depth` reads in flight. When the consumer stops
 * early, the reads still in flight are awaited before returning, so the
 * caller may close the connection as soon as its loop ends.
 */
export async function* guestReadAhead<T extends PlannedRead>(
  client: GuestReader,
  plan: AsyncIterable<T> | Iterable<T>,
  signal: AbortSignal,
  depth: number = GUEST_READ_DEPTH,
  counters?: GuestCounters,
): AsyncGenerator<{ item: T; data: Buffer | null }> {
  const steps: AsyncIterator<T> | Iterator<T> = Symbol.asyncIterator in plan ? plan[Symbol.asyncIterator]() : plan[Symbol.iterator]();
  const queue: { item: T; data: Promise<Buffer> | null }[] = [];
  let reading = 0;
  let exhausted = false;

  const readOne = async (item: T): Promise<Buffer> => {
    const data = await client.read(item.offset, item.length);
    if (data.length !== item.length) throw dataLoss(`the NBD server returned ${data.length} bytes for a ${item.length}-byte read at ${item.offset}`);
    if (counters !== undefined) counters.bytesRead += data.length;
    return data;
  };

  const fill = async (): Promise<void> => {
    while (!exhausted && reading < depth && queue.length < MAX_QUEUED_STEPS) {
      const next = await steps.next();
      if (next.done === true) {
        exhausted = true;
        return;
      }
      const item = next.value;
      if (!item.read) {
        queue.push({ item, data: null });
        continue;
      }
      const data = readOne(item);
      // Handled when it reaches the head of the queue; this only silences the early rejection.
      data.catch(() => undefined);
      queue.push({ item, data });
      reading += 1;
    }
  };

  try {
    for (;;) {
      signal.throwIfAborted();
      await fill();
      const head = queue.shift();
      if (head === undefined) return;
      let data: Buffer | null = null;
      if (head.data !== null) {
        reading -= 1;
        data = await head.data;
      }
      yield { item: head.item, data };
    }
  } finally {
    await Promise.allSettled(queue.map((entry) => entry.data));
    await steps.return?.();
  }
}
