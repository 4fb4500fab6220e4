// Original file: proto/kvmclone/agent/v1/transfer.proto

import type { LiveDisk as _kvmclone_agent_v1_LiveDisk, LiveDisk__Output as _kvmclone_agent_v1_LiveDisk__Output } from '../../../kvmclone/agent/v1/LiveDisk.js';

export interface LiveViewEvent {
  'ticket'?: (string);
  'peerSocket'?: (string);
  /**
   * "filesystem" (the guest's filesystems were frozen around the start) or
   * "crash" (crash-consistent), or "shut-off" (the domain was not running:
   * the images are as it left them).
   */
  'consistency'?: (string);
  /**
   * Checkpoint created with this view, or "".
   */
  'checkpoint'?: (string);
  /**
   * Checkpoint the view is incremental from, or "" (full).
   */
  'incrementalFrom'?: (string);
  /**
   * Why the view is not incremental although incremental_from was asked, or
   * why no checkpoint was created; "" when neither applies.
   */
  'deltaReason'?: (string);
  'disks'?: (_kvmclone_agent_v1_LiveDisk)[];
  /**
   * XML of the checkpoint created, to be saved by the caller.
   */
  'checkpointXml'?: (string);
  'operationId'?: (string);
}

export interface LiveViewEvent__Output {
  'ticket': (string);
  'peerSocket': (string);
  /**
   * "filesystem" (the guest's filesystems were frozen around the start) or
   * "crash" (crash-consistent), or "shut-off" (the domain was not running:
   * the images are as it left them).
   */
  'consistency': (string);
  /**
   * Checkpoint created with this view, or "".
   */
  'checkpoint': (string);
  /**
   * Checkpoint the view is incremental from, or "" (full).
   */
  'incrementalFrom': (string);
  /**
   * Why the view is not incremental although incremental_from was asked, or
   * why no checkpoint was created; "" when neither applies.
   */
  'deltaReason': (string);
  'disks': (_kvmclone_agent_v1_LiveDisk__Output)[];
  /**
   * XML of the checkpoint created, to be saved by the caller.
   */
  'checkpointXml': (string);
  'operationId': (string);
}
