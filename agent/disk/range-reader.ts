/**
 * ReadRanges: the bytes of an image as offset-stamped chunks, each with its
 * hash, and everything that reads as zeros (holes, all-zero 64 KiB blocks)
 * announced as a zero range instead of being sent.
 *
 * This is the hot path of a clone. The next reads are already in flight
 * while a chunk is hashed and handed to gRPC, `send` waits while the client's
 * window is full (so a slow peer holds at most a few chunks of memory here),
 * and the signal is checked per chunk so a cancelled call stops within one.
 */
import type { FileHandle } from 'node:fs/promises';
import { chunkHash, gridPieceHashes } from '../../shared/block-hash.js';
import type { ReadRangesResponse } from '../../shared/generated/kvmclone/agent/v1/ReadRangesResponse.js';
import { fileExtents, zeroRuns } from './extent-map.js';
import { planReads } from './read-plan.js';
import { BufferPool } from './buffer-pool.js';
import type { StreamDigester } from './stream-digest.js';
import { readAhead, type PlannedRead, type ReadResult } from './read-ahead.js';
import type { ByteSpan } from './request-limits.js';
import { MAX_READ_DEPTH, MAX_UNWRITTEN } from '../rpc/send-share.js';

/**
 * Read buffers kept for reuse: the reads in flight, the one being sent, and
 * the messages not yet written to HTTP/2 (agent/rpc/bounded-sink.ts), with
 * a little room: a buffer is free again only once every message cut from it is.
 * (A stream sharing the agent with others holds fewer: rpc/send-share.ts.)
 */
const POOL_KEEP = MAX_READ_DEPTH + MAX_UNWRITTEN + 2;

/**
 * Sends one response message; resolves when the transport can take more.
 * `written` runs once the message no longer needs the bytes it refers to.
 */
export type ChunkSink = (message: ReadRangesResponse, written?: () => void) => Promise<void>;

/** What one ReadRanges call moved (for logs and tests). */
export interface ReadTotals {
  dataBytes: number;
  dataChunks: number;
  zeroBytes: number;
}

/** The read plan of every range in turn, so read-ahead crosses from one range into the next. */
async function* planAll(fh: FileHandle, ranges: readonly ByteSpan[], chunkSize: number): AsyncGenerator<PlannedRead> {
  for (const r of ranges) {
    const end = r.offset + r.length;
    yield* planReads(fileExtents(fh.fd, r.offset, end), r.offset, end, 1, chunkSize);
  }
}

/** How a ReadRanges call hashes what it sends. */
export interface ReadOptions {
  /** Per-64 KiB-piece hashes (DataChunk.block_hashes) instead of one hash per chunk. */
  readonly blockHashes?: boolean;
  /** Sees every piece sent, in order (a whole-file or whole-export read digests it on the way: stream-digest.ts). */
  readonly digester?: StreamDigester;
  /** Reads in flight ahead of the chunk being sent, read before each read starts (default MAX_READ_DEPTH). */
  readonly readDepth?: () => number;
}

/**
 * Sends `results` (a read-ahead of a read plan, in order) as ReadRanges
 * messages: data chunks with their hashes, and everything that reads as
 * zeros — steps not read, all-zero 64 KiB blocks in what was — as zero
 * ranges, adjacent ones merged into one message. Shared by the file reader
 * below and the NBD one (agent/guest/guest-reads.ts), so both put the same
 * bytes on the wire. Each result is released once every message cut from
 * it is serialized.
 */
export async function sendReads(results: AsyncIterable<ReadResult<PlannedRead>>, send: ChunkSink, signal: AbortSignal, options: ReadOptions = {}): Promise<ReadTotals> {
  const { digester, blockHashes = false } = options;
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

  for await (const { item, data, release } of results) {
    if (data === null) {
      await addZero(item.offset, item.length);
      continue;
    }
    // The buffer goes back to the pool once every message cut from it is serialized.
    let users = 1;
    const done = (): void => {
      users -= 1;
      if (users === 0) release();
    };
    try {
      for (const run of zeroRuns(data, item.offset)) {
        if (run.zero) {
          await addZero(run.offset, run.length);
          continue;
        }
        await flushZero();
        signal.throwIfAborted();
        const bytes = data.subarray(run.offset - item.offset, run.offset - item.offset + run.length);
        users += 1;
        // With block hashes, one pass: the same piece hashes go on the wire and into the digest.
        const pieces = blockHashes ? gridPieceHashes(run.offset, bytes) : undefined;
        digester?.data(run.offset, bytes, pieces);
        await send({ data: pieces === undefined ? { offset: run.offset, data: bytes, hash: chunkHash(bytes) } : { offset: run.offset, data: bytes, blockHashes: pieces } }, done);
        totals.dataBytes += run.length;
        totals.dataChunks += 1;
      }
    } finally {
      done();
    }
  }
  await flushZero();
  return totals;
}

/**
 * Streams `ranges` (validated, sorted, merged: request-limits.ts
 * normalizeRanges) of an open file through `send`. Data chunks are at most
 * `chunkSize` bytes and cut on multiples of it; adjacent zero ranges are
 * merged into one message.
 */
export async function readRanges(
  fh: FileHandle,
  ranges: readonly ByteSpan[],
  chunkSize: number,
  send: ChunkSink,
  signal: AbortSignal,
  options: ReadOptions = {},
): Promise<ReadTotals> {
  const pool = new BufferPool(chunkSize, POOL_KEEP);
  return sendReads(readAhead(fh, planAll(fh, ranges, chunkSize), signal, options.readDepth ?? MAX_READ_DEPTH, pool), send, signal, options);
}
