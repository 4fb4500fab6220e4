// Original file: proto/kvmclone/agent/v1/transfer.proto


export interface ListRestorePointsRequest {
  /**
   * The image (a path under the image roots).
   */
  'targetPath'?: (string);
}

export interface ListRestorePointsRequest__Output {
  /**
   * The image (a path under the image roots).
   */
  'targetPath': (string);
}
