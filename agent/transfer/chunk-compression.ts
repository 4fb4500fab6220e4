/**
 * `--compress`: data chunks may travel zstd-compressed between agents. The
 * source compresses after hashing (hashes always cover the plain bytes) and
 * before pacing (a --bwlimit counts what crosses the wire); the destination
 * decompresses as the chunk arrives (pull-image.ts dialPeer), so every check
 * downstream sees plain bytes. A chunk that does not shrink goes plain.
 *
 * zstd level 1 through `zstd-napi` (built from source by npm ci): measured
 * on the testbed's cores, ~420 MB/s and a 0.44 ratio on real files; random
 * data costs ~4 ms per MiB to find incompressible, so AUTO tries a 64 KiB
 * sample first and sends the chunk plain when the sample does not shrink by
 * a tenth.
 */
import { compress, decompress } from 'zstd-napi';
import { dataLoss, invalidArgument } from '../../shared/errors.js';
import { MAX_CHUNK_BYTES } from '../../shared/grpc-tuning.js';
import type { Compress__Output } from '../../shared/generated/kvmclone/agent/v1/Compress.js';
import type { ReadRangesResponse } from '../../shared/generated/kvmclone/agent/v1/ReadRangesResponse.js';
import type { DataChunk__Output } from '../../shared/generated/kvmclone/agent/v1/DataChunk.js';
import type { ChunkSink } from '../disk/range-reader.js';

/** A compressed chunk must be at most this fraction of the plain one to be sent compressed. */
export const WORTH_RATIO = 0.9;
/** What AUTO compresses first to decide. */
export const SAMPLE_BYTES = 64 * 1024;
const LEVEL = { compressionLevel: 1 };

/** The compress mode of a request: OFF, ZSTD or AUTO; INVALID_ARGUMENT for anything else. */
export function checkCompress(value: Compress__Output | undefined, field = 'compress'): 'COMPRESS_OFF' | 'COMPRESS_ZSTD' | 'COMPRESS_AUTO' {
  switch (value) {
    case undefined:
    case 'COMPRESS_OFF':
      return 'COMPRESS_OFF';
    case 'COMPRESS_ZSTD':
    case 'COMPRESS_AUTO':
      return value;
    default:
      throw invalidArgument(`${field}: ${String(value)} is not a compress mode this agent knows (COMPRESS_OFF, COMPRESS_ZSTD, COMPRESS_AUTO)`);
  }
}

/** `data` zstd-compressed when `mode` asks and it pays; undefined to send it plain. */
export function compressed(data: Uint8Array, mode: 'COMPRESS_ZSTD' | 'COMPRESS_AUTO'): Buffer | undefined {
  if (mode === 'COMPRESS_AUTO' && data.length > SAMPLE_BYTES * 2) {
    const sample = compress(data.subarray(0, SAMPLE_BYTES), LEVEL);
    if (sample.length > SAMPLE_BYTES * WORTH_RATIO) return undefined;
  }
  const out = compress(data, LEVEL);
  return out.length <= data.length * WORTH_RATIO ? out : undefined;
}

/** `send` that compresses each data chunk's bytes when `mode` asks and it pays; `send` itself for OFF. */
export function compressingSink(mode: 'COMPRESS_OFF' | 'COMPRESS_ZSTD' | 'COMPRESS_AUTO', send: ChunkSink): ChunkSink {
  if (mode === 'COMPRESS_OFF') return send;
  return (message: ReadRangesResponse, written?: () => void) => {
    const chunk = message.data;
    const plain = chunk?.data;
    if (chunk === undefined || chunk === null || !(plain instanceof Uint8Array) || plain.length === 0) return send(message, written);
    const packed = compressed(plain, mode);
    if (packed === undefined) return send(message, written);
    return send({ ...message, data: { ...chunk, data: packed, compression: 'COMPRESSION_ZSTD', plainLength: plain.length } }, written);
  };
}

/**
 * The plain bytes of a received chunk: decompressed to exactly its
 * plain_length, or DATA_LOSS naming `what` when they do not come out so.
 */
export function plainData(chunk: DataChunk__Output, what: string): Buffer {
  if (chunk.compression === 'COMPRESSION_NONE' || (chunk.compression as unknown) === undefined) return chunk.data;
  if (chunk.compression !== 'COMPRESSION_ZSTD') throw dataLoss(`${what}: chunk at ${chunk.offset} is in an encoding this agent does not know (${String(chunk.compression)})`);
  // The announced size is bounded before anything is inflated: a chunk never holds more than one maximal read.
  if (!Number.isInteger(chunk.plainLength) || chunk.plainLength <= 0 || chunk.plainLength > MAX_CHUNK_BYTES) {
    throw dataLoss(`${what}: chunk at ${chunk.offset} announces ${chunk.plainLength} plain bytes (at most ${MAX_CHUNK_BYTES})`);
  }
  let plain: Buffer;
  try {
    plain = decompress(chunk.data);
  } catch (err) {
    throw dataLoss(`${what}: chunk at ${chunk.offset} does not decompress (${err instanceof Error ? err.message : String(err)})`);
  }
  if (plain.length !== chunk.plainLength) throw dataLoss(`${what}: chunk at ${chunk.offset} decompressed to ${plain.length} bytes, not the ${chunk.plainLength} it announced`);
  return plain;
}
