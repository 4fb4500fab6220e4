// Original file: proto/kvmclone/agent/v1/transfer.proto

import type { Quiesce as _kvmclone_agent_v1_Quiesce, Quiesce__Output as _kvmclone_agent_v1_Quiesce__Output } from '../../../kvmclone/agent/v1/Quiesce.js';

export interface OpenLiveViewRequest {
  'vmName'?: (string);
  'operationId'?: (string);
  /**
   * Names this copy's checkpoint chain: kvmclone.<replica_id>.<n>. Required
   * when cbt is set.
   */
  'replicaId'?: (string);
  /**
   * The checkpoint whose data the destination confirmed; the view is then
   * incremental from it when it can be (see LiveViewEvent.delta_reason).
   * "" asks for a full view.
   */
  'incrementalFrom'?: (string);
  /**
   * Create a checkpoint with this view (qcow2 disks only), for the next
   * incremental view.
   */
  'cbt'?: (boolean);
  'quiesce'?: (_kvmclone_agent_v1_Quiesce);
  /**
   * The checkpoint's XML as it was saved when it was created: used to
   * redefine it if libvirt lost its metadata.
   */
  'incrementalFromXml'?: (string);
  /**
   * The domain may be shut off (kvmctl clone --flatten): its disks are then
   * served read-only by qemu-nbd, each with its backing chain merged as the
   * guest sees it, and the images cannot be started or written while the
   * view is open. cbt and incremental_from must be empty for a shut-off
   * domain. A running domain gets its usual point-in-time view. Capability
   * "transfer.flatten".
   */
  'shutOff'?: (boolean);
}

export interface OpenLiveViewRequest__Output {
  'vmName': (string);
  'operationId': (string);
  /**
   * Names this copy's checkpoint chain: kvmclone.<replica_id>.<n>. Required
   * when cbt is set.
   */
  'replicaId': (string);
  /**
   * The checkpoint whose data the destination confirmed; the view is then
   * incremental from it when it can be (see LiveViewEvent.delta_reason).
   * "" asks for a full view.
   */
  'incrementalFrom': (string);
  /**
   * Create a checkpoint with this view (qcow2 disks only), for the next
   * incremental view.
   */
  'cbt': (boolean);
  'quiesce': (_kvmclone_agent_v1_Quiesce__Output);
  /**
   * The checkpoint's XML as it was saved when it was created: used to
   * redefine it if libvirt lost its metadata.
   */
  'incrementalFromXml': (string);
  /**
   * The domain may be shut off (kvmctl clone --flatten): its disks are then
   * served read-only by qemu-nbd, each with its backing chain merged as the
   * guest sees it, and the images cannot be started or written while the
   * view is open. cbt and incremental_from must be empty for a shut-off
   * domain. A running domain gets its usual point-in-time view. Capability
   * "transfer.flatten".
   */
  'shutOff': (boolean);
}
