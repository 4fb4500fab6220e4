// Original file: proto/kvmclone/agent/v1/disk.proto

import type { Long } from '@grpc/proto-loader';

export interface HashBlocksResponse {
  /**
   * Offset of the first block of this batch.
   */
  'offset'?: (number | string | Long);
  'blockSize'?: (number);
  'blockCount'?: (number);
  /**
   * block_count hashes of 16 bytes each: blake3 of the block, truncated to
   * 128 bits. A block that is all zero (or a hole) is given 16 zero bytes, so
   * a receiver can tell it apart without reading it. The last block of a file
   * may be short; it is hashed as it is.
   */
  'hashes'?: (Buffer | Uint8Array | string);
  /**
   * Size of the file.
   */
  'fileSize'?: (number | string | Long);
}

export interface HashBlocksResponse__Output {
  /**
   * Offset of the first block of this batch.
   */
  'offset': (number);
  'blockSize': (number);
  'blockCount': (number);
  /**
   * block_count hashes of 16 bytes each: blake3 of the block, truncated to
   * 128 bits. A block that is all zero (or a hole) is given 16 zero bytes, so
   * a receiver can tell it apart without reading it. The last block of a file
   * may be short; it is hashed as it is.
   */
  'hashes': (Buffer);
  /**
   * Size of the file.
   */
  'fileSize': (number);
}
