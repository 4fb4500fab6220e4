// Original file: proto/kvmclone/agent/v1/domain.proto


export interface DestroyDomainRequest {
  'name'?: (string);
}

export interface DestroyDomainRequest__Output {
  'name': (string);
}
