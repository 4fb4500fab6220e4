// Original file: proto/kvmclone/agent/v1/domain.proto


export interface StartDomainRequest {
  'name'?: (string);
}

export interface StartDomainRequest__Output {
  'name': (string);
}
