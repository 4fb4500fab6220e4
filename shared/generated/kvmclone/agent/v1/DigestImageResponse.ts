// Original file: proto/kvmclone/agent/v1/disk.proto

import type { Long } from '@grpc/proto-loader';

export interface DigestImageResponse {
  'size'?: (number | string | Long);
  /**
   * "blake3:" + hex of blake3-256 over (size as 8 bytes little-endian, then
   * the 64 KiB block hashes of HashBlocks in order). Identical content gives
   * an identical digest however the file is allocated.
   */
  'digest'?: (string);
}

export interface DigestImageResponse__Output {
  'size': (number);
  /**
   * "blake3:" + hex of blake3-256 over (size as 8 bytes little-endian, then
   * the 64 KiB block hashes of HashBlocks in order). Identical content gives
   * an identical digest however the file is allocated.
   */
  'digest': (string);
}
