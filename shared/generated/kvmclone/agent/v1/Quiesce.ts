// Original file: proto/kvmclone/agent/v1/transfer.proto

export const Quiesce = {
  /**
   * Same as QUIESCE_TRY.
   */
  QUIESCE_UNSPECIFIED: 'QUIESCE_UNSPECIFIED',
  /**
   * Freeze the guest's filesystems when its guest agent answers, else go on
   * crash-consistent.
   */
  QUIESCE_TRY: 'QUIESCE_TRY',
  /**
   * Freeze, or fail with FAILED_PRECONDITION.
   */
  QUIESCE_REQUIRE: 'QUIESCE_REQUIRE',
  /**
   * Never freeze: crash-consistent.
   */
  QUIESCE_OFF: 'QUIESCE_OFF',
} as const;

export type Quiesce =
  /**
   * Same as QUIESCE_TRY.
   */
  | 'QUIESCE_UNSPECIFIED'
  | 0
  /**
   * Freeze the guest's filesystems when its guest agent answers, else go on
   * crash-consistent.
   */
  | 'QUIESCE_TRY'
  | 1
  /**
   * Freeze, or fail with FAILED_PRECONDITION.
   */
  | 'QUIESCE_REQUIRE'
  | 2
  /**
   * Never freeze: crash-consistent.
   */
  | 'QUIESCE_OFF'
  | 3

export type Quiesce__Output = typeof Quiesce[keyof typeof Quiesce]
