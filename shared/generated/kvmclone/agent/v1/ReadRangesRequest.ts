// Original file: proto/kvmclone/agent/v1/disk.proto

import type { ByteRange as _kvmclone_agent_v1_ByteRange, ByteRange__Output as _kvmclone_agent_v1_ByteRange__Output } from '../../../kvmclone/agent/v1/ByteRange.js';
import type { Compress as _kvmclone_agent_v1_Compress, Compress__Output as _kvmclone_agent_v1_Compress__Output } from '../../../kvmclone/agent/v1/Compress.js';
import type { Long } from '@grpc/proto-loader';

export interface ReadRangesRequest {
  'path'?: (string);
  /**
   * Ranges to read, in any order; empty means the whole file.
   */
  'ranges'?: (_kvmclone_agent_v1_ByteRange)[];
  /**
   * Largest data chunk, 65536 to 4194304 and a multiple of 65536; 0 means 1 MiB.
   */
  'chunkSize'?: (number);
  /**
   * When set, each DataChunk carries block_hashes instead of hash. A reader
   * that digests or compares 64 KiB blocks (HashBlocks, DigestImage) then
   * checks the bytes and gets the block hashes in one pass instead of two.
   */
  'blockHashes'?: (boolean);
  /**
   * Most bytes per second of data this agent sends, 0 for no limit. Every
   * ReadRanges of one operation (its operation id metadata) on this agent
   * shares one token bucket at the lowest rate asked, so the limit holds for
   * the operation however many files it reads at once. Zero runs are not
   * counted (they cross the wire as a few bytes).
   */
  'rateLimit'?: (number | string | Long);
  /**
   * Whether data chunks may travel compressed (DataChunk.compression). The
   * hashes always cover the plain bytes; a chunk that does not shrink goes plain.
   */
  'compress'?: (_kvmclone_agent_v1_Compress);
  /**
   * When set (65536 to 4194304), data chunks of at most half this size and
   * zero ranges travel several to a message (ReadRangesResponse.batch), up to
   * this many bytes of data each: a sync's scattered 64 KiB blocks then cost
   * one gRPC message per batch instead of one each (grpc-js writes a stream's
   * messages one at a time, each waiting for the socket). 0: one per message.
   */
  'batchBytes'?: (number);
}

export interface ReadRangesRequest__Output {
  'path': (string);
  /**
   * Ranges to read, in any order; empty means the whole file.
   */
  'ranges': (_kvmclone_agent_v1_ByteRange__Output)[];
  /**
   * Largest data chunk, 65536 to 4194304 and a multiple of 65536; 0 means 1 MiB.
   */
  'chunkSize': (number);
  /**
   * When set, each DataChunk carries block_hashes instead of hash. A reader
   * that digests or compares 64 KiB blocks (HashBlocks, DigestImage) then
   * checks the bytes and gets the block hashes in one pass instead of two.
   */
  'blockHashes': (boolean);
  /**
   * Most bytes per second of data this agent sends, 0 for no limit. Every
   * ReadRanges of one operation (its operation id metadata) on this agent
   * shares one token bucket at the lowest rate asked, so the limit holds for
   * the operation however many files it reads at once. Zero runs are not
   * counted (they cross the wire as a few bytes).
   */
  'rateLimit': (number);
  /**
   * Whether data chunks may travel compressed (DataChunk.compression). The
   * hashes always cover the plain bytes; a chunk that does not shrink goes plain.
   */
  'compress': (_kvmclone_agent_v1_Compress__Output);
  /**
   * When set (65536 to 4194304), data chunks of at most half this size and
   * zero ranges travel several to a message (ReadRangesResponse.batch), up to
   * this many bytes of data each: a sync's scattered 64 KiB blocks then cost
   * one gRPC message per batch instead of one each (grpc-js writes a stream's
   * messages one at a time, each waiting for the socket). 0: one per message.
   */
  'batchBytes': (number);
}
