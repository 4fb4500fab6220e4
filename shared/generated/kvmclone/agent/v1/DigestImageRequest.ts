// Original file: proto/kvmclone/agent/v1/disk.proto


export interface DigestImageRequest {
  'path'?: (string);
}

export interface DigestImageRequest__Output {
  'path': (string);
}
