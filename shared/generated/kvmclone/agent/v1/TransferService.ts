// Original file: proto/kvmclone/agent/v1/transfer.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { HoldLockRequest as _kvmclone_agent_v1_HoldLockRequest, HoldLockRequest__Output as _kvmclone_agent_v1_HoldLockRequest__Output } from '../../../kvmclone/agent/v1/HoldLockRequest.js';
import type { LockEvent as _kvmclone_agent_v1_LockEvent, LockEvent__Output as _kvmclone_agent_v1_LockEvent__Output } from '../../../kvmclone/agent/v1/LockEvent.js';
import type { OpenTicketRequest as _kvmclone_agent_v1_OpenTicketRequest, OpenTicketRequest__Output as _kvmclone_agent_v1_OpenTicketRequest__Output } from '../../../kvmclone/agent/v1/OpenTicketRequest.js';
import type { PullImageRequest as _kvmclone_agent_v1_PullImageRequest, PullImageRequest__Output as _kvmclone_agent_v1_PullImageRequest__Output } from '../../../kvmclone/agent/v1/PullImageRequest.js';
import type { PullProgress as _kvmclone_agent_v1_PullProgress, PullProgress__Output as _kvmclone_agent_v1_PullProgress__Output } from '../../../kvmclone/agent/v1/PullProgress.js';
import type { TicketEvent as _kvmclone_agent_v1_TicketEvent, TicketEvent__Output as _kvmclone_agent_v1_TicketEvent__Output } from '../../../kvmclone/agent/v1/TicketEvent.js';

/**
 * TransferService moves images agent to agent, so disk blocks never pass
 * through the controller. The controller brokers an SSH path: the source
 * agent's peer socket (read-only, ticket-guarded) is forwarded to the
 * controller and re-exposed on the destination host as a per-operation
 * socket; the destination agent dials it and pulls.
 */
export interface TransferServiceClient extends grpc.Client {
  /**
   * Either side. Holds the operation lock of a VM name while the call stays
   * open; ABORTED at once if another operation holds it. Locks are in memory
   * and tied to the call, so a dead controller never leaves a stale lock.
   */
  HoldLock(argument: _kvmclone_agent_v1_HoldLockRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_LockEvent__Output>;
  HoldLock(argument: _kvmclone_agent_v1_HoldLockRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_LockEvent__Output>;
  /**
   * Either side. Holds the operation lock of a VM name while the call stays
   * open; ABORTED at once if another operation holds it. Locks are in memory
   * and tied to the call, so a dead controller never leaves a stale lock.
   */
  holdLock(argument: _kvmclone_agent_v1_HoldLockRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_LockEvent__Output>;
  holdLock(argument: _kvmclone_agent_v1_HoldLockRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_LockEvent__Output>;
  
  /**
   * Source side. Issues a ticket that lets the peer socket read exactly the
   * listed paths. The ticket is valid while this call stays open: the first
   * message carries it, and cancelling the call (or the controller dying)
   * revokes it at once.
   */
  OpenTicket(argument: _kvmclone_agent_v1_OpenTicketRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_TicketEvent__Output>;
  OpenTicket(argument: _kvmclone_agent_v1_OpenTicketRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_TicketEvent__Output>;
  /**
   * Source side. Issues a ticket that lets the peer socket read exactly the
   * listed paths. The ticket is valid while this call stays open: the first
   * message carries it, and cancelling the call (or the controller dying)
   * revokes it at once.
   */
  openTicket(argument: _kvmclone_agent_v1_OpenTicketRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_TicketEvent__Output>;
  openTicket(argument: _kvmclone_agent_v1_OpenTicketRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_TicketEvent__Output>;
  
  /**
   * Destination side. Pulls one image from a peer agent into a staging file
   * beside the target (or resumes a staging file), streaming progress. The
   * last message carries the digest of what was written.
   */
  PullImage(argument: _kvmclone_agent_v1_PullImageRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_PullProgress__Output>;
  PullImage(argument: _kvmclone_agent_v1_PullImageRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_PullProgress__Output>;
  /**
   * Destination side. Pulls one image from a peer agent into a staging file
   * beside the target (or resumes a staging file), streaming progress. The
   * last message carries the digest of what was written.
   */
  pullImage(argument: _kvmclone_agent_v1_PullImageRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_PullProgress__Output>;
  pullImage(argument: _kvmclone_agent_v1_PullImageRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_PullProgress__Output>;
  
}

/**
 * TransferService moves images agent to agent, so disk blocks never pass
 * through the controller. The controller brokers an SSH path: the source
 * agent's peer socket (read-only, ticket-guarded) is forwarded to the
 * controller and re-exposed on the destination host as a per-operation
 * socket; the destination agent dials it and pulls.
 */
export interface TransferServiceHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Either side. Holds the operation lock of a VM name while the call stays
   * open; ABORTED at once if another operation holds it. Locks are in memory
   * and tied to the call, so a dead controller never leaves a stale lock.
   */
  HoldLock: grpc.handleServerStreamingCall<_kvmclone_agent_v1_HoldLockRequest__Output, _kvmclone_agent_v1_LockEvent>;
  
  /**
   * Source side. Issues a ticket that lets the peer socket read exactly the
   * listed paths. The ticket is valid while this call stays open: the first
   * message carries it, and cancelling the call (or the controller dying)
   * revokes it at once.
   */
  OpenTicket: grpc.handleServerStreamingCall<_kvmclone_agent_v1_OpenTicketRequest__Output, _kvmclone_agent_v1_TicketEvent>;
  
  /**
   * Destination side. Pulls one image from a peer agent into a staging file
   * beside the target (or resumes a staging file), streaming progress. The
   * last message carries the digest of what was written.
   */
  PullImage: grpc.handleServerStreamingCall<_kvmclone_agent_v1_PullImageRequest__Output, _kvmclone_agent_v1_PullProgress>;
  
}

export interface TransferServiceDefinition extends grpc.ServiceDefinition {
  HoldLock: MethodDefinition<_kvmclone_agent_v1_HoldLockRequest, _kvmclone_agent_v1_LockEvent, _kvmclone_agent_v1_HoldLockRequest__Output, _kvmclone_agent_v1_LockEvent__Output>
  OpenTicket: MethodDefinition<_kvmclone_agent_v1_OpenTicketRequest, _kvmclone_agent_v1_TicketEvent, _kvmclone_agent_v1_OpenTicketRequest__Output, _kvmclone_agent_v1_TicketEvent__Output>
  PullImage: MethodDefinition<_kvmclone_agent_v1_PullImageRequest, _kvmclone_agent_v1_PullProgress, _kvmclone_agent_v1_PullImageRequest__Output, _kvmclone_agent_v1_PullProgress__Output>
}
