// Original file: proto/kvmclone/agent/v1/disk.proto

import type { Long } from '@grpc/proto-loader';

export interface DataChunk {
  'offset'?: (number | string | Long);
  'data'?: (Buffer | Uint8Array | string);
  /**
   * blake3 of data, truncated to 128 bits (16 bytes).
   */
  'hash'?: (Buffer | Uint8Array | string);
}

export interface DataChunk__Output {
  'offset': (number);
  'data': (Buffer);
  /**
   * blake3 of data, truncated to 128 bits (16 bytes).
   */
  'hash': (Buffer);
}
