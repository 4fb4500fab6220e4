// Original file: proto/kvmclone/agent/v1/domain.proto

import type { Long } from '@grpc/proto-loader';

export interface BackingImage {
  'path'?: (string);
  'format'?: (string);
  'virtualSize'?: (number | string | Long);
  'allocatedSize'?: (number | string | Long);
  /**
   * The backing reference exactly as written in the image header (may be
   * relative to the image's directory).
   */
  'backingReference'?: (string);
}

export interface BackingImage__Output {
  'path': (string);
  'format': (string);
  'virtualSize': (number);
  'allocatedSize': (number);
  /**
   * The backing reference exactly as written in the image header (may be
   * relative to the image's directory).
   */
  'backingReference': (string);
}
