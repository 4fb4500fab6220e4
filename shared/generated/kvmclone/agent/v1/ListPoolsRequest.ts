// Original file: proto/kvmclone/agent/v1/storage.proto


export interface ListPoolsRequest {
}

export interface ListPoolsRequest__Output {
}
