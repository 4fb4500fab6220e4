// Original file: proto/kvmclone/agent/v1/domain.proto

import type { BackingImage as _kvmclone_agent_v1_BackingImage, BackingImage__Output as _kvmclone_agent_v1_BackingImage__Output } from '../../../kvmclone/agent/v1/BackingImage.js';
import type { Long } from '@grpc/proto-loader';

export interface DiskInfo {
  /**
   * Guest target device, e.g. "vda".
   */
  'target'?: (string);
  /**
   * "disk", "cdrom", "floppy" or "lun".
   */
  'device'?: (string);
  'path'?: (string);
  /**
   * Image format, e.g. "qcow2", "raw".
   */
  'format'?: (string);
  'virtualSize'?: (number | string | Long);
  /**
   * Bytes allocated on the host filesystem.
   */
  'allocatedSize'?: (number | string | Long);
  /**
   * Backing chain, nearest first (empty for a standalone image).
   */
  'backingChain'?: (_kvmclone_agent_v1_BackingImage)[];
  'readonly'?: (boolean);
  'shareable'?: (boolean);
  /**
   * The backing reference exactly as written in the image header.
   */
  'backingReference'?: (string);
}

export interface DiskInfo__Output {
  /**
   * Guest target device, e.g. "vda".
   */
  'target': (string);
  /**
   * "disk", "cdrom", "floppy" or "lun".
   */
  'device': (string);
  'path': (string);
  /**
   * Image format, e.g. "qcow2", "raw".
   */
  'format': (string);
  'virtualSize': (number);
  /**
   * Bytes allocated on the host filesystem.
   */
  'allocatedSize': (number);
  /**
   * Backing chain, nearest first (empty for a standalone image).
   */
  'backingChain': (_kvmclone_agent_v1_BackingImage__Output)[];
  'readonly': (boolean);
  'shareable': (boolean);
  /**
   * The backing reference exactly as written in the image header.
   */
  'backingReference': (string);
}
