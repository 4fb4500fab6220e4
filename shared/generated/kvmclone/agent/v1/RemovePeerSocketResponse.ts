// Original file: proto/kvmclone/agent/v1/transfer.proto


export interface RemovePeerSocketResponse {
  /**
   * False when there was nothing to remove.
   */
  'removed'?: (boolean);
}

export interface RemovePeerSocketResponse__Output {
  /**
   * False when there was nothing to remove.
   */
  'removed': (boolean);
}
