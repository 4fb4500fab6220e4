// Original file: proto/kvmclone/agent/v1/disk.proto

import type { ExtentLayer as _kvmclone_agent_v1_ExtentLayer, ExtentLayer__Output as _kvmclone_agent_v1_ExtentLayer__Output } from '../../../kvmclone/agent/v1/ExtentLayer.js';
import type { Long } from '@grpc/proto-loader';

export interface HashBlocksRequest {
  'path'?: (string);
  /**
   * Power of two from 4096 to 4194304; 0 means 65536.
   */
  'blockSize'?: (number);
  /**
   * First byte to hash; must be a multiple of block_size.
   */
  'offset'?: (number | string | Long);
  /**
   * Bytes to hash from offset; 0 means to the end of the file.
   */
  'length'?: (number | string | Long);
  /**
   * Blocks per response message, 1 to 65536; 0 means 1024.
   */
  'batchBlocks'?: (number);
  /**
   * FILE (default): the file as stored. GUEST: what the guest sees, read
   * through the image's format (a live view is always GUEST).
   */
  'layer'?: (_kvmclone_agent_v1_ExtentLayer);
}

export interface HashBlocksRequest__Output {
  'path': (string);
  /**
   * Power of two from 4096 to 4194304; 0 means 65536.
   */
  'blockSize': (number);
  /**
   * First byte to hash; must be a multiple of block_size.
   */
  'offset': (number);
  /**
   * Bytes to hash from offset; 0 means to the end of the file.
   */
  'length': (number);
  /**
   * Blocks per response message, 1 to 65536; 0 means 1024.
   */
  'batchBlocks': (number);
  /**
   * FILE (default): the file as stored. GUEST: what the guest sees, read
   * through the image's format (a live view is always GUEST).
   */
  'layer': (_kvmclone_agent_v1_ExtentLayer__Output);
}
