// Original file: proto/kvmclone/agent/v1/info.proto

import type { AuditCaller as _kvmclone_agent_v1_AuditCaller, AuditCaller__Output as _kvmclone_agent_v1_AuditCaller__Output } from '../../../kvmclone/agent/v1/AuditCaller.js';

/**
 * One record of the audit trail (the file's JSON line, version 1).
 */
export interface AuditEntry {
  /**
   * Record version.
   */
  'v'?: (number);
  /**
   * When the call ended (ISO 8601, UTC).
   */
  'time'?: (string);
  /**
   * Full method path, e.g. "/kvmclone.agent.v1.DiskService/RemoveImage".
   */
  'method'?: (string);
  /**
   * Absent when the agent did not see the caller's credentials.
   */
  'caller'?: (_kvmclone_agent_v1_AuditCaller | null);
  'operationId'?: (string);
  'vm'?: (string);
  'paths'?: (string)[];
  /**
   * "ok", "error" or "cancelled".
   */
  'outcome'?: (string);
  /**
   * gRPC status name, e.g. "OK", "INVALID_ARGUMENT".
   */
  'code'?: (string);
  /**
   * The status message the caller got ("" on OK).
   */
  'message'?: (string);
  'durationMs'?: (number | string);
}

/**
 * One record of the audit trail (the file's JSON line, version 1).
 */
export interface AuditEntry__Output {
  /**
   * Record version.
   */
  'v': (number);
  /**
   * When the call ended (ISO 8601, UTC).
   */
  'time': (string);
  /**
   * Full method path, e.g. "/kvmclone.agent.v1.DiskService/RemoveImage".
   */
  'method': (string);
  /**
   * Absent when the agent did not see the caller's credentials.
   */
  'caller': (_kvmclone_agent_v1_AuditCaller__Output | null);
  'operationId': (string);
  'vm': (string);
  'paths': (string)[];
  /**
   * "ok", "error" or "cancelled".
   */
  'outcome': (string);
  /**
   * gRPC status name, e.g. "OK", "INVALID_ARGUMENT".
   */
  'code': (string);
  /**
   * The status message the caller got ("" on OK).
   */
  'message': (string);
  'durationMs': (number);
}
