// Original file: proto/kvmclone/agent/v1/domain.proto

import type { StoragePolicy as _kvmclone_agent_v1_StoragePolicy, StoragePolicy__Output as _kvmclone_agent_v1_StoragePolicy__Output } from '../../../kvmclone/agent/v1/StoragePolicy.js';

export interface UndefineDomainRequest {
  'name'?: (string);
  'storage'?: (_kvmclone_agent_v1_StoragePolicy);
}

export interface UndefineDomainRequest__Output {
  'name': (string);
  'storage': (_kvmclone_agent_v1_StoragePolicy__Output);
}
