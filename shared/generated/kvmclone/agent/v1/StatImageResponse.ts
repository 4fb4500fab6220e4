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
  /**
   * The file's identity (st_dev, st_ino; mtime and ctime in ns, decimal): a copy
   * whose identity changed since it was last synced was touched by someone
   * else.
   */
  'dev'?: (number | string | Long);
  'ino'?: (number | string | Long);
  'mtimeNs'?: (string);
  'ctimeNs'?: (string);
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
  /**
   * The file's identity (st_dev, st_ino; mtime and ctime in ns, decimal): a copy
   * whose identity changed since it was last synced was touched by someone
   * else.
   */
  'dev': (number);
  'ino': (number);
  'mtimeNs': (string);
  'ctimeNs': (string);
}
