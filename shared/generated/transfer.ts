import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { AbortStagingRequest as _kvmclone_agent_v1_AbortStagingRequest, AbortStagingRequest__Output as _kvmclone_agent_v1_AbortStagingRequest__Output } from './kvmclone/agent/v1/AbortStagingRequest.js';
import type { AbortStagingResponse as _kvmclone_agent_v1_AbortStagingResponse, AbortStagingResponse__Output as _kvmclone_agent_v1_AbortStagingResponse__Output } from './kvmclone/agent/v1/AbortStagingResponse.js';
import type { ByteRange as _kvmclone_agent_v1_ByteRange, ByteRange__Output as _kvmclone_agent_v1_ByteRange__Output } from './kvmclone/agent/v1/ByteRange.js';
import type { CommitStagingRequest as _kvmclone_agent_v1_CommitStagingRequest, CommitStagingRequest__Output as _kvmclone_agent_v1_CommitStagingRequest__Output } from './kvmclone/agent/v1/CommitStagingRequest.js';
import type { CommitStagingResponse as _kvmclone_agent_v1_CommitStagingResponse, CommitStagingResponse__Output as _kvmclone_agent_v1_CommitStagingResponse__Output } from './kvmclone/agent/v1/CommitStagingResponse.js';
import type { DataChunk as _kvmclone_agent_v1_DataChunk, DataChunk__Output as _kvmclone_agent_v1_DataChunk__Output } from './kvmclone/agent/v1/DataChunk.js';
import type { DescribeLiveViewRequest as _kvmclone_agent_v1_DescribeLiveViewRequest, DescribeLiveViewRequest__Output as _kvmclone_agent_v1_DescribeLiveViewRequest__Output } from './kvmclone/agent/v1/DescribeLiveViewRequest.js';
import type { DigestImageRequest as _kvmclone_agent_v1_DigestImageRequest, DigestImageRequest__Output as _kvmclone_agent_v1_DigestImageRequest__Output } from './kvmclone/agent/v1/DigestImageRequest.js';
import type { DigestImageResponse as _kvmclone_agent_v1_DigestImageResponse, DigestImageResponse__Output as _kvmclone_agent_v1_DigestImageResponse__Output } from './kvmclone/agent/v1/DigestImageResponse.js';
import type { DiskServiceClient as _kvmclone_agent_v1_DiskServiceClient, DiskServiceDefinition as _kvmclone_agent_v1_DiskServiceDefinition } from './kvmclone/agent/v1/DiskService.js';
import type { Extent as _kvmclone_agent_v1_Extent, Extent__Output as _kvmclone_agent_v1_Extent__Output } from './kvmclone/agent/v1/Extent.js';
import type { HashBlocksRequest as _kvmclone_agent_v1_HashBlocksRequest, HashBlocksRequest__Output as _kvmclone_agent_v1_HashBlocksRequest__Output } from './kvmclone/agent/v1/HashBlocksRequest.js';
import type { HashBlocksResponse as _kvmclone_agent_v1_HashBlocksResponse, HashBlocksResponse__Output as _kvmclone_agent_v1_HashBlocksResponse__Output } from './kvmclone/agent/v1/HashBlocksResponse.js';
import type { HoldLockRequest as _kvmclone_agent_v1_HoldLockRequest, HoldLockRequest__Output as _kvmclone_agent_v1_HoldLockRequest__Output } from './kvmclone/agent/v1/HoldLockRequest.js';
import type { Leftover as _kvmclone_agent_v1_Leftover, Leftover__Output as _kvmclone_agent_v1_Leftover__Output } from './kvmclone/agent/v1/Leftover.js';
import type { ListLeftoversRequest as _kvmclone_agent_v1_ListLeftoversRequest, ListLeftoversRequest__Output as _kvmclone_agent_v1_ListLeftoversRequest__Output } from './kvmclone/agent/v1/ListLeftoversRequest.js';
import type { ListLeftoversResponse as _kvmclone_agent_v1_ListLeftoversResponse, ListLeftoversResponse__Output as _kvmclone_agent_v1_ListLeftoversResponse__Output } from './kvmclone/agent/v1/ListLeftoversResponse.js';
import type { ListRestorePointsRequest as _kvmclone_agent_v1_ListRestorePointsRequest, ListRestorePointsRequest__Output as _kvmclone_agent_v1_ListRestorePointsRequest__Output } from './kvmclone/agent/v1/ListRestorePointsRequest.js';
import type { ListRestorePointsResponse as _kvmclone_agent_v1_ListRestorePointsResponse, ListRestorePointsResponse__Output as _kvmclone_agent_v1_ListRestorePointsResponse__Output } from './kvmclone/agent/v1/ListRestorePointsResponse.js';
import type { LiveDisk as _kvmclone_agent_v1_LiveDisk, LiveDisk__Output as _kvmclone_agent_v1_LiveDisk__Output } from './kvmclone/agent/v1/LiveDisk.js';
import type { LiveViewEvent as _kvmclone_agent_v1_LiveViewEvent, LiveViewEvent__Output as _kvmclone_agent_v1_LiveViewEvent__Output } from './kvmclone/agent/v1/LiveViewEvent.js';
import type { LockEvent as _kvmclone_agent_v1_LockEvent, LockEvent__Output as _kvmclone_agent_v1_LockEvent__Output } from './kvmclone/agent/v1/LockEvent.js';
import type { MapExtentsRequest as _kvmclone_agent_v1_MapExtentsRequest, MapExtentsRequest__Output as _kvmclone_agent_v1_MapExtentsRequest__Output } from './kvmclone/agent/v1/MapExtentsRequest.js';
import type { MapExtentsResponse as _kvmclone_agent_v1_MapExtentsResponse, MapExtentsResponse__Output as _kvmclone_agent_v1_MapExtentsResponse__Output } from './kvmclone/agent/v1/MapExtentsResponse.js';
import type { OpenLiveViewRequest as _kvmclone_agent_v1_OpenLiveViewRequest, OpenLiveViewRequest__Output as _kvmclone_agent_v1_OpenLiveViewRequest__Output } from './kvmclone/agent/v1/OpenLiveViewRequest.js';
import type { OpenTicketRequest as _kvmclone_agent_v1_OpenTicketRequest, OpenTicketRequest__Output as _kvmclone_agent_v1_OpenTicketRequest__Output } from './kvmclone/agent/v1/OpenTicketRequest.js';
import type { PruneCheckpointsRequest as _kvmclone_agent_v1_PruneCheckpointsRequest, PruneCheckpointsRequest__Output as _kvmclone_agent_v1_PruneCheckpointsRequest__Output } from './kvmclone/agent/v1/PruneCheckpointsRequest.js';
import type { PruneCheckpointsResponse as _kvmclone_agent_v1_PruneCheckpointsResponse, PruneCheckpointsResponse__Output as _kvmclone_agent_v1_PruneCheckpointsResponse__Output } from './kvmclone/agent/v1/PruneCheckpointsResponse.js';
import type { PullImageRequest as _kvmclone_agent_v1_PullImageRequest, PullImageRequest__Output as _kvmclone_agent_v1_PullImageRequest__Output } from './kvmclone/agent/v1/PullImageRequest.js';
import type { PullProgress as _kvmclone_agent_v1_PullProgress, PullProgress__Output as _kvmclone_agent_v1_PullProgress__Output } from './kvmclone/agent/v1/PullProgress.js';
import type { ReadRangesBatch as _kvmclone_agent_v1_ReadRangesBatch, ReadRangesBatch__Output as _kvmclone_agent_v1_ReadRangesBatch__Output } from './kvmclone/agent/v1/ReadRangesBatch.js';
import type { ReadRangesRequest as _kvmclone_agent_v1_ReadRangesRequest, ReadRangesRequest__Output as _kvmclone_agent_v1_ReadRangesRequest__Output } from './kvmclone/agent/v1/ReadRangesRequest.js';
import type { ReadRangesResponse as _kvmclone_agent_v1_ReadRangesResponse, ReadRangesResponse__Output as _kvmclone_agent_v1_ReadRangesResponse__Output } from './kvmclone/agent/v1/ReadRangesResponse.js';
import type { RebaseStagingRequest as _kvmclone_agent_v1_RebaseStagingRequest, RebaseStagingRequest__Output as _kvmclone_agent_v1_RebaseStagingRequest__Output } from './kvmclone/agent/v1/RebaseStagingRequest.js';
import type { RebaseStagingResponse as _kvmclone_agent_v1_RebaseStagingResponse, RebaseStagingResponse__Output as _kvmclone_agent_v1_RebaseStagingResponse__Output } from './kvmclone/agent/v1/RebaseStagingResponse.js';
import type { RemoveImageRequest as _kvmclone_agent_v1_RemoveImageRequest, RemoveImageRequest__Output as _kvmclone_agent_v1_RemoveImageRequest__Output } from './kvmclone/agent/v1/RemoveImageRequest.js';
import type { RemoveImageResponse as _kvmclone_agent_v1_RemoveImageResponse, RemoveImageResponse__Output as _kvmclone_agent_v1_RemoveImageResponse__Output } from './kvmclone/agent/v1/RemoveImageResponse.js';
import type { RemoveLeftoversRequest as _kvmclone_agent_v1_RemoveLeftoversRequest, RemoveLeftoversRequest__Output as _kvmclone_agent_v1_RemoveLeftoversRequest__Output } from './kvmclone/agent/v1/RemoveLeftoversRequest.js';
import type { RemoveLeftoversResponse as _kvmclone_agent_v1_RemoveLeftoversResponse, RemoveLeftoversResponse__Output as _kvmclone_agent_v1_RemoveLeftoversResponse__Output } from './kvmclone/agent/v1/RemoveLeftoversResponse.js';
import type { RemovePeerSocketRequest as _kvmclone_agent_v1_RemovePeerSocketRequest, RemovePeerSocketRequest__Output as _kvmclone_agent_v1_RemovePeerSocketRequest__Output } from './kvmclone/agent/v1/RemovePeerSocketRequest.js';
import type { RemovePeerSocketResponse as _kvmclone_agent_v1_RemovePeerSocketResponse, RemovePeerSocketResponse__Output as _kvmclone_agent_v1_RemovePeerSocketResponse__Output } from './kvmclone/agent/v1/RemovePeerSocketResponse.js';
import type { RemoveRestorePointsRequest as _kvmclone_agent_v1_RemoveRestorePointsRequest, RemoveRestorePointsRequest__Output as _kvmclone_agent_v1_RemoveRestorePointsRequest__Output } from './kvmclone/agent/v1/RemoveRestorePointsRequest.js';
import type { RemoveRestorePointsResponse as _kvmclone_agent_v1_RemoveRestorePointsResponse, RemoveRestorePointsResponse__Output as _kvmclone_agent_v1_RemoveRestorePointsResponse__Output } from './kvmclone/agent/v1/RemoveRestorePointsResponse.js';
import type { RestorePointInfo as _kvmclone_agent_v1_RestorePointInfo, RestorePointInfo__Output as _kvmclone_agent_v1_RestorePointInfo__Output } from './kvmclone/agent/v1/RestorePointInfo.js';
import type { RestorePointProgress as _kvmclone_agent_v1_RestorePointProgress, RestorePointProgress__Output as _kvmclone_agent_v1_RestorePointProgress__Output } from './kvmclone/agent/v1/RestorePointProgress.js';
import type { RestorePointRequest as _kvmclone_agent_v1_RestorePointRequest, RestorePointRequest__Output as _kvmclone_agent_v1_RestorePointRequest__Output } from './kvmclone/agent/v1/RestorePointRequest.js';
import type { StatImageRequest as _kvmclone_agent_v1_StatImageRequest, StatImageRequest__Output as _kvmclone_agent_v1_StatImageRequest__Output } from './kvmclone/agent/v1/StatImageRequest.js';
import type { StatImageResponse as _kvmclone_agent_v1_StatImageResponse, StatImageResponse__Output as _kvmclone_agent_v1_StatImageResponse__Output } from './kvmclone/agent/v1/StatImageResponse.js';
import type { TicketEvent as _kvmclone_agent_v1_TicketEvent, TicketEvent__Output as _kvmclone_agent_v1_TicketEvent__Output } from './kvmclone/agent/v1/TicketEvent.js';
import type { TransferServiceClient as _kvmclone_agent_v1_TransferServiceClient, TransferServiceDefinition as _kvmclone_agent_v1_TransferServiceDefinition } from './kvmclone/agent/v1/TransferService.js';
import type { WriteOpen as _kvmclone_agent_v1_WriteOpen, WriteOpen__Output as _kvmclone_agent_v1_WriteOpen__Output } from './kvmclone/agent/v1/WriteOpen.js';
import type { WriteRangesRequest as _kvmclone_agent_v1_WriteRangesRequest, WriteRangesRequest__Output as _kvmclone_agent_v1_WriteRangesRequest__Output } from './kvmclone/agent/v1/WriteRangesRequest.js';
import type { WriteRangesResponse as _kvmclone_agent_v1_WriteRangesResponse, WriteRangesResponse__Output as _kvmclone_agent_v1_WriteRangesResponse__Output } from './kvmclone/agent/v1/WriteRangesResponse.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  kvmclone: {
    agent: {
      v1: {
        AbortStagingRequest: MessageTypeDefinition<_kvmclone_agent_v1_AbortStagingRequest, _kvmclone_agent_v1_AbortStagingRequest__Output>
        AbortStagingResponse: MessageTypeDefinition<_kvmclone_agent_v1_AbortStagingResponse, _kvmclone_agent_v1_AbortStagingResponse__Output>
        ByteRange: MessageTypeDefinition<_kvmclone_agent_v1_ByteRange, _kvmclone_agent_v1_ByteRange__Output>
        CommitStagingRequest: MessageTypeDefinition<_kvmclone_agent_v1_CommitStagingRequest, _kvmclone_agent_v1_CommitStagingRequest__Output>
        CommitStagingResponse: MessageTypeDefinition<_kvmclone_agent_v1_CommitStagingResponse, _kvmclone_agent_v1_CommitStagingResponse__Output>
        Compress: EnumTypeDefinition
        Compression: EnumTypeDefinition
        DataChunk: MessageTypeDefinition<_kvmclone_agent_v1_DataChunk, _kvmclone_agent_v1_DataChunk__Output>
        DescribeLiveViewRequest: MessageTypeDefinition<_kvmclone_agent_v1_DescribeLiveViewRequest, _kvmclone_agent_v1_DescribeLiveViewRequest__Output>
        DigestImageRequest: MessageTypeDefinition<_kvmclone_agent_v1_DigestImageRequest, _kvmclone_agent_v1_DigestImageRequest__Output>
        DigestImageResponse: MessageTypeDefinition<_kvmclone_agent_v1_DigestImageResponse, _kvmclone_agent_v1_DigestImageResponse__Output>
        /**
         * DiskService is the data plane: extents, block hashes, and the bytes of disk
         * images. It carries bytes and nothing else. Every path must resolve (symlinks
         * included) under the agent's image roots, or the call fails with
         * PERMISSION_DENIED before any file is opened.
         * 
         * Offsets and lengths are bytes of the image file as stored on the host (a
         * qcow2 image is moved as its qcow2 file, so its metadata and backing
         * reference travel with it).
         */
        DiskService: SubtypeConstructor<typeof grpc.Client, _kvmclone_agent_v1_DiskServiceClient> & { service: _kvmclone_agent_v1_DiskServiceDefinition }
        Extent: MessageTypeDefinition<_kvmclone_agent_v1_Extent, _kvmclone_agent_v1_Extent__Output>
        ExtentKind: EnumTypeDefinition
        ExtentLayer: EnumTypeDefinition
        HashBlocksRequest: MessageTypeDefinition<_kvmclone_agent_v1_HashBlocksRequest, _kvmclone_agent_v1_HashBlocksRequest__Output>
        HashBlocksResponse: MessageTypeDefinition<_kvmclone_agent_v1_HashBlocksResponse, _kvmclone_agent_v1_HashBlocksResponse__Output>
        HoldLockRequest: MessageTypeDefinition<_kvmclone_agent_v1_HoldLockRequest, _kvmclone_agent_v1_HoldLockRequest__Output>
        Leftover: MessageTypeDefinition<_kvmclone_agent_v1_Leftover, _kvmclone_agent_v1_Leftover__Output>
        LeftoverKind: EnumTypeDefinition
        ListLeftoversRequest: MessageTypeDefinition<_kvmclone_agent_v1_ListLeftoversRequest, _kvmclone_agent_v1_ListLeftoversRequest__Output>
        ListLeftoversResponse: MessageTypeDefinition<_kvmclone_agent_v1_ListLeftoversResponse, _kvmclone_agent_v1_ListLeftoversResponse__Output>
        ListRestorePointsRequest: MessageTypeDefinition<_kvmclone_agent_v1_ListRestorePointsRequest, _kvmclone_agent_v1_ListRestorePointsRequest__Output>
        ListRestorePointsResponse: MessageTypeDefinition<_kvmclone_agent_v1_ListRestorePointsResponse, _kvmclone_agent_v1_ListRestorePointsResponse__Output>
        LiveDisk: MessageTypeDefinition<_kvmclone_agent_v1_LiveDisk, _kvmclone_agent_v1_LiveDisk__Output>
        LiveViewEvent: MessageTypeDefinition<_kvmclone_agent_v1_LiveViewEvent, _kvmclone_agent_v1_LiveViewEvent__Output>
        LockEvent: MessageTypeDefinition<_kvmclone_agent_v1_LockEvent, _kvmclone_agent_v1_LockEvent__Output>
        MapExtentsRequest: MessageTypeDefinition<_kvmclone_agent_v1_MapExtentsRequest, _kvmclone_agent_v1_MapExtentsRequest__Output>
        MapExtentsResponse: MessageTypeDefinition<_kvmclone_agent_v1_MapExtentsResponse, _kvmclone_agent_v1_MapExtentsResponse__Output>
        OpenLiveViewRequest: MessageTypeDefinition<_kvmclone_agent_v1_OpenLiveViewRequest, _kvmclone_agent_v1_OpenLiveViewRequest__Output>
        OpenTicketRequest: MessageTypeDefinition<_kvmclone_agent_v1_OpenTicketRequest, _kvmclone_agent_v1_OpenTicketRequest__Output>
        PruneCheckpointsRequest: MessageTypeDefinition<_kvmclone_agent_v1_PruneCheckpointsRequest, _kvmclone_agent_v1_PruneCheckpointsRequest__Output>
        PruneCheckpointsResponse: MessageTypeDefinition<_kvmclone_agent_v1_PruneCheckpointsResponse, _kvmclone_agent_v1_PruneCheckpointsResponse__Output>
        PullImageRequest: MessageTypeDefinition<_kvmclone_agent_v1_PullImageRequest, _kvmclone_agent_v1_PullImageRequest__Output>
        PullMode: EnumTypeDefinition
        PullProgress: MessageTypeDefinition<_kvmclone_agent_v1_PullProgress, _kvmclone_agent_v1_PullProgress__Output>
        Quiesce: EnumTypeDefinition
        ReadRangesBatch: MessageTypeDefinition<_kvmclone_agent_v1_ReadRangesBatch, _kvmclone_agent_v1_ReadRangesBatch__Output>
        ReadRangesRequest: MessageTypeDefinition<_kvmclone_agent_v1_ReadRangesRequest, _kvmclone_agent_v1_ReadRangesRequest__Output>
        ReadRangesResponse: MessageTypeDefinition<_kvmclone_agent_v1_ReadRangesResponse, _kvmclone_agent_v1_ReadRangesResponse__Output>
        RebaseStagingRequest: MessageTypeDefinition<_kvmclone_agent_v1_RebaseStagingRequest, _kvmclone_agent_v1_RebaseStagingRequest__Output>
        RebaseStagingResponse: MessageTypeDefinition<_kvmclone_agent_v1_RebaseStagingResponse, _kvmclone_agent_v1_RebaseStagingResponse__Output>
        RemoveImageRequest: MessageTypeDefinition<_kvmclone_agent_v1_RemoveImageRequest, _kvmclone_agent_v1_RemoveImageRequest__Output>
        RemoveImageResponse: MessageTypeDefinition<_kvmclone_agent_v1_RemoveImageResponse, _kvmclone_agent_v1_RemoveImageResponse__Output>
        RemoveLeftoversRequest: MessageTypeDefinition<_kvmclone_agent_v1_RemoveLeftoversRequest, _kvmclone_agent_v1_RemoveLeftoversRequest__Output>
        RemoveLeftoversResponse: MessageTypeDefinition<_kvmclone_agent_v1_RemoveLeftoversResponse, _kvmclone_agent_v1_RemoveLeftoversResponse__Output>
        RemovePeerSocketRequest: MessageTypeDefinition<_kvmclone_agent_v1_RemovePeerSocketRequest, _kvmclone_agent_v1_RemovePeerSocketRequest__Output>
        RemovePeerSocketResponse: MessageTypeDefinition<_kvmclone_agent_v1_RemovePeerSocketResponse, _kvmclone_agent_v1_RemovePeerSocketResponse__Output>
        RemoveRestorePointsRequest: MessageTypeDefinition<_kvmclone_agent_v1_RemoveRestorePointsRequest, _kvmclone_agent_v1_RemoveRestorePointsRequest__Output>
        RemoveRestorePointsResponse: MessageTypeDefinition<_kvmclone_agent_v1_RemoveRestorePointsResponse, _kvmclone_agent_v1_RemoveRestorePointsResponse__Output>
        RestorePointInfo: MessageTypeDefinition<_kvmclone_agent_v1_RestorePointInfo, _kvmclone_agent_v1_RestorePointInfo__Output>
        RestorePointProgress: MessageTypeDefinition<_kvmclone_agent_v1_RestorePointProgress, _kvmclone_agent_v1_RestorePointProgress__Output>
        RestorePointRequest: MessageTypeDefinition<_kvmclone_agent_v1_RestorePointRequest, _kvmclone_agent_v1_RestorePointRequest__Output>
        StatImageRequest: MessageTypeDefinition<_kvmclone_agent_v1_StatImageRequest, _kvmclone_agent_v1_StatImageRequest__Output>
        StatImageResponse: MessageTypeDefinition<_kvmclone_agent_v1_StatImageResponse, _kvmclone_agent_v1_StatImageResponse__Output>
        TicketEvent: MessageTypeDefinition<_kvmclone_agent_v1_TicketEvent, _kvmclone_agent_v1_TicketEvent__Output>
        /**
         * TransferService moves images agent to agent, so disk blocks never pass
         * through the controller. The controller brokers an SSH path: the source
         * agent's peer socket (read-only, ticket-guarded) is forwarded to the
         * controller and re-exposed on the destination host as a per-operation
         * socket; the destination agent dials it and pulls.
         */
        TransferService: SubtypeConstructor<typeof grpc.Client, _kvmclone_agent_v1_TransferServiceClient> & { service: _kvmclone_agent_v1_TransferServiceDefinition }
        WriteOpen: MessageTypeDefinition<_kvmclone_agent_v1_WriteOpen, _kvmclone_agent_v1_WriteOpen__Output>
        WriteRangesRequest: MessageTypeDefinition<_kvmclone_agent_v1_WriteRangesRequest, _kvmclone_agent_v1_WriteRangesRequest__Output>
        WriteRangesResponse: MessageTypeDefinition<_kvmclone_agent_v1_WriteRangesResponse, _kvmclone_agent_v1_WriteRangesResponse__Output>
      }
    }
  }
}

