// Original file: proto/kvmclone/agent/v1/disk.proto

import type { Long } from '@grpc/proto-loader';

export interface WriteOpen {
  /**
   * Final path of the image. It must not exist unless the commit replaces it.
   */
  'targetPath'?: (string);
  /**
   * Size of the image file; writes past it are refused with OUT_OF_RANGE.
   */
  'size'?: (number | string | Long);
  /**
   * Reopen the staging file of an earlier, interrupted write (resume);
   * empty creates a new one.
   */
  'stagingId'?: (string);
}

export interface WriteOpen__Output {
  /**
   * Final path of the image. It must not exist unless the commit replaces it.
   */
  'targetPath': (string);
  /**
   * Size of the image file; writes past it are refused with OUT_OF_RANGE.
   */
  'size': (number);
  /**
   * Reopen the staging file of an earlier, interrupted write (resume);
   * empty creates a new one.
   */
  'stagingId': (string);
}
