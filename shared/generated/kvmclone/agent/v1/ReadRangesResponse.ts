// Original file: proto/kvmclone/agent/v1/disk.proto

import type { DataChunk as _kvmclone_agent_v1_DataChunk, DataChunk__Output as _kvmclone_agent_v1_DataChunk__Output } from '../../../kvmclone/agent/v1/DataChunk.js';
import type { ByteRange as _kvmclone_agent_v1_ByteRange, ByteRange__Output as _kvmclone_agent_v1_ByteRange__Output } from '../../../kvmclone/agent/v1/ByteRange.js';
import type { ReadRangesBatch as _kvmclone_agent_v1_ReadRangesBatch, ReadRangesBatch__Output as _kvmclone_agent_v1_ReadRangesBatch__Output } from '../../../kvmclone/agent/v1/ReadRangesBatch.js';

export interface ReadRangesResponse {
  'data'?: (_kvmclone_agent_v1_DataChunk | null);
  /**
   * A range that reads as zeros (hole or all-zero blocks): no bytes sent.
   */
  'zero'?: (_kvmclone_agent_v1_ByteRange | null);
  /**
   * Several of the above, in file order (only when batch_bytes was asked).
   */
  'batch'?: (_kvmclone_agent_v1_ReadRangesBatch | null);
  'payload'?: "data"|"zero"|"batch";
}

export interface ReadRangesResponse__Output {
  'data'?: (_kvmclone_agent_v1_DataChunk__Output | null);
  /**
   * A range that reads as zeros (hole or all-zero blocks): no bytes sent.
   */
  'zero'?: (_kvmclone_agent_v1_ByteRange__Output | null);
  /**
   * Several of the above, in file order (only when batch_bytes was asked).
   */
  'batch'?: (_kvmclone_agent_v1_ReadRangesBatch__Output | null);
  'payload'?: "data"|"zero"|"batch";
}
