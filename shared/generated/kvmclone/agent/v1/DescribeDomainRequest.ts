// Original file: proto/kvmclone/agent/v1/domain.proto


export interface DescribeDomainRequest {
  'name'?: (string);
}

export interface DescribeDomainRequest__Output {
  'name': (string);
}
