/**
 * Read buffers recycled between reads.
 *
 * Every multi-MiB Buffer is memory outside V8's heap, and V8 answers each
 * ~64 MB of such allocations with a full mark of the agent's whole heap.
 * Measured on the testbed: hashing a 10 GiB image (5 GiB of data) with a
 * fresh 2 MiB Buffer per read spent more CPU in the garbage collector than
 * in blake3 (3.3–4.3 user-seconds instead of 1.2). Reusing a handful of
 * buffers per call removes that work.
 */

/** A fixed-size buffer lent by a pool; `release` gives it back (once; later calls do nothing). */
export interface PooledBuffer {
  readonly buffer: Buffer;
  release(): void;
}

/** A small stack of equally sized buffers; lends a fresh one when none is free. */
export class BufferPool {
  private readonly free: Buffer[] = [];

  /**
   * @param size bytes of every buffer
   * @param keep most free buffers kept for reuse (the rest are left to the GC)
   */
  constructor(
    readonly size: number,
    private readonly keep: number,
  ) {}

  /** Lends a buffer of `size` bytes; its contents are whatever was there before. */
  acquire(): PooledBuffer {
    const buffer = this.free.pop() ?? Buffer.allocUnsafeSlow(this.size);
    let held = true;
    return {
      buffer,
      release: () => {
        if (!held) return;
        held = false;
        if (this.free.length < this.keep) this.free.push(buffer);
      },
    };
  }
}
