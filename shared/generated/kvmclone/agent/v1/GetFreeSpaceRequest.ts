// Original file: proto/kvmclone/agent/v1/storage.proto


export interface GetFreeSpaceRequest {
  /**
   * Absolute path under an allowed image root (a file or a directory; a path
   * that does not exist yet is measured at its nearest existing parent).
   */
  'path'?: (string);
}

export interface GetFreeSpaceRequest__Output {
  /**
   * Absolute path under an allowed image root (a file or a directory; a path
   * that does not exist yet is measured at its nearest existing parent).
   */
  'path': (string);
}
