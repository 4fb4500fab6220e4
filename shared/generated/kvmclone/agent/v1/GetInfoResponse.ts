// Original file: proto/kvmclone/agent/v1/info.proto

import type { HostFacts as _kvmclone_agent_v1_HostFacts, HostFacts__Output as _kvmclone_agent_v1_HostFacts__Output } from '../../../kvmclone/agent/v1/HostFacts.js';

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
}
