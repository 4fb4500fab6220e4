// Original file: proto/kvmclone/agent/v1/disk.proto


export interface RebaseStagingResponse {
  'backingReference'?: (string);
}

export interface RebaseStagingResponse__Output {
  'backingReference': (string);
}
