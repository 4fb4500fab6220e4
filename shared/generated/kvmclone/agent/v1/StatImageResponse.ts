// Original file: proto/kvmclone/agent/v1/disk.proto

import type { Long } from '@grpc/proto-loader';

export interface StatImageResponse {
  /**
   * The resolved path.
   */
  'path'?: (string);
  /**
   * Format as qemu-img detects it ("raw", "qcow2", ...).
   */
  'format'?: (string);
  /**
   * Guest-visible size.
   */
  'virtualSize'?: (number | string | Long);
  /**
   * Size of the file itself (st_size).
   */
  'fileSize'?: (number | string | Long);
  /**
   * Bytes allocated on the host filesystem (st_blocks x 512).
   */
  'allocatedSize'?: (number | string | Long);
  /**
   * Backing reference as written in the image header, or "".
   */
  'backingReference'?: (string);
  'backingFormat'?: (string);
}

export interface StatImageResponse__Output {
  /**
   * The resolved path.
   */
  'path': (string);
  /**
   * Format as qemu-img detects it ("raw", "qcow2", ...).
   */
  'format': (string);
  /**
   * Guest-visible size.
   */
  'virtualSize': (number);
  /**
   * Size of the file itself (st_size).
   */
  'fileSize': (number);
  /**
   * Bytes allocated on the host filesystem (st_blocks x 512).
   */
  'allocatedSize': (number);
  /**
   * Backing reference as written in the image header, or "".
   */
  'backingReference': (string);
  'backingFormat': (string);
}
