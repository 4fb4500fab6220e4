// Original file: proto/kvmclone/agent/v1/transfer.proto

/**
 * What kind of thing an operation left behind.
 */
export const LeftoverKind = {
  LEFTOVER_KIND_UNSPECIFIED: 'LEFTOVER_KIND_UNSPECIFIED',
  /**
   * .<image>.<staging id>.kvmclone-staging beside a clone's target.
   */
  LEFTOVER_KIND_STAGING: 'LEFTOVER_KIND_STAGING',
  /**
   * .<image>.kvmclone-journal beside a synced image.
   */
  LEFTOVER_KIND_JOURNAL: 'LEFTOVER_KIND_JOURNAL',
  /**
   * <forward dir>/peer-<operation>.sock, bound by a controller's sshd.
   */
  LEFTOVER_KIND_PEER_SOCKET: 'LEFTOVER_KIND_PEER_SOCKET',
  /**
   * .kvmclone-scratch.<operation>.<disk>.qcow2 of a live view's backup job.
   */
  LEFTOVER_KIND_SCRATCH: 'LEFTOVER_KIND_SCRATCH',
  /**
   * <runtime dir>/live/backup-<operation>.sock, a backup job's NBD socket.
   */
  LEFTOVER_KIND_BACKUP_SOCKET: 'LEFTOVER_KIND_BACKUP_SOCKET',
  /**
   * An operation lock held by an open HoldLock call (never removed: it ends with its call).
   */
  LEFTOVER_KIND_LOCK: 'LEFTOVER_KIND_LOCK',
} as const;

/**
 * What kind of thing an operation left behind.
 */
export type LeftoverKind =
  | 'LEFTOVER_KIND_UNSPECIFIED'
  | 0
  /**
   * .<image>.<staging id>.kvmclone-staging beside a clone's target.
   */
  | 'LEFTOVER_KIND_STAGING'
  | 1
  /**
   * .<image>.kvmclone-journal beside a synced image.
   */
  | 'LEFTOVER_KIND_JOURNAL'
  | 2
  /**
   * <forward dir>/peer-<operation>.sock, bound by a controller's sshd.
   */
  | 'LEFTOVER_KIND_PEER_SOCKET'
  | 3
  /**
   * .kvmclone-scratch.<operation>.<disk>.qcow2 of a live view's backup job.
   */
  | 'LEFTOVER_KIND_SCRATCH'
  | 4
  /**
   * <runtime dir>/live/backup-<operation>.sock, a backup job's NBD socket.
   */
  | 'LEFTOVER_KIND_BACKUP_SOCKET'
  | 5
  /**
   * An operation lock held by an open HoldLock call (never removed: it ends with its call).
   */
  | 'LEFTOVER_KIND_LOCK'
  | 6

/**
 * What kind of thing an operation left behind.
 */
export type LeftoverKind__Output = typeof LeftoverKind[keyof typeof LeftoverKind]
