// Original file: proto/kvmclone/agent/v1/transfer.proto


export interface RemoveRestorePointsResponse {
  /**
   * Ids of the points removed.
   */
  'removed'?: (string)[];
}

export interface RemoveRestorePointsResponse__Output {
  /**
   * Ids of the points removed.
   */
  'removed': (string)[];
}
