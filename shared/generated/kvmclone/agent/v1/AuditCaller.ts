// Original file: proto/kvmclone/agent/v1/info.proto


/**
 * Who made a call, as the kernel reported the connection (SO_PEERCRED).
 */
export interface AuditCaller {
  'uid'?: (number);
  'gid'?: (number);
  'pid'?: (number);
  /**
   * The socket's role: "admin" or "read-only".
   */
  'role'?: (string);
}

/**
 * Who made a call, as the kernel reported the connection (SO_PEERCRED).
 */
export interface AuditCaller__Output {
  'uid': (number);
  'gid': (number);
  'pid': (number);
  /**
   * The socket's role: "admin" or "read-only".
   */
  'role': (string);
}
