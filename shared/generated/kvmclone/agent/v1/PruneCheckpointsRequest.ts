// Original file: proto/kvmclone/agent/v1/transfer.proto


export interface PruneCheckpointsRequest {
  'vmName'?: (string);
  'replicaId'?: (string);
  /**
   * The newest checkpoint the destination confirmed; older ones of the
   * replica are deleted. "" deletes all of the replica's checkpoints.
   */
  'keep'?: (string);
}

export interface PruneCheckpointsRequest__Output {
  'vmName': (string);
  'replicaId': (string);
  /**
   * The newest checkpoint the destination confirmed; older ones of the
   * replica are deleted. "" deletes all of the replica's checkpoints.
   */
  'keep': (string);
}
