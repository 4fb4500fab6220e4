// Original file: proto/kvmclone/agent/v1/storage.proto

import type { Long } from '@grpc/proto-loader';

export interface StoragePool {
  'name'?: (string);
  'uuid'?: (string);
  /**
   * Pool type, e.g. "dir", "logical".
   */
  'type'?: (string);
  /**
   * Target path of the pool, when it has one.
   */
  'path'?: (string);
  'active'?: (boolean);
  'autostart'?: (boolean);
  'capacityBytes'?: (number | string | Long);
  'allocationBytes'?: (number | string | Long);
  'availableBytes'?: (number | string | Long);
}

export interface StoragePool__Output {
  'name': (string);
  'uuid': (string);
  /**
   * Pool type, e.g. "dir", "logical".
   */
  'type': (string);
  /**
   * Target path of the pool, when it has one.
   */
  'path': (string);
  'active': (boolean);
  'autostart': (boolean);
  'capacityBytes': (number);
  'allocationBytes': (number);
  'availableBytes': (number);
}
