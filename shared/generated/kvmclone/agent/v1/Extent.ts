// Original file: proto/kvmclone/agent/v1/disk.proto

import type { ExtentKind as _kvmclone_agent_v1_ExtentKind, ExtentKind__Output as _kvmclone_agent_v1_ExtentKind__Output } from '../../../kvmclone/agent/v1/ExtentKind.js';
import type { Long } from '@grpc/proto-loader';

export interface Extent {
  'offset'?: (number | string | Long);
  'length'?: (number | string | Long);
  'kind'?: (_kvmclone_agent_v1_ExtentKind);
}

export interface Extent__Output {
  'offset': (number);
  'length': (number);
  'kind': (_kvmclone_agent_v1_ExtentKind__Output);
}
