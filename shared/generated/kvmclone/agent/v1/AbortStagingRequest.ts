// Original file: proto/kvmclone/agent/v1/disk.proto


export interface AbortStagingRequest {
  'targetPath'?: (string);
  'stagingId'?: (string);
}

export interface AbortStagingRequest__Output {
  'targetPath': (string);
  'stagingId': (string);
}
