// Original file: proto/kvmclone/agent/v1/domain.proto


export interface DefineDomainRequest {
  'xml'?: (string);
}

export interface DefineDomainRequest__Output {
  'xml': (string);
}
