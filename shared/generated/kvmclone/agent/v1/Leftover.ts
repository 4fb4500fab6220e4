// Original file: proto/kvmclone/agent/v1/transfer.proto

import type { LeftoverKind as _kvmclone_agent_v1_LeftoverKind, LeftoverKind__Output as _kvmclone_agent_v1_LeftoverKind__Output } from '../../../kvmclone/agent/v1/LeftoverKind.js';
import type { Long } from '@grpc/proto-loader';

export interface Leftover {
  'kind'?: (_kvmclone_agent_v1_LeftoverKind);
  /**
   * Absolute path; for a lock, the VM name.
   */
  'path'?: (string);
  /**
   * The operation it belongs to; empty when the file does not record one
   * (made by an older agent).
   */
  'operationId'?: (string);
  /**
   * Seconds since it was last modified (a lock: since it was taken).
   */
  'ageSeconds'?: (number | string);
  /**
   * True while that operation runs on this agent (a PullImage, WriteRanges,
   * HoldLock, OpenLiveView or OpenTicket call for it is open), or the file is
   * in use (a staging file or journal locked by a writer, a peer socket
   * someone listens on, a scratch file of an open view).
   */
  'running'?: (boolean);
  /**
   * Journals: complete and committed, waiting to be rolled forward.
   */
  'committed'?: (boolean);
  /**
   * Bytes it takes on disk (allocated; 0 for sockets and locks).
   */
  'sizeBytes'?: (number | string | Long);
  /**
   * Why it would be kept by RemoveLeftovers with the same age limit (empty:
   * it would be removed).
   */
  'keepReason'?: (string);
}

export interface Leftover__Output {
  'kind': (_kvmclone_agent_v1_LeftoverKind__Output);
  /**
   * Absolute path; for a lock, the VM name.
   */
  'path': (string);
  /**
   * The operation it belongs to; empty when the file does not record one
   * (made by an older agent).
   */
  'operationId': (string);
  /**
   * Seconds since it was last modified (a lock: since it was taken).
   */
  'ageSeconds': (number);
  /**
   * True while that operation runs on this agent (a PullImage, WriteRanges,
   * HoldLock, OpenLiveView or OpenTicket call for it is open), or the file is
   * in use (a staging file or journal locked by a writer, a peer socket
   * someone listens on, a scratch file of an open view).
   */
  'running': (boolean);
  /**
   * Journals: complete and committed, waiting to be rolled forward.
   */
  'committed': (boolean);
  /**
   * Bytes it takes on disk (allocated; 0 for sockets and locks).
   */
  'sizeBytes': (number);
  /**
   * Why it would be kept by RemoveLeftovers with the same age limit (empty:
   * it would be removed).
   */
  'keepReason': (string);
}
