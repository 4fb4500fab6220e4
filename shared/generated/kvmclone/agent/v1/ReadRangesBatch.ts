// Original file: proto/kvmclone/agent/v1/disk.proto

import type { ReadRangesResponse as _kvmclone_agent_v1_ReadRangesResponse, ReadRangesResponse__Output as _kvmclone_agent_v1_ReadRangesResponse__Output } from '../../../kvmclone/agent/v1/ReadRangesResponse.js';

/**
 * Pieces of a ReadRanges stream sent together; each one data or zero, never a batch.
 */
export interface ReadRangesBatch {
  'pieces'?: (_kvmclone_agent_v1_ReadRangesResponse)[];
}

/**
 * Pieces of a ReadRanges stream sent together; each one data or zero, never a batch.
 */
export interface ReadRangesBatch__Output {
  'pieces': (_kvmclone_agent_v1_ReadRangesResponse__Output)[];
}
