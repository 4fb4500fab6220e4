// Original file: proto/kvmclone/agent/v1/info.proto

import type { HostFacts as _kvmclone_agent_v1_HostFacts, HostFacts__Output as _kvmclone_agent_v1_HostFacts__Output } from '../../../kvmclone/agent/v1/HostFacts.js';
import type { Caller as _kvmclone_agent_v1_Caller, Caller__Output as _kvmclone_agent_v1_Caller__Output } from '../../../kvmclone/agent/v1/Caller.js';

export interface GetInfoResponse {
  /**
   * Semantic version of the agent build, e.g. "0.1.0".
   */
  'agentVersion'?: (string);
  /**
   * API versions served on this socket, e.g. ["v1"].
   */
  'apiVersions'?: (string)[];
  /**
   * Named capabilities, e.g. "disk.read", "disk.write", "disk.hash".
   */
  'capabilities'?: (string)[];
  'host'?: (_kvmclone_agent_v1_HostFacts | null);
  /**
   * Directories (resolved) under which this agent reads and writes images.
   */
  'imageRoots'?: (string)[];
  /**
   * Who made this call, as the kernel saw the connection (SO_PEERCRED): for a
   * controller behind SSH, the account sshd runs its forward as. Unset when
   * the agent does not know (a build that does not record callers).
   */
  'caller'?: (_kvmclone_agent_v1_Caller | null);
  /**
   * Directory in which the controller binds its per-operation peer sockets
   * (-R forwards): group-writable for the socket group, so an unprivileged
   * SSH account can bind there. Empty from an agent without the
   * "transfer.forward-dir" capability (it accepts them beside its socket).
   */
  'forwardDir'?: (string);
}

export interface GetInfoResponse__Output {
  /**
   * Semantic version of the agent build, e.g. "0.1.0".
   */
  'agentVersion': (string);
  /**
   * API versions served on this socket, e.g. ["v1"].
   */
  'apiVersions': (string)[];
  /**
   * Named capabilities, e.g. "disk.read", "disk.write", "disk.hash".
   */
  'capabilities': (string)[];
  'host': (_kvmclone_agent_v1_HostFacts__Output | null);
  /**
   * Directories (resolved) under which this agent reads and writes images.
   */
  'imageRoots': (string)[];
  /**
   * Who made this call, as the kernel saw the connection (SO_PEERCRED): for a
   * controller behind SSH, the account sshd runs its forward as. Unset when
   * the agent does not know (a build that does not record callers).
   */
  'caller': (_kvmclone_agent_v1_Caller__Output | null);
  /**
   * Directory in which the controller binds its per-operation peer sockets
   * (-R forwards): group-writable for the socket group, so an unprivileged
   * SSH account can bind there. Empty from an agent without the
   * "transfer.forward-dir" capability (it accepts them beside its socket).
   */
  'forwardDir': (string);
}
