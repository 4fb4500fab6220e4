// Original file: proto/kvmclone/agent/v1/storage.proto

import type { Long } from '@grpc/proto-loader';

export interface GetFreeSpaceResponse {
  /**
   * The resolved path that was measured.
   */
  'path'?: (string);
  /**
   * Bytes an unprivileged writer can still use (statfs f_bavail x f_bsize).
   */
  'availableBytes'?: (number | string | Long);
  /**
   * Bytes free including the root reserve (f_bfree x f_bsize).
   */
  'freeBytes'?: (number | string | Long);
  'totalBytes'?: (number | string | Long);
  'blockSize'?: (number);
}

export interface GetFreeSpaceResponse__Output {
  /**
   * The resolved path that was measured.
   */
  'path': (string);
  /**
   * Bytes an unprivileged writer can still use (statfs f_bavail x f_bsize).
   */
  'availableBytes': (number);
  /**
   * Bytes free including the root reserve (f_bfree x f_bsize).
   */
  'freeBytes': (number);
  'totalBytes': (number);
  'blockSize': (number);
}
