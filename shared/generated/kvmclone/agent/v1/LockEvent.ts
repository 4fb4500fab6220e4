// Original file: proto/kvmclone/agent/v1/transfer.proto


export interface LockEvent {
  /**
   * True once the lock is held (first message).
   */
  'held'?: (boolean);
}

export interface LockEvent__Output {
  /**
   * True once the lock is held (first message).
   */
  'held': (boolean);
}
