// Original file: proto/kvmclone/agent/v1/disk.proto

import type { WriteOpen as _kvmclone_agent_v1_WriteOpen, WriteOpen__Output as _kvmclone_agent_v1_WriteOpen__Output } from '../../../kvmclone/agent/v1/WriteOpen.js';
import type { DataChunk as _kvmclone_agent_v1_DataChunk, DataChunk__Output as _kvmclone_agent_v1_DataChunk__Output } from '../../../kvmclone/agent/v1/DataChunk.js';
import type { ByteRange as _kvmclone_agent_v1_ByteRange, ByteRange__Output as _kvmclone_agent_v1_ByteRange__Output } from '../../../kvmclone/agent/v1/ByteRange.js';

export interface WriteRangesRequest {
  /**
   * First message, exactly once.
   */
  'open'?: (_kvmclone_agent_v1_WriteOpen | null);
  /**
   * A chunk; its hash is checked before it is written (DATA_LOSS if not).
   */
  'data'?: (_kvmclone_agent_v1_DataChunk | null);
  /**
   * A range that must read as zeros: left or made a hole, never written.
   */
  'zero'?: (_kvmclone_agent_v1_ByteRange | null);
  'payload'?: "open"|"data"|"zero";
}

export interface WriteRangesRequest__Output {
  /**
   * First message, exactly once.
   */
  'open'?: (_kvmclone_agent_v1_WriteOpen__Output | null);
  /**
   * A chunk; its hash is checked before it is written (DATA_LOSS if not).
   */
  'data'?: (_kvmclone_agent_v1_DataChunk__Output | null);
  /**
   * A range that must read as zeros: left or made a hole, never written.
   */
  'zero'?: (_kvmclone_agent_v1_ByteRange__Output | null);
  'payload'?: "open"|"data"|"zero";
}
