// Original file: proto/kvmclone/agent/v1/transfer.proto


export interface HoldLockRequest {
  'vmName'?: (string);
  'operationId'?: (string);
  /**
   * Free text shown to whoever finds the lock held, e.g. "clone to hostb".
   */
  'purpose'?: (string);
}

export interface HoldLockRequest__Output {
  'vmName': (string);
  'operationId': (string);
  /**
   * Free text shown to whoever finds the lock held, e.g. "clone to hostb".
   */
  'purpose': (string);
}
