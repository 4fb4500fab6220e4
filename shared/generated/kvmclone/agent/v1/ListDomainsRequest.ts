// Original file: proto/kvmclone/agent/v1/domain.proto


export interface ListDomainsRequest {
}

export interface ListDomainsRequest__Output {
}
