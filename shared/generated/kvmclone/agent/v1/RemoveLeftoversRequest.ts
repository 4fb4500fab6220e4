// Original file: proto/kvmclone/agent/v1/transfer.proto


export interface RemoveLeftoversRequest {
  /**
   * Only leftovers at least this old (0: any age).
   */
  'minAgeSeconds'?: (number | string);
  /**
   * Say what would be removed, remove nothing.
   */
  'dryRun'?: (boolean);
}

export interface RemoveLeftoversRequest__Output {
  /**
   * Only leftovers at least this old (0: any age).
   */
  'minAgeSeconds': (number);
  /**
   * Say what would be removed, remove nothing.
   */
  'dryRun': (boolean);
}
