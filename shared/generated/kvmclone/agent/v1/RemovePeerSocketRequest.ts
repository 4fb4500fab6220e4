// Original file: proto/kvmclone/agent/v1/transfer.proto


export interface RemovePeerSocketRequest {
  'path'?: (string);
}

export interface RemovePeerSocketRequest__Output {
  'path': (string);
}
