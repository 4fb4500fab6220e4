// Original file: proto/kvmclone/agent/v1/transfer.proto


export interface PruneCheckpointsResponse {
  'deleted'?: (string)[];
}

export interface PruneCheckpointsResponse__Output {
  'deleted': (string)[];
}
