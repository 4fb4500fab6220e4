/**
 * Writes and zeroings into an NBD export with several in flight, never two
 * overlapping at once, so the export ends up as if they had been done one
 * after another in the order given: the window of agent/disk/ordered-writes.ts,
 * with NBD requests. Awaiting each NBD write before sending the next would
 * make a copy a string of socket round trips through qemu-nbd.
 */
import { OrderedRequests } from '../disk/ordered-writes.js';
import type { GuestWriter } from './guest-client.js';

/** Requests in flight by default: enough to keep qemu-nbd's coroutines busy, a few MiB of memory. */
export const GUEST_WRITE_DEPTH = 8;

/** One export's ordered writes; the caller must not change a buffer until drain() returns. */
export class GuestWrites extends OrderedRequests {
  constructor(
    private readonly client: GuestWriter,
    /** Requests in flight at most. */
    depth: number = GUEST_WRITE_DEPTH,
  ) {
    super(depth);
  }

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
}
