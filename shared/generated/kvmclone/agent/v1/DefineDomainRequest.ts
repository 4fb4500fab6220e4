// Original file: proto/kvmclone/agent/v1/domain.proto


export interface DefineDomainRequest {
  'xml'?: (string);
  /**
   * The operation (clone, sync) this definition is part of. While an
   * operation holds the lock of the VM name (HoldLock), DefineDomain of that
   * name is refused with FAILED_PRECONDITION unless this is its id.
   */
  'operationId'?: (string);
}

export interface DefineDomainRequest__Output {
  'xml': (string);
  /**
   * The operation (clone, sync) this definition is part of. While an
   * operation holds the lock of the VM name (HoldLock), DefineDomain of that
   * name is refused with FAILED_PRECONDITION unless this is its id.
   */
  'operationId': (string);
}
