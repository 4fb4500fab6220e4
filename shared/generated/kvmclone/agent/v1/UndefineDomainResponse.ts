// Original file: proto/kvmclone/agent/v1/domain.proto


export interface UndefineDomainResponse {
  /**
   * Files removed under STORAGE_POLICY_REMOVE.
   */
  'removedPaths'?: (string)[];
}

export interface UndefineDomainResponse__Output {
  /**
   * Files removed under STORAGE_POLICY_REMOVE.
   */
  'removedPaths': (string)[];
}
