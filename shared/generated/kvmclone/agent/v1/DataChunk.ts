// Original file: proto/kvmclone/agent/v1/disk.proto

import type { Compression as _kvmclone_agent_v1_Compression, Compression__Output as _kvmclone_agent_v1_Compression__Output } from '../../../kvmclone/agent/v1/Compression.js';
import type { Long } from '@grpc/proto-loader';

export interface DataChunk {
  'offset'?: (number | string | Long);
  'data'?: (Buffer | Uint8Array | string);
  /**
   * blake3 of data, truncated to 128 bits (16 bytes). Empty when block_hashes is set.
   */
  'hash'?: (Buffer | Uint8Array | string);
  /**
   * From ReadRanges only when the request asked for them; WriteRanges takes a
   * chunk with either hash or block_hashes. The hashes of data cut on the absolute
   * 64 KiB grid of the file (the first and last piece may be short), and for
   * each piece in order the blake3 of its bytes truncated to 128 bits, 16
   * bytes each. A whole 64 KiB piece's hash is the block's HashBlocks hash
   * unless the block is all zero (HashBlocks gives zero blocks the all-zero
   * hash; ReadRanges sends them as zero ranges).
   */
  'blockHashes'?: (Buffer | Uint8Array | string);
  /**
   * How data is encoded (ReadRanges with compress set). The receiver
   * decompresses to exactly plain_length bytes before it checks any hash.
   */
  'compression'?: (_kvmclone_agent_v1_Compression);
  'plainLength'?: (number);
}

export interface DataChunk__Output {
  'offset': (number);
  'data': (Buffer);
  /**
   * blake3 of data, truncated to 128 bits (16 bytes). Empty when block_hashes is set.
   */
  'hash': (Buffer);
  /**
   * From ReadRanges only when the request asked for them; WriteRanges takes a
   * chunk with either hash or block_hashes. The hashes of data cut on the absolute
   * 64 KiB grid of the file (the first and last piece may be short), and for
   * each piece in order the blake3 of its bytes truncated to 128 bits, 16
   * bytes each. A whole 64 KiB piece's hash is the block's HashBlocks hash
   * unless the block is all zero (HashBlocks gives zero blocks the all-zero
   * hash; ReadRanges sends them as zero ranges).
   */
  'blockHashes': (Buffer);
  /**
   * How data is encoded (ReadRanges with compress set). The receiver
   * decompresses to exactly plain_length bytes before it checks any hash.
   */
  'compression': (_kvmclone_agent_v1_Compression__Output);
  'plainLength': (number);
}
