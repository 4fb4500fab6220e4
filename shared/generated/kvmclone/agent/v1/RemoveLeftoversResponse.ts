// Original file: proto/kvmclone/agent/v1/transfer.proto

import type { Leftover as _kvmclone_agent_v1_Leftover, Leftover__Output as _kvmclone_agent_v1_Leftover__Output } from '../../../kvmclone/agent/v1/Leftover.js';

export interface RemoveLeftoversResponse {
  /**
   * Removed (or, with dry_run, would be removed).
   */
  'removed'?: (_kvmclone_agent_v1_Leftover)[];
  /**
   * Kept, each with its keep_reason.
   */
  'kept'?: (_kvmclone_agent_v1_Leftover)[];
}

export interface RemoveLeftoversResponse__Output {
  /**
   * Removed (or, with dry_run, would be removed).
   */
  'removed': (_kvmclone_agent_v1_Leftover__Output)[];
  /**
   * Kept, each with its keep_reason.
   */
  'kept': (_kvmclone_agent_v1_Leftover__Output)[];
}
