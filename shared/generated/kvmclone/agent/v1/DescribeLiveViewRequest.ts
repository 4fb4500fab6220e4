// Original file: proto/kvmclone/agent/v1/transfer.proto


export interface DescribeLiveViewRequest {
  'operationId'?: (string);
}

export interface DescribeLiveViewRequest__Output {
  'operationId': (string);
}
