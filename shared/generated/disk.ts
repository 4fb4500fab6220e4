import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { AbortStagingRequest as _kvmclone_agent_v1_AbortStagingRequest, AbortStagingRequest__Output as _kvmclone_agent_v1_AbortStagingRequest__Output } from './kvmclone/agent/v1/AbortStagingRequest.js';
import type { AbortStagingResponse as _kvmclone_agent_v1_AbortStagingResponse, AbortStagingResponse__Output as _kvmclone_agent_v1_AbortStagingResponse__Output } from './kvmclone/agent/v1/AbortStagingResponse.js';
import type { ByteRange as _kvmclone_agent_v1_ByteRange, ByteRange__Output as _kvmclone_agent_v1_ByteRange__Output } from './kvmclone/agent/v1/ByteRange.js';
import type { CommitStagingRequest as _kvmclone_agent_v1_CommitStagingRequest, CommitStagingRequest__Output as _kvmclone_agent_v1_CommitStagingRequest__Output } from './kvmclone/agent/v1/CommitStagingRequest.js';
import type { CommitStagingResponse as _kvmclone_agent_v1_CommitStagingResponse, CommitStagingResponse__Output as _kvmclone_agent_v1_CommitStagingResponse__Output } from './kvmclone/agent/v1/CommitStagingResponse.js';
import type { DataChunk as _kvmclone_agent_v1_DataChunk, DataChunk__Output as _kvmclone_agent_v1_DataChunk__Output } from './kvmclone/agent/v1/DataChunk.js';
import type { DigestImageRequest as _kvmclone_agent_v1_DigestImageRequest, DigestImageRequest__Output as _kvmclone_agent_v1_DigestImageRequest__Output } from './kvmclone/agent/v1/DigestImageRequest.js';
import type { DigestImageResponse as _kvmclone_agent_v1_DigestImageResponse, DigestImageResponse__Output as _kvmclone_agent_v1_DigestImageResponse__Output } from './kvmclone/agent/v1/DigestImageResponse.js';
import type { DiskServiceClient as _kvmclone_agent_v1_DiskServiceClient, DiskServiceDefinition as _kvmclone_agent_v1_DiskServiceDefinition } from './kvmclone/agent/v1/DiskService.js';
import type { Extent as _kvmclone_agent_v1_Extent, Extent__Output as _kvmclone_agent_v1_Extent__Output } from './kvmclone/agent/v1/Extent.js';
import type { HashBlocksRequest as _kvmclone_agent_v1_HashBlocksRequest, HashBlocksRequest__Output as _kvmclone_agent_v1_HashBlocksRequest__Output } from './kvmclone/agent/v1/HashBlocksRequest.js';
import type { HashBlocksResponse as _kvmclone_agent_v1_HashBlocksResponse, HashBlocksResponse__Output as _kvmclone_agent_v1_HashBlocksResponse__Output } from './kvmclone/agent/v1/HashBlocksResponse.js';
import type { MapExtentsRequest as _kvmclone_agent_v1_MapExtentsRequest, MapExtentsRequest__Output as _kvmclone_agent_v1_MapExtentsRequest__Output } from './kvmclone/agent/v1/MapExtentsRequest.js';
import type { MapExtentsResponse as _kvmclone_agent_v1_MapExtentsResponse, MapExtentsResponse__Output as _kvmclone_agent_v1_MapExtentsResponse__Output } from './kvmclone/agent/v1/MapExtentsResponse.js';
import type { ReadRangesBatch as _kvmclone_agent_v1_ReadRangesBatch, ReadRangesBatch__Output as _kvmclone_agent_v1_ReadRangesBatch__Output } from './kvmclone/agent/v1/ReadRangesBatch.js';
import type { ReadRangesRequest as _kvmclone_agent_v1_ReadRangesRequest, ReadRangesRequest__Output as _kvmclone_agent_v1_ReadRangesRequest__Output } from './kvmclone/agent/v1/ReadRangesRequest.js';
import type { ReadRangesResponse as _kvmclone_agent_v1_ReadRangesResponse, ReadRangesResponse__Output as _kvmclone_agent_v1_ReadRangesResponse__Output } from './kvmclone/agent/v1/ReadRangesResponse.js';
import type { RebaseStagingRequest as _kvmclone_agent_v1_RebaseStagingRequest, RebaseStagingRequest__Output as _kvmclone_agent_v1_RebaseStagingRequest__Output } from './kvmclone/agent/v1/RebaseStagingRequest.js';
import type { RebaseStagingResponse as _kvmclone_agent_v1_RebaseStagingResponse, RebaseStagingResponse__Output as _kvmclone_agent_v1_RebaseStagingResponse__Output } from './kvmclone/agent/v1/RebaseStagingResponse.js';
import type { RemoveImageRequest as _kvmclone_agent_v1_RemoveImageRequest, RemoveImageRequest__Output as _kvmclone_agent_v1_RemoveImageRequest__Output } from './kvmclone/agent/v1/RemoveImageRequest.js';
import type { RemoveImageResponse as _kvmclone_agent_v1_RemoveImageResponse, RemoveImageResponse__Output as _kvmclone_agent_v1_RemoveImageResponse__Output } from './kvmclone/agent/v1/RemoveImageResponse.js';
import type { StatImageRequest as _kvmclone_agent_v1_StatImageRequest, StatImageRequest__Output as _kvmclone_agent_v1_StatImageRequest__Output } from './kvmclone/agent/v1/StatImageRequest.js';
import type { StatImageResponse as _kvmclone_agent_v1_StatImageResponse, StatImageResponse__Output as _kvmclone_agent_v1_StatImageResponse__Output } from './kvmclone/agent/v1/StatImageResponse.js';
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
        MapExtentsRequest: MessageTypeDefinition<_kvmclone_agent_v1_MapExtentsRequest, _kvmclone_agent_v1_MapExtentsRequest__Output>
        MapExtentsResponse: MessageTypeDefinition<_kvmclone_agent_v1_MapExtentsResponse, _kvmclone_agent_v1_MapExtentsResponse__Output>
        ReadRangesBatch: MessageTypeDefinition<_kvmclone_agent_v1_ReadRangesBatch, _kvmclone_agent_v1_ReadRangesBatch__Output>
        ReadRangesRequest: MessageTypeDefinition<_kvmclone_agent_v1_ReadRangesRequest, _kvmclone_agent_v1_ReadRangesRequest__Output>
        ReadRangesResponse: MessageTypeDefinition<_kvmclone_agent_v1_ReadRangesResponse, _kvmclone_agent_v1_ReadRangesResponse__Output>
        RebaseStagingRequest: MessageTypeDefinition<_kvmclone_agent_v1_RebaseStagingRequest, _kvmclone_agent_v1_RebaseStagingRequest__Output>
        RebaseStagingResponse: MessageTypeDefinition<_kvmclone_agent_v1_RebaseStagingResponse, _kvmclone_agent_v1_RebaseStagingResponse__Output>
        RemoveImageRequest: MessageTypeDefinition<_kvmclone_agent_v1_RemoveImageRequest, _kvmclone_agent_v1_RemoveImageRequest__Output>
        RemoveImageResponse: MessageTypeDefinition<_kvmclone_agent_v1_RemoveImageResponse, _kvmclone_agent_v1_RemoveImageResponse__Output>
        StatImageRequest: MessageTypeDefinition<_kvmclone_agent_v1_StatImageRequest, _kvmclone_agent_v1_StatImageRequest__Output>
        StatImageResponse: MessageTypeDefinition<_kvmclone_agent_v1_StatImageResponse, _kvmclone_agent_v1_StatImageResponse__Output>
        WriteOpen: MessageTypeDefinition<_kvmclone_agent_v1_WriteOpen, _kvmclone_agent_v1_WriteOpen__Output>
        WriteRangesRequest: MessageTypeDefinition<_kvmclone_agent_v1_WriteRangesRequest, _kvmclone_agent_v1_WriteRangesRequest__Output>
        WriteRangesResponse: MessageTypeDefinition<_kvmclone_agent_v1_WriteRangesResponse, _kvmclone_agent_v1_WriteRangesResponse__Output>
      }
    }
  }
}

