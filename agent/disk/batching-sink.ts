/**
 * ReadRanges pieces packed several to a message (ReadRangesRequest.batch_bytes).
 *
 * grpc-js hands a server stream's messages to HTTP/2 one at a time, the next
 * only once the previous one's socket write completed, so every message costs
 * at least one turn of the event loop on top of its framing. For a clone's
 * 1 MiB chunks that is nothing; a sync's scattered 64 KiB blocks paid it per
 * block. Measured on the testbed through one SSH hop, 652 scattered blocks
 * read at 15-93 MiB/s one per message and 73-92 MiB/s in batches of 1 MiB
 * (the first read of a process: 16 against 70). A whole sync's TRANSFER did
 * not get measurably faster from it: what held it there was the SSH path
 * (fresh ssh processes start slowly), not the message count.
 *
 * Small data pieces are copied into one batch buffer (their read buffers go
 * back to their pool at once, so a batch holds one buffer, not one per
 * piece); a piece of more than half a batch goes alone, as it came.
 */
import type { ReadRangesResponse } from '../../shared/generated/kvmclone/agent/v1/ReadRangesResponse.js';
import { BufferPool } from './buffer-pool.js';
import type { ChunkSink } from './range-reader.js';

/** Most pieces in one batch: bounds a batch of zero ranges (each a few bytes) as batch_bytes bounds data. */
export const MAX_BATCH_PIECES = 1024;

/** Batch buffers kept for reuse: the unwritten messages a stream may hold (rpc/send-share.ts) and the one filling. */
const BATCH_POOL_KEEP = 6;

/** A ChunkSink that packs, and the flush its caller runs once the last piece is in. */
export interface BatchingSink {
  readonly send: ChunkSink;
  /** Sends what is still packed; call it once the stream's pieces are all sent (not after a failure). */
  flush(): Promise<void>;
}

/**
 * Packs what goes through `send` into batches of up to `batchBytes` bytes of
 * data (0: passes every message through as it is). Order is kept: a piece
 * too big to pack first sends the batch before it.
 */
export function batchingSink(batchBytes: number, send: ChunkSink): BatchingSink {
  if (batchBytes === 0) return { send, flush: () => Promise.resolve() };
  const pool = new BufferPool(batchBytes, BATCH_POOL_KEEP);
  let packed: ReadRangesResponse[] = [];
  let lent: ReturnType<BufferPool['acquire']> | undefined;
  let filled = 0;

  const flush = async (): Promise<void> => {
    if (packed.length === 0) return;
    const pieces = packed;
    const buffer = lent;
    packed = [];
    lent = undefined;
    filled = 0;
    const release = (): void => buffer?.release();
    // One piece needs no wrapping (a reader that did not know batches would read it all the same).
    await send(pieces.length === 1 && pieces[0] !== undefined ? pieces[0] : { batch: { pieces } }, release);
  };

  const pack = async (message: ReadRangesResponse, written?: () => void): Promise<void> => {
    const chunk = message.data;
    const bytes = chunk?.data;
    if (chunk === undefined || chunk === null || !(bytes instanceof Uint8Array)) {
      // A zero range (or anything else without bytes) packs as it is.
      packed.push(message);
      written?.();
      if (packed.length >= MAX_BATCH_PIECES) await flush();
      return;
    }
    if (bytes.length * 2 > batchBytes) {
      await flush();
      await send(message, written);
      return;
    }
    if (filled + bytes.length > batchBytes) await flush();
    lent ??= pool.acquire();
    lent.buffer.set(bytes, filled);
    packed.push({ data: { ...chunk, data: lent.buffer.subarray(filled, filled + bytes.length) } });
    filled += bytes.length;
    // The bytes are copied: the read buffer they came in may be reused now.
    written?.();
    if (filled === batchBytes || packed.length >= MAX_BATCH_PIECES) await flush();
  };

  return { send: pack, flush };
}

/** The pieces of a received ReadRanges message: a batch's in order, or the message itself. */
export function unpackBatch<T extends { batch?: { pieces?: T[] } | null }>(message: T): T[] {
  return message.batch ? (message.batch.pieces ?? []) : [message];
}
