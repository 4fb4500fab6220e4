/**
 * Writes at fixed offsets with some in flight, never two overlapping at once,
 * so the target ends up as if they had been written one after another in the
 * order given. Used by the staging writer (a clone's chunks) and by the
 * journal replay (a sync's 1600-odd 64 KiB records, where awaiting each write
 * before the next made the apply a string of threadpool round trips); the
 * same window serves an NBD export (agent/guest/guest-writes.ts).
 */
import type { FileHandle } from 'node:fs/promises';

/** Writes all of `data` at `position` (a write may take less than asked). */
export async function writeFully(fh: FileHandle, data: Buffer, position: number): Promise<void> {
  for (let done = 0; done < data.length;) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

/**
 * The ordering window, whatever a request writes with: a subclass starts each
 * request through start(). The caller must not change a buffer until drain()
 * returns.
 */
export class OrderedRequests {
  private readonly inFlight: { start: number; end: number; done: Promise<void> }[] = [];

  constructor(
    /** Requests in flight at most. */
    private readonly depth: number,
  ) {}

  /**
   * Runs `request` (which changes [offset, offset + length)) once nothing
   * overlapping that span is in flight and a slot is free.
   */
  protected async start(offset: number, length: number, request: () => Promise<void>): Promise<void> {
    const end = offset + length;
    if (this.inFlight.some((w) => w.start < end && offset < w.end)) await this.drain();
    while (this.inFlight.length >= this.depth) await (this.inFlight.shift() as { done: Promise<void> }).done;
    const done = request();
    // Awaited by drain (or by a later request when the window is full); this only silences the early rejection.
    done.catch(() => undefined);
    this.inFlight.push({ start: offset, end, done });
  }

  /** Waits for every request in flight and forgets them, failed or not (for a stream that is being abandoned). */
  async settle(): Promise<void> {
    await Promise.allSettled(this.inFlight.splice(0).map((w) => w.done));
  }

  /** Waits for every request in flight; the first failure is thrown (after all have settled). */
  async drain(): Promise<void> {
    const results = await Promise.allSettled(this.inFlight.splice(0).map((w) => w.done));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }
}

/** One file's ordered writes; the caller must not change a buffer until drain() returns. */
export class OrderedWrites extends OrderedRequests {
  constructor(
    private readonly fh: FileHandle,
    /** Writes in flight at most. */
    depth: number,
  ) {
    super(depth);
  }

  /** Starts writing `data` at `position` once nothing overlapping it is in flight and a slot is free. */
  write(data: Buffer, position: number): Promise<void> {
    return this.start(position, data.length, () => writeFully(this.fh, data, position));
  }
}
