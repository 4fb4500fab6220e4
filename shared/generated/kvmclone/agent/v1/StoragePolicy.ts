// Original file: proto/kvmclone/agent/v1/domain.proto

/**
 * What to do with a domain's disk images when it is undefined. There is no
 * default: a request must say, so storage is never removed by accident.
 */
export const StoragePolicy = {
  STORAGE_POLICY_UNSPECIFIED: 'STORAGE_POLICY_UNSPECIFIED',
  STORAGE_POLICY_KEEP: 'STORAGE_POLICY_KEEP',
  /**
   * Remove disk images (only those under the allowed roots), NVRAM and TPM state.
   */
  STORAGE_POLICY_REMOVE: 'STORAGE_POLICY_REMOVE',
} as const;

/**
 * What to do with a domain's disk images when it is undefined. There is no
 * default: a request must say, so storage is never removed by accident.
 */
export type StoragePolicy =
  | 'STORAGE_POLICY_UNSPECIFIED'
  | 0
  | 'STORAGE_POLICY_KEEP'
  | 1
  /**
   * Remove disk images (only those under the allowed roots), NVRAM and TPM state.
   */
  | 'STORAGE_POLICY_REMOVE'
  | 2

/**
 * What to do with a domain's disk images when it is undefined. There is no
 * default: a request must say, so storage is never removed by accident.
 */
export type StoragePolicy__Output = typeof StoragePolicy[keyof typeof StoragePolicy]
