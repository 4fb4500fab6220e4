// Original file: proto/kvmclone/agent/v1/disk.proto

import type { ExtentLayer as _kvmclone_agent_v1_ExtentLayer, ExtentLayer__Output as _kvmclone_agent_v1_ExtentLayer__Output } from '../../../kvmclone/agent/v1/ExtentLayer.js';

export interface MapExtentsRequest {
  'path'?: (string);
  'layer'?: (_kvmclone_agent_v1_ExtentLayer);
  /**
   * FILE layer only: read data extents and report all-zero 64 KiB blocks as
   * EXTENT_KIND_ZERO.
   */
  'detectZeroes'?: (boolean);
  /**
   * Live views only: list just the blocks changed since the view's
   * incremental checkpoint (each as DATA, ZERO or HOLE); the rest of the
   * image is left out of the answer instead of covered.
   */
  'dirtyOnly'?: (boolean);
}

export interface MapExtentsRequest__Output {
  'path': (string);
  'layer': (_kvmclone_agent_v1_ExtentLayer__Output);
  /**
   * FILE layer only: read data extents and report all-zero 64 KiB blocks as
   * EXTENT_KIND_ZERO.
   */
  'detectZeroes': (boolean);
  /**
   * Live views only: list just the blocks changed since the view's
   * incremental checkpoint (each as DATA, ZERO or HOLE); the rest of the
   * image is left out of the answer instead of covered.
   */
  'dirtyOnly': (boolean);
}
