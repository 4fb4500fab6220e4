// Original file: proto/kvmclone/agent/v1/disk.proto


export interface RemoveImageResponse {
  'removed'?: (boolean);
}

export interface RemoveImageResponse__Output {
  'removed': (boolean);
}
