// Original file: proto/kvmclone/agent/v1/transfer.proto

import type { ByteRange as _kvmclone_agent_v1_ByteRange, ByteRange__Output as _kvmclone_agent_v1_ByteRange__Output } from '../../../kvmclone/agent/v1/ByteRange.js';
import type { PullMode as _kvmclone_agent_v1_PullMode, PullMode__Output as _kvmclone_agent_v1_PullMode__Output } from '../../../kvmclone/agent/v1/PullMode.js';

export interface PullImageRequest {
  /**
   * Socket on this host that reaches the source agent's peer socket; must be
   * a fresh per-operation path under the agent's runtime directory.
   */
  'peerSocket'?: (string);
  'ticket'?: (string);
  /**
   * Image path on the source host.
   */
  'sourcePath'?: (string);
  /**
   * Final path on this host; the staging file is created beside it.
   */
  'targetPath'?: (string);
  /**
   * Continue an interrupted pull into this staging file; "" starts afresh.
   */
  'stagingId'?: (string);
  'operationId'?: (string);
  /**
   * Pull only these ranges of the source (sync, resume); empty pulls
   * everything (STAGING mode only).
   */
  'ranges'?: (_kvmclone_agent_v1_ByteRange)[];
  'mode'?: (_kvmclone_agent_v1_PullMode);
}

export interface PullImageRequest__Output {
  /**
   * Socket on this host that reaches the source agent's peer socket; must be
   * a fresh per-operation path under the agent's runtime directory.
   */
  'peerSocket': (string);
  'ticket': (string);
  /**
   * Image path on the source host.
   */
  'sourcePath': (string);
  /**
   * Final path on this host; the staging file is created beside it.
   */
  'targetPath': (string);
  /**
   * Continue an interrupted pull into this staging file; "" starts afresh.
   */
  'stagingId': (string);
  'operationId': (string);
  /**
   * Pull only these ranges of the source (sync, resume); empty pulls
   * everything (STAGING mode only).
   */
  'ranges': (_kvmclone_agent_v1_ByteRange__Output)[];
  'mode': (_kvmclone_agent_v1_PullMode__Output);
}
