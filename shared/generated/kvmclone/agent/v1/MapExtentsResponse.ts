// Original file: proto/kvmclone/agent/v1/disk.proto

import type { Extent as _kvmclone_agent_v1_Extent, Extent__Output as _kvmclone_agent_v1_Extent__Output } from '../../../kvmclone/agent/v1/Extent.js';
import type { Long } from '@grpc/proto-loader';

export interface MapExtentsResponse {
  /**
   * Adjacent extents of one kind are merged; batches arrive in offset order
   * and together cover [0, size).
   */
  'extents'?: (_kvmclone_agent_v1_Extent)[];
  /**
   * Size of the layer mapped: file size (FILE) or virtual size (GUEST).
   */
  'size'?: (number | string | Long);
}

export interface MapExtentsResponse__Output {
  /**
   * Adjacent extents of one kind are merged; batches arrive in offset order
   * and together cover [0, size).
   */
  'extents': (_kvmclone_agent_v1_Extent__Output)[];
  /**
   * Size of the layer mapped: file size (FILE) or virtual size (GUEST).
   */
  'size': (number);
}
