// Original file: proto/kvmclone/agent/v1/disk.proto

import type { ByteRange as _kvmclone_agent_v1_ByteRange, ByteRange__Output as _kvmclone_agent_v1_ByteRange__Output } from '../../../kvmclone/agent/v1/ByteRange.js';

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
}
