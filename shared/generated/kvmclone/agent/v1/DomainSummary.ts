// Original file: proto/kvmclone/agent/v1/domain.proto

import type { DomainState as _kvmclone_agent_v1_DomainState, DomainState__Output as _kvmclone_agent_v1_DomainState__Output } from '../../../kvmclone/agent/v1/DomainState.js';
import type { Long } from '@grpc/proto-loader';

export interface DomainSummary {
  'name'?: (string);
  'uuid'?: (string);
  'state'?: (_kvmclone_agent_v1_DomainState);
  'persistent'?: (boolean);
  'vcpus'?: (number);
  'memoryBytes'?: (number | string | Long);
}

export interface DomainSummary__Output {
  'name': (string);
  'uuid': (string);
  'state': (_kvmclone_agent_v1_DomainState__Output);
  'persistent': (boolean);
  'vcpus': (number);
  'memoryBytes': (number);
}
