// Original file: proto/kvmclone/agent/v1/domain.proto


export interface DescribeSecretResponse {
  'defined'?: (boolean);
  /**
   * Its usage type ("vtpm", "volume", "ceph", ...), or "" when not defined.
   */
  'usageType'?: (string);
}

export interface DescribeSecretResponse__Output {
  'defined': (boolean);
  /**
   * Its usage type ("vtpm", "volume", "ceph", ...), or "" when not defined.
   */
  'usageType': (string);
}
