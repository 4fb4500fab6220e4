// Original file: proto/kvmclone/agent/v1/transfer.proto


export interface RestorePointRequest {
  'targetPath'?: (string);
  /**
   * The point to roll back to (RestorePointInfo.id).
   */
  'pointId'?: (string);
  /**
   * The VM whose disk the image is: it must be shut off (checked before the
   * first point is applied and before each next one). "" skips the check.
   */
  'destVm'?: (string);
  'operationId'?: (string);
}

export interface RestorePointRequest__Output {
  'targetPath': (string);
  /**
   * The point to roll back to (RestorePointInfo.id).
   */
  'pointId': (string);
  /**
   * The VM whose disk the image is: it must be shut off (checked before the
   * first point is applied and before each next one). "" skips the check.
   */
  'destVm': (string);
  'operationId': (string);
}
