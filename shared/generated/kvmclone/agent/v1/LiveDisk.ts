// Original file: proto/kvmclone/agent/v1/transfer.proto

import type { Long } from '@grpc/proto-loader';

export interface LiveDisk {
  /**
   * Guest target ("vda").
   */
  'target'?: (string);
  /**
   * The disk's image on this host.
   */
  'sourcePath'?: (string);
  /**
   * Path to read the point-in-time view with DiskService (StatImage,
   * MapExtents, HashBlocks, DigestImage, ReadRanges) through the peer socket
   * or the agent socket; offsets are guest offsets.
   */
  'viewPath'?: (string);
  /**
   * Format of the disk's image ("qcow2", "raw").
   */
  'format'?: (string);
  'virtualSize'?: (number | string | Long);
  /**
   * Set when MapExtents with dirty_only lists the blocks changed since
   * incremental_from.
   */
  'incremental'?: (boolean);
  /**
   * Bytes read from the view so far (data read from the NBD export).
   */
  'bytesRead'?: (number | string | Long);
}

export interface LiveDisk__Output {
  /**
   * Guest target ("vda").
   */
  'target': (string);
  /**
   * The disk's image on this host.
   */
  'sourcePath': (string);
  /**
   * Path to read the point-in-time view with DiskService (StatImage,
   * MapExtents, HashBlocks, DigestImage, ReadRanges) through the peer socket
   * or the agent socket; offsets are guest offsets.
   */
  'viewPath': (string);
  /**
   * Format of the disk's image ("qcow2", "raw").
   */
  'format': (string);
  'virtualSize': (number);
  /**
   * Set when MapExtents with dirty_only lists the blocks changed since
   * incremental_from.
   */
  'incremental': (boolean);
  /**
   * Bytes read from the view so far (data read from the NBD export).
   */
  'bytesRead': (number);
}
