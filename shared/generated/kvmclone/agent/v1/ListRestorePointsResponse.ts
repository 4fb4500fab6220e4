// Original file: proto/kvmclone/agent/v1/transfer.proto

import type { RestorePointInfo as _kvmclone_agent_v1_RestorePointInfo, RestorePointInfo__Output as _kvmclone_agent_v1_RestorePointInfo__Output } from '../../../kvmclone/agent/v1/RestorePointInfo.js';
import type { Long } from '@grpc/proto-loader';

export interface ListRestorePointsResponse {
  /**
   * Newest first.
   */
  'points'?: (_kvmclone_agent_v1_RestorePointInfo)[];
  /**
   * Bytes all of them take on disk.
   */
  'totalBytes'?: (number | string | Long);
}

export interface ListRestorePointsResponse__Output {
  /**
   * Newest first.
   */
  'points': (_kvmclone_agent_v1_RestorePointInfo__Output)[];
  /**
   * Bytes all of them take on disk.
   */
  'totalBytes': (number);
}
