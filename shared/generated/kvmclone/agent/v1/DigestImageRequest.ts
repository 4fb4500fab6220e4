// Original file: proto/kvmclone/agent/v1/disk.proto

import type { ExtentLayer as _kvmclone_agent_v1_ExtentLayer, ExtentLayer__Output as _kvmclone_agent_v1_ExtentLayer__Output } from '../../../kvmclone/agent/v1/ExtentLayer.js';
import type { ByteRange as _kvmclone_agent_v1_ByteRange, ByteRange__Output as _kvmclone_agent_v1_ByteRange__Output } from '../../../kvmclone/agent/v1/ByteRange.js';

export interface DigestImageRequest {
  'path'?: (string);
  /**
   * As in HashBlocksRequest.
   */
  'layer'?: (_kvmclone_agent_v1_ExtentLayer);
  /**
   * When set, digest only these ranges (on the 64 KiB block grid, ascending,
   * not overlapping) in the RangesDigest form ("blake3-ranges:…"), for a
   * changed-block sync; a live view answers from the hashes of the blocks
   * it sent when it has them.
   */
  'ranges'?: (_kvmclone_agent_v1_ByteRange)[];
}

export interface DigestImageRequest__Output {
  'path': (string);
  /**
   * As in HashBlocksRequest.
   */
  'layer': (_kvmclone_agent_v1_ExtentLayer__Output);
  /**
   * When set, digest only these ranges (on the 64 KiB block grid, ascending,
   * not overlapping) in the RangesDigest form ("blake3-ranges:…"), for a
   * changed-block sync; a live view answers from the hashes of the blocks
   * it sent when it has them.
   */
  'ranges': (_kvmclone_agent_v1_ByteRange__Output)[];
}
