// Original file: proto/kvmclone/agent/v1/transfer.proto


export interface ListLeftoversRequest {
}

export interface ListLeftoversRequest__Output {
}
