// Original file: proto/kvmclone/agent/v1/transfer.proto


export interface RemoveRestorePointsRequest {
  'targetPath'?: (string);
  /**
   * Keep the newest `keep` points; the older ones are removed.
   */
  'keep'?: (number);
}

export interface RemoveRestorePointsRequest__Output {
  'targetPath': (string);
  /**
   * Keep the newest `keep` points; the older ones are removed.
   */
  'keep': (number);
}
