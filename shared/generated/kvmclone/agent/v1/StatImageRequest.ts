// Original file: proto/kvmclone/agent/v1/disk.proto


export interface StatImageRequest {
  'path'?: (string);
}

export interface StatImageRequest__Output {
  'path': (string);
}
