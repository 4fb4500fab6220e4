// Original file: proto/kvmclone/agent/v1/domain.proto


export interface ResumeDomainRequest {
  'name'?: (string);
  /**
   * As StartDomainRequest.operation_id: a VM locked by an operation resumes
   * only as part of that operation.
   */
  'operationId'?: (string);
}

export interface ResumeDomainRequest__Output {
  'name': (string);
  /**
   * As StartDomainRequest.operation_id: a VM locked by an operation resumes
   * only as part of that operation.
   */
  'operationId': (string);
}
