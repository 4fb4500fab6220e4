/**
 * The numeric rules of DiskService requests, as pure functions.
 *
 * Offsets and lengths arrive as uint64 and are converted to JavaScript numbers
 * by the proto loader, which is exact only below 2^53: anything above that is
 * refused here instead of being silently rounded into a different offset.
 * Every check throws INVALID_ARGUMENT (malformed) or OUT_OF_RANGE (past the
 * end of the file) with a sentence naming the field.
 */
import { invalidArgument, outOfRange } from '../../shared/errors.js';
import { DEFAULT_BLOCK_SIZE } from '../../shared/block-hash.js';
import { MAX_CHUNK_BYTES } from '../../shared/grpc-tuning.js';

/** Largest image the agent writes: far above any real disk, low enough to catch a garbage size. */
export const MAX_IMAGE_BYTES = 64 * 1024 ** 4;

/** Most ranges one ReadRanges request may name (each is a seek and a message or two). */
export const MAX_RANGES = 65_536;

/** Granularity of zero detection and of HashBlocks' default block. */
export const ZERO_BLOCK_BYTES = 64 * 1024;

/** ReadRanges chunk size when the request leaves it 0. */
export const DEFAULT_CHUNK_BYTES = 1024 * 1024;

/** HashBlocks batch size when the request leaves it 0. */
export const DEFAULT_BATCH_BLOCKS = 1024;

/** A half-open byte span [offset, offset + length). */
export interface ByteSpan {
  readonly offset: number;
  readonly length: number;
}

/** Checks a uint64 that must be an exact byte count (below 2^53) and returns it. */
export function checkByteCount(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw invalidArgument(`${field}: ${String(value)} is not a byte count the agent accepts (0 to 2^53-1)`);
  }
  return value;
}

/**
 * Checks a span against a file of `size` bytes: exact numbers, a positive
 * length, no overflow, and the end not past the file (OUT_OF_RANGE).
 */
export function checkSpan(span: ByteSpan, size: number, field: string): ByteSpan {
  const offset = checkByteCount(span.offset, `${field}.offset`);
  const length = checkByteCount(span.length, `${field}.length`);
  if (length === 0) throw invalidArgument(`${field}.length: must be greater than 0`);
  if (!Number.isSafeInteger(offset + length)) throw invalidArgument(`${field}: offset + length overflows`);
  if (offset + length > size) {
    throw outOfRange(`${field}: bytes ${offset} to ${offset + length} lie past the end of the file (${size} bytes)`);
  }
  return { offset, length };
}

/**
 * Validates ReadRanges' ranges and returns them sorted with overlapping and
 * touching ranges merged, so each byte is read and sent once and the disk is
 * read in order. An empty list means the whole file.
 */
export function normalizeRanges(ranges: readonly ByteSpan[], size: number, field = 'ranges'): ByteSpan[] {
  if (ranges.length > MAX_RANGES) throw invalidArgument(`${field}: ${ranges.length} ranges is more than the ${MAX_RANGES} allowed in one request`);
  if (ranges.length === 0) return size > 0 ? [{ offset: 0, length: size }] : [];
  const checked = ranges.map((r, i) => checkSpan(r, size, `${field}[${i}]`)).sort((a, b) => a.offset - b.offset);
  const merged: ByteSpan[] = [];
  for (const r of checked) {
    const last = merged[merged.length - 1];
    if (last !== undefined && r.offset <= last.offset + last.length) {
      const end = Math.max(last.offset + last.length, r.offset + r.length);
      merged[merged.length - 1] = { offset: last.offset, length: end - last.offset };
    } else {
      merged.push(r);
    }
  }
  return merged;
}

/** HashBlocks block_size: a power of two from 4 KiB to 4 MiB; 0 means 64 KiB. */
export function checkBlockSize(value: number, field = 'block_size'): number {
  if (value === 0) return DEFAULT_BLOCK_SIZE;
  const powerOfTwo = Number.isInteger(value) && value > 0 && (value & (value - 1)) === 0;
  if (!powerOfTwo || value < 4096 || value > 4 * 1024 * 1024) {
    throw invalidArgument(`${field}: ${value} is not a power of two from 4096 to 4194304 (or 0 for 65536)`);
  }
  return value;
}

/** HashBlocks batch_blocks: 1 to 65536; 0 means 1024. */
export function checkBatchBlocks(value: number, field = 'batch_blocks'): number {
  if (value === 0) return DEFAULT_BATCH_BLOCKS;
  if (!Number.isInteger(value) || value < 1 || value > 65_536) throw invalidArgument(`${field}: ${value} is not between 1 and 65536 (or 0 for 1024)`);
  return value;
}

/** ReadRanges chunk_size: a multiple of 64 KiB from 64 KiB to MAX_CHUNK_BYTES; 0 means 1 MiB. */
export function checkChunkSize(value: number, field = 'chunk_size'): number {
  if (value === 0) return DEFAULT_CHUNK_BYTES;
  if (!Number.isInteger(value) || value % ZERO_BLOCK_BYTES !== 0 || value < ZERO_BLOCK_BYTES || value > MAX_CHUNK_BYTES) {
    throw invalidArgument(`${field}: ${value} is not a multiple of 65536 from 65536 to ${MAX_CHUNK_BYTES} (or 0 for 1 MiB)`);
  }
  return value;
}

/** ReadRanges batch_bytes: 0 (no batches) or 65536 to MAX_CHUNK_BYTES (batching-sink.ts). */
export function checkBatchBytes(value: number, field = 'batch_bytes'): number {
  if (value === 0) return 0;
  if (!Number.isInteger(value) || value < ZERO_BLOCK_BYTES || value > MAX_CHUNK_BYTES) {
    throw invalidArgument(`${field}: ${value} is not from 65536 to ${MAX_CHUNK_BYTES} (or 0 for one piece per message)`);
  }
  return value;
}

/** The highest rate_limit accepted: 100 GiB/s, far above any link (a larger number is a mistake, not a wish). */
export const MAX_RATE_LIMIT = 100 * 1024 ** 3;

/** ReadRanges / PullImage rate_limit: bytes per second, 0 for none, at least 64 KiB/s. */
export function checkRateLimit(value: number, field = 'rate_limit'): number {
  if (value === 0) return 0;
  if (!Number.isSafeInteger(value) || value < 65_536 || value > MAX_RATE_LIMIT)
    throw invalidArgument(`${field}: ${value} is not a rate from 65536 to ${MAX_RATE_LIMIT} bytes per second (or 0 for no limit)`);
  return value;
}

/** Most connections one pull may read its source over (PullImageRequest.streams). */
export const MAX_PULL_STREAMS = 8;

/** PullImage streams: 0 and 1 mean one connection; more up to MAX_PULL_STREAMS. */
export function checkStreams(value: number, field = 'streams'): number {
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_PULL_STREAMS)
    throw invalidArgument(`${field}: ${value} is not a number of streams from 1 to ${MAX_PULL_STREAMS} (0 for one)`);
  return Math.max(1, value);
}

/** WriteRanges open.size: a positive exact size no larger than MAX_IMAGE_BYTES. */
export function checkImageSize(value: number, field = 'open.size'): number {
  const size = checkByteCount(value, field);
  if (size === 0) throw invalidArgument(`${field}: the image size must be greater than 0`);
  if (size > MAX_IMAGE_BYTES) throw invalidArgument(`${field}: ${size} bytes is more than the ${MAX_IMAGE_BYTES} (64 TiB) the agent accepts`);
  return size;
}
