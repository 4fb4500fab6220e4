// Original file: proto/kvmclone/agent/v1/domain.proto


export interface DescribeSecretRequest {
  /**
   * The secret's UUID.
   */
  'uuid'?: (string);
}

export interface DescribeSecretRequest__Output {
  /**
   * The secret's UUID.
   */
  'uuid': (string);
}
