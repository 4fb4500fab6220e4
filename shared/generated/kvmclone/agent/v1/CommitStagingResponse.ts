// Original file: proto/kvmclone/agent/v1/disk.proto

import type { Long } from '@grpc/proto-loader';

export interface CommitStagingResponse {
  'path'?: (string);
  'size'?: (number | string | Long);
  'allocatedSize'?: (number | string | Long);
}

export interface CommitStagingResponse__Output {
  'path': (string);
  'size': (number);
  'allocatedSize': (number);
}
