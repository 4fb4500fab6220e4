// Original file: proto/kvmclone/agent/v1/transfer.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { DescribeLiveViewRequest as _kvmclone_agent_v1_DescribeLiveViewRequest, DescribeLiveViewRequest__Output as _kvmclone_agent_v1_DescribeLiveViewRequest__Output } from '../../../kvmclone/agent/v1/DescribeLiveViewRequest.js';
import type { HoldLockRequest as _kvmclone_agent_v1_HoldLockRequest, HoldLockRequest__Output as _kvmclone_agent_v1_HoldLockRequest__Output } from '../../../kvmclone/agent/v1/HoldLockRequest.js';
import type { ListLeftoversRequest as _kvmclone_agent_v1_ListLeftoversRequest, ListLeftoversRequest__Output as _kvmclone_agent_v1_ListLeftoversRequest__Output } from '../../../kvmclone/agent/v1/ListLeftoversRequest.js';
import type { ListLeftoversResponse as _kvmclone_agent_v1_ListLeftoversResponse, ListLeftoversResponse__Output as _kvmclone_agent_v1_ListLeftoversResponse__Output } from '../../../kvmclone/agent/v1/ListLeftoversResponse.js';
import type { ListRestorePointsRequest as _kvmclone_agent_v1_ListRestorePointsRequest, ListRestorePointsRequest__Output as _kvmclone_agent_v1_ListRestorePointsRequest__Output } from '../../../kvmclone/agent/v1/ListRestorePointsRequest.js';
import type { ListRestorePointsResponse as _kvmclone_agent_v1_ListRestorePointsResponse, ListRestorePointsResponse__Output as _kvmclone_agent_v1_ListRestorePointsResponse__Output } from '../../../kvmclone/agent/v1/ListRestorePointsResponse.js';
import type { LiveViewEvent as _kvmclone_agent_v1_LiveViewEvent, LiveViewEvent__Output as _kvmclone_agent_v1_LiveViewEvent__Output } from '../../../kvmclone/agent/v1/LiveViewEvent.js';
import type { LockEvent as _kvmclone_agent_v1_LockEvent, LockEvent__Output as _kvmclone_agent_v1_LockEvent__Output } from '../../../kvmclone/agent/v1/LockEvent.js';
import type { OpenLiveViewRequest as _kvmclone_agent_v1_OpenLiveViewRequest, OpenLiveViewRequest__Output as _kvmclone_agent_v1_OpenLiveViewRequest__Output } from '../../../kvmclone/agent/v1/OpenLiveViewRequest.js';
import type { OpenTicketRequest as _kvmclone_agent_v1_OpenTicketRequest, OpenTicketRequest__Output as _kvmclone_agent_v1_OpenTicketRequest__Output } from '../../../kvmclone/agent/v1/OpenTicketRequest.js';
import type { PruneCheckpointsRequest as _kvmclone_agent_v1_PruneCheckpointsRequest, PruneCheckpointsRequest__Output as _kvmclone_agent_v1_PruneCheckpointsRequest__Output } from '../../../kvmclone/agent/v1/PruneCheckpointsRequest.js';
import type { PruneCheckpointsResponse as _kvmclone_agent_v1_PruneCheckpointsResponse, PruneCheckpointsResponse__Output as _kvmclone_agent_v1_PruneCheckpointsResponse__Output } from '../../../kvmclone/agent/v1/PruneCheckpointsResponse.js';
import type { PullImageRequest as _kvmclone_agent_v1_PullImageRequest, PullImageRequest__Output as _kvmclone_agent_v1_PullImageRequest__Output } from '../../../kvmclone/agent/v1/PullImageRequest.js';
import type { PullProgress as _kvmclone_agent_v1_PullProgress, PullProgress__Output as _kvmclone_agent_v1_PullProgress__Output } from '../../../kvmclone/agent/v1/PullProgress.js';
import type { RemoveLeftoversRequest as _kvmclone_agent_v1_RemoveLeftoversRequest, RemoveLeftoversRequest__Output as _kvmclone_agent_v1_RemoveLeftoversRequest__Output } from '../../../kvmclone/agent/v1/RemoveLeftoversRequest.js';
import type { RemoveLeftoversResponse as _kvmclone_agent_v1_RemoveLeftoversResponse, RemoveLeftoversResponse__Output as _kvmclone_agent_v1_RemoveLeftoversResponse__Output } from '../../../kvmclone/agent/v1/RemoveLeftoversResponse.js';
import type { RemovePeerSocketRequest as _kvmclone_agent_v1_RemovePeerSocketRequest, RemovePeerSocketRequest__Output as _kvmclone_agent_v1_RemovePeerSocketRequest__Output } from '../../../kvmclone/agent/v1/RemovePeerSocketRequest.js';
import type { RemovePeerSocketResponse as _kvmclone_agent_v1_RemovePeerSocketResponse, RemovePeerSocketResponse__Output as _kvmclone_agent_v1_RemovePeerSocketResponse__Output } from '../../../kvmclone/agent/v1/RemovePeerSocketResponse.js';
import type { RemoveRestorePointsRequest as _kvmclone_agent_v1_RemoveRestorePointsRequest, RemoveRestorePointsRequest__Output as _kvmclone_agent_v1_RemoveRestorePointsRequest__Output } from '../../../kvmclone/agent/v1/RemoveRestorePointsRequest.js';
import type { RemoveRestorePointsResponse as _kvmclone_agent_v1_RemoveRestorePointsResponse, RemoveRestorePointsResponse__Output as _kvmclone_agent_v1_RemoveRestorePointsResponse__Output } from '../../../kvmclone/agent/v1/RemoveRestorePointsResponse.js';
import type { RestorePointProgress as _kvmclone_agent_v1_RestorePointProgress, RestorePointProgress__Output as _kvmclone_agent_v1_RestorePointProgress__Output } from '../../../kvmclone/agent/v1/RestorePointProgress.js';
import type { RestorePointRequest as _kvmclone_agent_v1_RestorePointRequest, RestorePointRequest__Output as _kvmclone_agent_v1_RestorePointRequest__Output } from '../../../kvmclone/agent/v1/RestorePointRequest.js';
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
   * Source side. Bytes read so far from each disk of an open view.
   */
  DescribeLiveView(argument: _kvmclone_agent_v1_DescribeLiveViewRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_LiveViewEvent__Output>): grpc.ClientUnaryCall;
  DescribeLiveView(argument: _kvmclone_agent_v1_DescribeLiveViewRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_LiveViewEvent__Output>): grpc.ClientUnaryCall;
  DescribeLiveView(argument: _kvmclone_agent_v1_DescribeLiveViewRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_LiveViewEvent__Output>): grpc.ClientUnaryCall;
  DescribeLiveView(argument: _kvmclone_agent_v1_DescribeLiveViewRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_LiveViewEvent__Output>): grpc.ClientUnaryCall;
  /**
   * Source side. Bytes read so far from each disk of an open view.
   */
  describeLiveView(argument: _kvmclone_agent_v1_DescribeLiveViewRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_LiveViewEvent__Output>): grpc.ClientUnaryCall;
  describeLiveView(argument: _kvmclone_agent_v1_DescribeLiveViewRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_LiveViewEvent__Output>): grpc.ClientUnaryCall;
  describeLiveView(argument: _kvmclone_agent_v1_DescribeLiveViewRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_LiveViewEvent__Output>): grpc.ClientUnaryCall;
  describeLiveView(argument: _kvmclone_agent_v1_DescribeLiveViewRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_LiveViewEvent__Output>): grpc.ClientUnaryCall;
  
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
   * Either side, read-only. What operations left on this host: staging
   * files, sync journals, per-operation peer sockets, backup scratch files
   * and NBD sockets, and held locks — each with its operation id (when it
   * records one), age, and whether that operation is still running here.
   */
  ListLeftovers(argument: _kvmclone_agent_v1_ListLeftoversRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_ListLeftoversResponse__Output>): grpc.ClientUnaryCall;
  ListLeftovers(argument: _kvmclone_agent_v1_ListLeftoversRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_ListLeftoversResponse__Output>): grpc.ClientUnaryCall;
  ListLeftovers(argument: _kvmclone_agent_v1_ListLeftoversRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_ListLeftoversResponse__Output>): grpc.ClientUnaryCall;
  ListLeftovers(argument: _kvmclone_agent_v1_ListLeftoversRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_ListLeftoversResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Either side, read-only. What operations left on this host: staging
   * files, sync journals, per-operation peer sockets, backup scratch files
   * and NBD sockets, and held locks — each with its operation id (when it
   * records one), age, and whether that operation is still running here.
   */
  listLeftovers(argument: _kvmclone_agent_v1_ListLeftoversRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_ListLeftoversResponse__Output>): grpc.ClientUnaryCall;
  listLeftovers(argument: _kvmclone_agent_v1_ListLeftoversRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_ListLeftoversResponse__Output>): grpc.ClientUnaryCall;
  listLeftovers(argument: _kvmclone_agent_v1_ListLeftoversRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_ListLeftoversResponse__Output>): grpc.ClientUnaryCall;
  listLeftovers(argument: _kvmclone_agent_v1_ListLeftoversRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_ListLeftoversResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Destination side, read-only. The restore points kept beside an image by
   * in-place pulls with keep_points, newest first: each rolls the image back
   * to its state before that pull.
   */
  ListRestorePoints(argument: _kvmclone_agent_v1_ListRestorePointsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_ListRestorePointsResponse__Output>): grpc.ClientUnaryCall;
  ListRestorePoints(argument: _kvmclone_agent_v1_ListRestorePointsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_ListRestorePointsResponse__Output>): grpc.ClientUnaryCall;
  ListRestorePoints(argument: _kvmclone_agent_v1_ListRestorePointsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_ListRestorePointsResponse__Output>): grpc.ClientUnaryCall;
  ListRestorePoints(argument: _kvmclone_agent_v1_ListRestorePointsRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_ListRestorePointsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Destination side, read-only. The restore points kept beside an image by
   * in-place pulls with keep_points, newest first: each rolls the image back
   * to its state before that pull.
   */
  listRestorePoints(argument: _kvmclone_agent_v1_ListRestorePointsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_ListRestorePointsResponse__Output>): grpc.ClientUnaryCall;
  listRestorePoints(argument: _kvmclone_agent_v1_ListRestorePointsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_ListRestorePointsResponse__Output>): grpc.ClientUnaryCall;
  listRestorePoints(argument: _kvmclone_agent_v1_ListRestorePointsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_ListRestorePointsResponse__Output>): grpc.ClientUnaryCall;
  listRestorePoints(argument: _kvmclone_agent_v1_ListRestorePointsRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_ListRestorePointsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Source side, running domain. Starts a point-in-time view of the domain's
   * disks (a libvirt backup job in pull mode: QEMU serves each disk as it was
   * when the job began over NBD on a unix socket in the agent's runtime
   * directory, copying blocks the guest overwrites to a scratch file), with a
   * ticket that lets the peer socket read exactly those views. The domain
   * definition never changes. The first message describes the view; the
   * view lives while this call stays open, and the job is ended (and its
   * scratch files removed) when the call ends, however it ends.
   */
  OpenLiveView(argument: _kvmclone_agent_v1_OpenLiveViewRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_LiveViewEvent__Output>;
  OpenLiveView(argument: _kvmclone_agent_v1_OpenLiveViewRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_LiveViewEvent__Output>;
  /**
   * Source side, running domain. Starts a point-in-time view of the domain's
   * disks (a libvirt backup job in pull mode: QEMU serves each disk as it was
   * when the job began over NBD on a unix socket in the agent's runtime
   * directory, copying blocks the guest overwrites to a scratch file), with a
   * ticket that lets the peer socket read exactly those views. The domain
   * definition never changes. The first message describes the view; the
   * view lives while this call stays open, and the job is ended (and its
   * scratch files removed) when the call ends, however it ends.
   */
  openLiveView(argument: _kvmclone_agent_v1_OpenLiveViewRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_LiveViewEvent__Output>;
  openLiveView(argument: _kvmclone_agent_v1_OpenLiveViewRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_LiveViewEvent__Output>;
  
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
   * Source side. The destination confirmed `keep` (committed and verified):
   * deletes the replica's older kvmclone checkpoints. Checkpoints kvmclone
   * did not create are never touched.
   */
  PruneCheckpoints(argument: _kvmclone_agent_v1_PruneCheckpointsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_PruneCheckpointsResponse__Output>): grpc.ClientUnaryCall;
  PruneCheckpoints(argument: _kvmclone_agent_v1_PruneCheckpointsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_PruneCheckpointsResponse__Output>): grpc.ClientUnaryCall;
  PruneCheckpoints(argument: _kvmclone_agent_v1_PruneCheckpointsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_PruneCheckpointsResponse__Output>): grpc.ClientUnaryCall;
  PruneCheckpoints(argument: _kvmclone_agent_v1_PruneCheckpointsRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_PruneCheckpointsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Source side. The destination confirmed `keep` (committed and verified):
   * deletes the replica's older kvmclone checkpoints. Checkpoints kvmclone
   * did not create are never touched.
   */
  pruneCheckpoints(argument: _kvmclone_agent_v1_PruneCheckpointsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_PruneCheckpointsResponse__Output>): grpc.ClientUnaryCall;
  pruneCheckpoints(argument: _kvmclone_agent_v1_PruneCheckpointsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_PruneCheckpointsResponse__Output>): grpc.ClientUnaryCall;
  pruneCheckpoints(argument: _kvmclone_agent_v1_PruneCheckpointsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_PruneCheckpointsResponse__Output>): grpc.ClientUnaryCall;
  pruneCheckpoints(argument: _kvmclone_agent_v1_PruneCheckpointsRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_PruneCheckpointsResponse__Output>): grpc.ClientUnaryCall;
  
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
  
  /**
   * Either side, admin. Removes the leftovers of operations that are not
   * running (optionally only those older than min_age_seconds), or with
   * dry_run only says what it would remove. Never removes a committed
   * journal (it is rolled forward by the next sync or agent start), a held
   * lock, or anything of a running operation: those come back as kept, with
   * the reason.
   */
  RemoveLeftovers(argument: _kvmclone_agent_v1_RemoveLeftoversRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_RemoveLeftoversResponse__Output>): grpc.ClientUnaryCall;
  RemoveLeftovers(argument: _kvmclone_agent_v1_RemoveLeftoversRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_RemoveLeftoversResponse__Output>): grpc.ClientUnaryCall;
  RemoveLeftovers(argument: _kvmclone_agent_v1_RemoveLeftoversRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_RemoveLeftoversResponse__Output>): grpc.ClientUnaryCall;
  RemoveLeftovers(argument: _kvmclone_agent_v1_RemoveLeftoversRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_RemoveLeftoversResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Either side, admin. Removes the leftovers of operations that are not
   * running (optionally only those older than min_age_seconds), or with
   * dry_run only says what it would remove. Never removes a committed
   * journal (it is rolled forward by the next sync or agent start), a held
   * lock, or anything of a running operation: those come back as kept, with
   * the reason.
   */
  removeLeftovers(argument: _kvmclone_agent_v1_RemoveLeftoversRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_RemoveLeftoversResponse__Output>): grpc.ClientUnaryCall;
  removeLeftovers(argument: _kvmclone_agent_v1_RemoveLeftoversRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_RemoveLeftoversResponse__Output>): grpc.ClientUnaryCall;
  removeLeftovers(argument: _kvmclone_agent_v1_RemoveLeftoversRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_RemoveLeftoversResponse__Output>): grpc.ClientUnaryCall;
  removeLeftovers(argument: _kvmclone_agent_v1_RemoveLeftoversRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_RemoveLeftoversResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Destination side. Removes a per-operation peer socket the controller
   * bound in the forward directory (GetInfo.forward_dir) once it has
   * cancelled the forward: sshd never unlinks the sockets it binds, and an
   * unprivileged SSH account runs no command that could. Only
   * <forward_dir>/peer-<id>.sock sockets are removed; an absent one is fine.
   */
  RemovePeerSocket(argument: _kvmclone_agent_v1_RemovePeerSocketRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_RemovePeerSocketResponse__Output>): grpc.ClientUnaryCall;
  RemovePeerSocket(argument: _kvmclone_agent_v1_RemovePeerSocketRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_RemovePeerSocketResponse__Output>): grpc.ClientUnaryCall;
  RemovePeerSocket(argument: _kvmclone_agent_v1_RemovePeerSocketRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_RemovePeerSocketResponse__Output>): grpc.ClientUnaryCall;
  RemovePeerSocket(argument: _kvmclone_agent_v1_RemovePeerSocketRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_RemovePeerSocketResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Destination side. Removes a per-operation peer socket the controller
   * bound in the forward directory (GetInfo.forward_dir) once it has
   * cancelled the forward: sshd never unlinks the sockets it binds, and an
   * unprivileged SSH account runs no command that could. Only
   * <forward_dir>/peer-<id>.sock sockets are removed; an absent one is fine.
   */
  removePeerSocket(argument: _kvmclone_agent_v1_RemovePeerSocketRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_RemovePeerSocketResponse__Output>): grpc.ClientUnaryCall;
  removePeerSocket(argument: _kvmclone_agent_v1_RemovePeerSocketRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_RemovePeerSocketResponse__Output>): grpc.ClientUnaryCall;
  removePeerSocket(argument: _kvmclone_agent_v1_RemovePeerSocketRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_RemovePeerSocketResponse__Output>): grpc.ClientUnaryCall;
  removePeerSocket(argument: _kvmclone_agent_v1_RemovePeerSocketRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_RemovePeerSocketResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Destination side, admin. Removes the oldest restore points of an image,
   * keeping the newest `keep` (0 removes all). Only the oldest can go: each
   * point needs every newer one to be reached.
   */
  RemoveRestorePoints(argument: _kvmclone_agent_v1_RemoveRestorePointsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_RemoveRestorePointsResponse__Output>): grpc.ClientUnaryCall;
  RemoveRestorePoints(argument: _kvmclone_agent_v1_RemoveRestorePointsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_RemoveRestorePointsResponse__Output>): grpc.ClientUnaryCall;
  RemoveRestorePoints(argument: _kvmclone_agent_v1_RemoveRestorePointsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_RemoveRestorePointsResponse__Output>): grpc.ClientUnaryCall;
  RemoveRestorePoints(argument: _kvmclone_agent_v1_RemoveRestorePointsRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_RemoveRestorePointsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Destination side, admin. Removes the oldest restore points of an image,
   * keeping the newest `keep` (0 removes all). Only the oldest can go: each
   * point needs every newer one to be reached.
   */
  removeRestorePoints(argument: _kvmclone_agent_v1_RemoveRestorePointsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_RemoveRestorePointsResponse__Output>): grpc.ClientUnaryCall;
  removeRestorePoints(argument: _kvmclone_agent_v1_RemoveRestorePointsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_RemoveRestorePointsResponse__Output>): grpc.ClientUnaryCall;
  removeRestorePoints(argument: _kvmclone_agent_v1_RemoveRestorePointsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_RemoveRestorePointsResponse__Output>): grpc.ClientUnaryCall;
  removeRestorePoints(argument: _kvmclone_agent_v1_RemoveRestorePointsRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_RemoveRestorePointsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Destination side, admin. Rolls an image back to a restore point: the
   * points newer than it and the point itself are applied newest first, each
   * as a sync journal (crash-safe: a restore cut short is rolled forward to
   * the point being applied at the next start or pull), and are consumed —
   * like `zfs rollback -r`, the newer points are gone afterwards. The image
   * must be unchanged since the newest point's pull (else FAILED_PRECONDITION,
   * nothing touched) and dest_vm, when named, shut off. The result is checked
   * against the point's recorded digest (DATA_LOSS when it differs).
   */
  RestorePoint(argument: _kvmclone_agent_v1_RestorePointRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_RestorePointProgress__Output>;
  RestorePoint(argument: _kvmclone_agent_v1_RestorePointRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_RestorePointProgress__Output>;
  /**
   * Destination side, admin. Rolls an image back to a restore point: the
   * points newer than it and the point itself are applied newest first, each
   * as a sync journal (crash-safe: a restore cut short is rolled forward to
   * the point being applied at the next start or pull), and are consumed —
   * like `zfs rollback -r`, the newer points are gone afterwards. The image
   * must be unchanged since the newest point's pull (else FAILED_PRECONDITION,
   * nothing touched) and dest_vm, when named, shut off. The result is checked
   * against the point's recorded digest (DATA_LOSS when it differs).
   */
  restorePoint(argument: _kvmclone_agent_v1_RestorePointRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_RestorePointProgress__Output>;
  restorePoint(argument: _kvmclone_agent_v1_RestorePointRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_RestorePointProgress__Output>;
  
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
   * Source side. Bytes read so far from each disk of an open view.
   */
  DescribeLiveView: grpc.handleUnaryCall<_kvmclone_agent_v1_DescribeLiveViewRequest__Output, _kvmclone_agent_v1_LiveViewEvent>;
  
  /**
   * Either side. Holds the operation lock of a VM name while the call stays
   * open; ABORTED at once if another operation holds it. Locks are in memory
   * and tied to the call, so a dead controller never leaves a stale lock.
   */
  HoldLock: grpc.handleServerStreamingCall<_kvmclone_agent_v1_HoldLockRequest__Output, _kvmclone_agent_v1_LockEvent>;
  
  /**
   * Either side, read-only. What operations left on this host: staging
   * files, sync journals, per-operation peer sockets, backup scratch files
   * and NBD sockets, and held locks — each with its operation id (when it
   * records one), age, and whether that operation is still running here.
   */
  ListLeftovers: grpc.handleUnaryCall<_kvmclone_agent_v1_ListLeftoversRequest__Output, _kvmclone_agent_v1_ListLeftoversResponse>;
  
  /**
   * Destination side, read-only. The restore points kept beside an image by
   * in-place pulls with keep_points, newest first: each rolls the image back
   * to its state before that pull.
   */
  ListRestorePoints: grpc.handleUnaryCall<_kvmclone_agent_v1_ListRestorePointsRequest__Output, _kvmclone_agent_v1_ListRestorePointsResponse>;
  
  /**
   * Source side, running domain. Starts a point-in-time view of the domain's
   * disks (a libvirt backup job in pull mode: QEMU serves each disk as it was
   * when the job began over NBD on a unix socket in the agent's runtime
   * directory, copying blocks the guest overwrites to a scratch file), with a
   * ticket that lets the peer socket read exactly those views. The domain
   * definition never changes. The first message describes the view; the
   * view lives while this call stays open, and the job is ended (and its
   * scratch files removed) when the call ends, however it ends.
   */
  OpenLiveView: grpc.handleServerStreamingCall<_kvmclone_agent_v1_OpenLiveViewRequest__Output, _kvmclone_agent_v1_LiveViewEvent>;
  
  /**
   * Source side. Issues a ticket that lets the peer socket read exactly the
   * listed paths. The ticket is valid while this call stays open: the first
   * message carries it, and cancelling the call (or the controller dying)
   * revokes it at once.
   */
  OpenTicket: grpc.handleServerStreamingCall<_kvmclone_agent_v1_OpenTicketRequest__Output, _kvmclone_agent_v1_TicketEvent>;
  
  /**
   * Source side. The destination confirmed `keep` (committed and verified):
   * deletes the replica's older kvmclone checkpoints. Checkpoints kvmclone
   * did not create are never touched.
   */
  PruneCheckpoints: grpc.handleUnaryCall<_kvmclone_agent_v1_PruneCheckpointsRequest__Output, _kvmclone_agent_v1_PruneCheckpointsResponse>;
  
  /**
   * Destination side. Pulls one image from a peer agent into a staging file
   * beside the target (or resumes a staging file), streaming progress. The
   * last message carries the digest of what was written.
   */
  PullImage: grpc.handleServerStreamingCall<_kvmclone_agent_v1_PullImageRequest__Output, _kvmclone_agent_v1_PullProgress>;
  
  /**
   * Either side, admin. Removes the leftovers of operations that are not
   * running (optionally only those older than min_age_seconds), or with
   * dry_run only says what it would remove. Never removes a committed
   * journal (it is rolled forward by the next sync or agent start), a held
   * lock, or anything of a running operation: those come back as kept, with
   * the reason.
   */
  RemoveLeftovers: grpc.handleUnaryCall<_kvmclone_agent_v1_RemoveLeftoversRequest__Output, _kvmclone_agent_v1_RemoveLeftoversResponse>;
  
  /**
   * Destination side. Removes a per-operation peer socket the controller
   * bound in the forward directory (GetInfo.forward_dir) once it has
   * cancelled the forward: sshd never unlinks the sockets it binds, and an
   * unprivileged SSH account runs no command that could. Only
   * <forward_dir>/peer-<id>.sock sockets are removed; an absent one is fine.
   */
  RemovePeerSocket: grpc.handleUnaryCall<_kvmclone_agent_v1_RemovePeerSocketRequest__Output, _kvmclone_agent_v1_RemovePeerSocketResponse>;
  
  /**
   * Destination side, admin. Removes the oldest restore points of an image,
   * keeping the newest `keep` (0 removes all). Only the oldest can go: each
   * point needs every newer one to be reached.
   */
  RemoveRestorePoints: grpc.handleUnaryCall<_kvmclone_agent_v1_RemoveRestorePointsRequest__Output, _kvmclone_agent_v1_RemoveRestorePointsResponse>;
  
  /**
   * Destination side, admin. Rolls an image back to a restore point: the
   * points newer than it and the point itself are applied newest first, each
   * as a sync journal (crash-safe: a restore cut short is rolled forward to
   * the point being applied at the next start or pull), and are consumed —
   * like `zfs rollback -r`, the newer points are gone afterwards. The image
   * must be unchanged since the newest point's pull (else FAILED_PRECONDITION,
   * nothing touched) and dest_vm, when named, shut off. The result is checked
   * against the point's recorded digest (DATA_LOSS when it differs).
   */
  RestorePoint: grpc.handleServerStreamingCall<_kvmclone_agent_v1_RestorePointRequest__Output, _kvmclone_agent_v1_RestorePointProgress>;
  
}

export interface TransferServiceDefinition extends grpc.ServiceDefinition {
  DescribeLiveView: MethodDefinition<_kvmclone_agent_v1_DescribeLiveViewRequest, _kvmclone_agent_v1_LiveViewEvent, _kvmclone_agent_v1_DescribeLiveViewRequest__Output, _kvmclone_agent_v1_LiveViewEvent__Output>
  HoldLock: MethodDefinition<_kvmclone_agent_v1_HoldLockRequest, _kvmclone_agent_v1_LockEvent, _kvmclone_agent_v1_HoldLockRequest__Output, _kvmclone_agent_v1_LockEvent__Output>
  ListLeftovers: MethodDefinition<_kvmclone_agent_v1_ListLeftoversRequest, _kvmclone_agent_v1_ListLeftoversResponse, _kvmclone_agent_v1_ListLeftoversRequest__Output, _kvmclone_agent_v1_ListLeftoversResponse__Output>
  ListRestorePoints: MethodDefinition<_kvmclone_agent_v1_ListRestorePointsRequest, _kvmclone_agent_v1_ListRestorePointsResponse, _kvmclone_agent_v1_ListRestorePointsRequest__Output, _kvmclone_agent_v1_ListRestorePointsResponse__Output>
  OpenLiveView: MethodDefinition<_kvmclone_agent_v1_OpenLiveViewRequest, _kvmclone_agent_v1_LiveViewEvent, _kvmclone_agent_v1_OpenLiveViewRequest__Output, _kvmclone_agent_v1_LiveViewEvent__Output>
  OpenTicket: MethodDefinition<_kvmclone_agent_v1_OpenTicketRequest, _kvmclone_agent_v1_TicketEvent, _kvmclone_agent_v1_OpenTicketRequest__Output, _kvmclone_agent_v1_TicketEvent__Output>
  PruneCheckpoints: MethodDefinition<_kvmclone_agent_v1_PruneCheckpointsRequest, _kvmclone_agent_v1_PruneCheckpointsResponse, _kvmclone_agent_v1_PruneCheckpointsRequest__Output, _kvmclone_agent_v1_PruneCheckpointsResponse__Output>
  PullImage: MethodDefinition<_kvmclone_agent_v1_PullImageRequest, _kvmclone_agent_v1_PullProgress, _kvmclone_agent_v1_PullImageRequest__Output, _kvmclone_agent_v1_PullProgress__Output>
  RemoveLeftovers: MethodDefinition<_kvmclone_agent_v1_RemoveLeftoversRequest, _kvmclone_agent_v1_RemoveLeftoversResponse, _kvmclone_agent_v1_RemoveLeftoversRequest__Output, _kvmclone_agent_v1_RemoveLeftoversResponse__Output>
  RemovePeerSocket: MethodDefinition<_kvmclone_agent_v1_RemovePeerSocketRequest, _kvmclone_agent_v1_RemovePeerSocketResponse, _kvmclone_agent_v1_RemovePeerSocketRequest__Output, _kvmclone_agent_v1_RemovePeerSocketResponse__Output>
  RemoveRestorePoints: MethodDefinition<_kvmclone_agent_v1_RemoveRestorePointsRequest, _kvmclone_agent_v1_RemoveRestorePointsResponse, _kvmclone_agent_v1_RemoveRestorePointsRequest__Output, _kvmclone_agent_v1_RemoveRestorePointsResponse__Output>
  RestorePoint: MethodDefinition<_kvmclone_agent_v1_RestorePointRequest, _kvmclone_agent_v1_RestorePointProgress, _kvmclone_agent_v1_RestorePointRequest__Output, _kvmclone_agent_v1_RestorePointProgress__Output>
}
