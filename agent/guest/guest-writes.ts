/**
 * Writes and zeroings into an NBD export with several in flight, never two
 * overlapping at once, so the export ends up as if they had been done one
 * after another in the order given (agent/disk/ordered-writes.ts does the
 * same for a file). Awaiting each NBD write before sending the next would
 * make a copy a string of socket round trips through qemu-nbd.
 */
import type { GuestWriter } from './guest-client.js';

/** Requests in flight by default: enough to keep qemu-nbd's coroutines busy, a few MiB of memory. */
export const GUEST_WRITE_DEPTH = 8;

/** One export's ordered writes; the caller must not change a buffer until drain() returns. */
export class GuestWrites {
  private readonly inFlight: { start: number; end: number; done: Promise<void> }[] = [];

  constructor(
    private readonly client: GuestWriter,
    /** Requests in flight at most. */
    private readonly depth: number = GUEST_WRITE_DEPTH,
  ) {}

  /** Starts writing `data` at `offset` once nothing overlapping it is in flight and a slot is free. */
  write(offset: number, data: Buffer): Promise<void> {
    return this.start(offset, data.length, () => this.client.write(offset, data));
  }

  /**
   * Starts making [offset, offset + length) read as zeros. `mayTrim` lets the
   * server deallocate the span (a hole in a raw file, a zero cluster in a
   * qcow2) instead of writing zeros.
   */
  zero(offset: number, length: number, mayTrim = true): Promise<void> {
    return this.start(offset, length, () => this.client.writeZeroes(offset, length, { mayTrim }));
  }

  private async start(offset: number, length: number, request: () => Promise<void>): Promise<void> {
    const end = offset + length;
    if (this.inFlight.some((w) => w.start < end && offset < w.end)) await this.drain();
    while (this.inFlight.length >= this.depth) await (this.inFlight.shift() as { done: Promise<void> }).done;
    const done = request();
    // Awaited by drain (or by a later request when the window is full); this only silences the early rejection.
    done.catch(() => undefined);
    this.inFlight.push({ start: offset, end, done });
  }

  /** Waits for every request in flight and forgets them, failed or not (for a copy that is being abandoned). */
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
