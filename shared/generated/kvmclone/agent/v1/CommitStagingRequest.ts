// Original file: proto/kvmclone/agent/v1/disk.proto


export interface CommitStagingRequest {
  'targetPath'?: (string);
  'stagingId'?: (string);
  /**
   * Replace an existing target; otherwise an existing target is ALREADY_EXISTS.
   */
  'replace'?: (boolean);
}

export interface CommitStagingRequest__Output {
  'targetPath': (string);
  'stagingId': (string);
  /**
   * Replace an existing target; otherwise an existing target is ALREADY_EXISTS.
   */
  'replace': (boolean);
}
