// Original file: proto/kvmclone/agent/v1/domain.proto


export interface StartDomainRequest {
  'name'?: (string);
  /**
   * As DefineDomainRequest.operation_id: a VM locked by an operation starts
   * only as part of that operation.
   */
  'operationId'?: (string);
}

export interface StartDomainRequest__Output {
  'name': (string);
  /**
   * As DefineDomainRequest.operation_id: a VM locked by an operation starts
   * only as part of that operation.
   */
  'operationId': (string);
}
