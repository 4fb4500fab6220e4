// Original file: proto/kvmclone/agent/v1/disk.proto


export interface RebaseStagingRequest {
  'targetPath'?: (string);
  'stagingId'?: (string);
  /**
   * The new backing file: an existing image under the roots, or the target
   * path of another staging file of the same operation (committed later).
   */
  'backingPath'?: (string);
  /**
   * Format of the backing file ("qcow2", "raw").
   */
  'backingFormat'?: (string);
}

export interface RebaseStagingRequest__Output {
  'targetPath': (string);
  'stagingId': (string);
  /**
   * The new backing file: an existing image under the roots, or the target
   * path of another staging file of the same operation (committed later).
   */
  'backingPath': (string);
  /**
   * Format of the backing file ("qcow2", "raw").
   */
  'backingFormat': (string);
}
