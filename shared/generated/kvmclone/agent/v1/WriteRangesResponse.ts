// Original file: proto/kvmclone/agent/v1/disk.proto

import type { Long } from '@grpc/proto-loader';

export interface WriteRangesResponse {
  'stagingId'?: (string);
  'stagingPath'?: (string);
  'bytesWritten'?: (number | string | Long);
  'chunksWritten'?: (number | string | Long);
  'zeroBytes'?: (number | string | Long);
}

export interface WriteRangesResponse__Output {
  'stagingId': (string);
  'stagingPath': (string);
  'bytesWritten': (number);
  'chunksWritten': (number);
  'zeroBytes': (number);
}
