// Original file: proto/kvmclone/agent/v1/disk.proto


export interface AbortStagingResponse {
  'removed'?: (boolean);
}

export interface AbortStagingResponse__Output {
  'removed': (boolean);
}
