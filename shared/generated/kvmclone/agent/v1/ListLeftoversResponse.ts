// Original file: proto/kvmclone/agent/v1/transfer.proto

import type { Leftover as _kvmclone_agent_v1_Leftover, Leftover__Output as _kvmclone_agent_v1_Leftover__Output } from '../../../kvmclone/agent/v1/Leftover.js';

export interface ListLeftoversResponse {
  'leftovers'?: (_kvmclone_agent_v1_Leftover)[];
}

export interface ListLeftoversResponse__Output {
  'leftovers': (_kvmclone_agent_v1_Leftover__Output)[];
}
