// Original file: proto/kvmclone/agent/v1/info.proto


/**
 * A caller's identity.
 */
export interface Caller {
  'uid'?: (number);
  'gid'?: (number);
  /**
   * Supplementary groups of the calling process, when the agent could read them.
   */
  'groups'?: (number)[];
  /**
   * The socket (role) the call came through: "admin" or "read-only".
   */
  'role'?: (string);
}

/**
 * A caller's identity.
 */
export interface Caller__Output {
  'uid': (number);
  'gid': (number);
  /**
   * Supplementary groups of the calling process, when the agent could read them.
   */
  'groups': (number)[];
  /**
   * The socket (role) the call came through: "admin" or "read-only".
   */
  'role': (string);
}
