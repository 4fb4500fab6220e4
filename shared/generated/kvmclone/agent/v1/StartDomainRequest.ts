// Original file: proto/kvmclone/agent/v1/domain.proto


export interface StartDomainRequest {
  'name'?: (string);
  /**
   * As DefineDomainRequest.operation_id: a VM locked by an operation starts
   * only as part of that operation.
   */
  'operationId'?: (string);
  /**
   * Start with the CPUs paused: the guest has not run one instruction when
   * the call returns, so what the caller does next (a checkpoint at a
   * failover) sees the disks as they were at the start. ResumeDomain lets it
   * run. Capability domain.start-paused.
   */
  'paused'?: (boolean);
}

export interface StartDomainRequest__Output {
  'name': (string);
  /**
   * As DefineDomainRequest.operation_id: a VM locked by an operation starts
   * only as part of that operation.
   */
  'operationId': (string);
  /**
   * Start with the CPUs paused: the guest has not run one instruction when
   * the call returns, so what the caller does next (a checkpoint at a
   * failover) sees the disks as they were at the start. ResumeDomain lets it
   * run. Capability domain.start-paused.
   */
  'paused': (boolean);
}
