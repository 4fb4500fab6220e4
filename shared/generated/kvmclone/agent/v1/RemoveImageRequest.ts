// Original file: proto/kvmclone/agent/v1/disk.proto


export interface RemoveImageRequest {
  'path'?: (string);
}

export interface RemoveImageRequest__Output {
  'path': (string);
}
