// Original file: proto/kvmclone/agent/v1/info.proto


export interface GetInfoRequest {
}

export interface GetInfoRequest__Output {
}
