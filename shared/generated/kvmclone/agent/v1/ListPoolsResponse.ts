// Original file: proto/kvmclone/agent/v1/storage.proto

import type { StoragePool as _kvmclone_agent_v1_StoragePool, StoragePool__Output as _kvmclone_agent_v1_StoragePool__Output } from '../../../kvmclone/agent/v1/StoragePool.js';

export interface ListPoolsResponse {
  'pools'?: (_kvmclone_agent_v1_StoragePool)[];
}

export interface ListPoolsResponse__Output {
  'pools': (_kvmclone_agent_v1_StoragePool__Output)[];
}
