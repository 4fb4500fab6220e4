// Original file: proto/kvmclone/agent/v1/disk.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AbortStagingRequest as _kvmclone_agent_v1_AbortStagingRequest, AbortStagingRequest__Output as _kvmclone_agent_v1_AbortStagingRequest__Output } from '../../../kvmclone/agent/v1/AbortStagingRequest.js';
import type { AbortStagingResponse as _kvmclone_agent_v1_AbortStagingResponse, AbortStagingResponse__Output as _kvmclone_agent_v1_AbortStagingResponse__Output } from '../../../kvmclone/agent/v1/AbortStagingResponse.js';
import type { CommitStagingRequest as _kvmclone_agent_v1_CommitStagingRequest, CommitStagingRequest__Output as _kvmclone_agent_v1_CommitStagingRequest__Output } from '../../../kvmclone/agent/v1/CommitStagingRequest.js';
import type { CommitStagingResponse as _kvmclone_agent_v1_CommitStagingResponse, CommitStagingResponse__Output as _kvmclone_agent_v1_CommitStagingResponse__Output } from '../../../kvmclone/agent/v1/CommitStagingResponse.js';
import type { DigestImageRequest as _kvmclone_agent_v1_DigestImageRequest, DigestImageRequest__Output as _kvmclone_agent_v1_DigestImageRequest__Output } from '../../../kvmclone/agent/v1/DigestImageRequest.js';
import type { DigestImageResponse as _kvmclone_agent_v1_DigestImageResponse, DigestImageResponse__Output as _kvmclone_agent_v1_DigestImageResponse__Output } from '../../../kvmclone/agent/v1/DigestImageResponse.js';
import type { HashBlocksRequest as _kvmclone_agent_v1_HashBlocksRequest, HashBlocksRequest__Output as _kvmclone_agent_v1_HashBlocksRequest__Output } from '../../../kvmclone/agent/v1/HashBlocksRequest.js';
import type { HashBlocksResponse as _kvmclone_agent_v1_HashBlocksResponse, HashBlocksResponse__Output as _kvmclone_agent_v1_HashBlocksResponse__Output } from '../../../kvmclone/agent/v1/HashBlocksResponse.js';
import type { MapExtentsRequest as _kvmclone_agent_v1_MapExtentsRequest, MapExtentsRequest__Output as _kvmclone_agent_v1_MapExtentsRequest__Output } from '../../../kvmclone/agent/v1/MapExtentsRequest.js';
import type { MapExtentsResponse as _kvmclone_agent_v1_MapExtentsResponse, MapExtentsResponse__Output as _kvmclone_agent_v1_MapExtentsResponse__Output } from '../../../kvmclone/agent/v1/MapExtentsResponse.js';
import type { ReadRangesRequest as _kvmclone_agent_v1_ReadRangesRequest, ReadRangesRequest__Output as _kvmclone_agent_v1_ReadRangesRequest__Output } from '../../../kvmclone/agent/v1/ReadRangesRequest.js';
import type { ReadRangesResponse as _kvmclone_agent_v1_ReadRangesResponse, ReadRangesResponse__Output as _kvmclone_agent_v1_ReadRangesResponse__Output } from '../../../kvmclone/agent/v1/ReadRangesResponse.js';
import type { RebaseStagingRequest as _kvmclone_agent_v1_RebaseStagingRequest, RebaseStagingRequest__Output as _kvmclone_agent_v1_RebaseStagingRequest__Output } from '../../../kvmclone/agent/v1/RebaseStagingRequest.js';
import type { RebaseStagingResponse as _kvmclone_agent_v1_RebaseStagingResponse, RebaseStagingResponse__Output as _kvmclone_agent_v1_RebaseStagingResponse__Output } from '../../../kvmclone/agent/v1/RebaseStagingResponse.js';
import type { RemoveImageRequest as _kvmclone_agent_v1_RemoveImageRequest, RemoveImageRequest__Output as _kvmclone_agent_v1_RemoveImageRequest__Output } from '../../../kvmclone/agent/v1/RemoveImageRequest.js';
import type { RemoveImageResponse as _kvmclone_agent_v1_RemoveImageResponse, RemoveImageResponse__Output as _kvmclone_agent_v1_RemoveImageResponse__Output } from '../../../kvmclone/agent/v1/RemoveImageResponse.js';
import type { StatImageRequest as _kvmclone_agent_v1_StatImageRequest, StatImageRequest__Output as _kvmclone_agent_v1_StatImageRequest__Output } from '../../../kvmclone/agent/v1/StatImageRequest.js';
import type { StatImageResponse as _kvmclone_agent_v1_StatImageResponse, StatImageResponse__Output as _kvmclone_agent_v1_StatImageResponse__Output } from '../../../kvmclone/agent/v1/StatImageResponse.js';
import type { WriteRangesRequest as _kvmclone_agent_v1_WriteRangesRequest, WriteRangesRequest__Output as _kvmclone_agent_v1_WriteRangesRequest__Output } from '../../../kvmclone/agent/v1/WriteRangesRequest.js';
import type { WriteRangesResponse as _kvmclone_agent_v1_WriteRangesResponse, WriteRangesResponse__Output as _kvmclone_agent_v1_WriteRangesResponse__Output } from '../../../kvmclone/agent/v1/WriteRangesResponse.js';

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
export interface DiskServiceClient extends grpc.Client {
  /**
   * Remove a staging file. Removing one that is already gone succeeds.
   */
  AbortStaging(argument: _kvmclone_agent_v1_AbortStagingRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_AbortStagingResponse__Output>): grpc.ClientUnaryCall;
  AbortStaging(argument: _kvmclone_agent_v1_AbortStagingRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_AbortStagingResponse__Output>): grpc.ClientUnaryCall;
  AbortStaging(argument: _kvmclone_agent_v1_AbortStagingRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_AbortStagingResponse__Output>): grpc.ClientUnaryCall;
  AbortStaging(argument: _kvmclone_agent_v1_AbortStagingRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_AbortStagingResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Remove a staging file. Removing one that is already gone succeeds.
   */
  abortStaging(argument: _kvmclone_agent_v1_AbortStagingRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_AbortStagingResponse__Output>): grpc.ClientUnaryCall;
  abortStaging(argument: _kvmclone_agent_v1_AbortStagingRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_AbortStagingResponse__Output>): grpc.ClientUnaryCall;
  abortStaging(argument: _kvmclone_agent_v1_AbortStagingRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_AbortStagingResponse__Output>): grpc.ClientUnaryCall;
  abortStaging(argument: _kvmclone_agent_v1_AbortStagingRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_AbortStagingResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * fsync the staging file, then move it into place atomically.
   */
  CommitStaging(argument: _kvmclone_agent_v1_CommitStagingRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_CommitStagingResponse__Output>): grpc.ClientUnaryCall;
  CommitStaging(argument: _kvmclone_agent_v1_CommitStagingRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_CommitStagingResponse__Output>): grpc.ClientUnaryCall;
  CommitStaging(argument: _kvmclone_agent_v1_CommitStagingRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_CommitStagingResponse__Output>): grpc.ClientUnaryCall;
  CommitStaging(argument: _kvmclone_agent_v1_CommitStagingRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_CommitStagingResponse__Output>): grpc.ClientUnaryCall;
  /**
   * fsync the staging file, then move it into place atomically.
   */
  commitStaging(argument: _kvmclone_agent_v1_CommitStagingRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_CommitStagingResponse__Output>): grpc.ClientUnaryCall;
  commitStaging(argument: _kvmclone_agent_v1_CommitStagingRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_CommitStagingResponse__Output>): grpc.ClientUnaryCall;
  commitStaging(argument: _kvmclone_agent_v1_CommitStagingRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_CommitStagingResponse__Output>): grpc.ClientUnaryCall;
  commitStaging(argument: _kvmclone_agent_v1_CommitStagingRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_CommitStagingResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Whole-image digest that both sides of a copy can compare.
   */
  DigestImage(argument: _kvmclone_agent_v1_DigestImageRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_DigestImageResponse__Output>): grpc.ClientUnaryCall;
  DigestImage(argument: _kvmclone_agent_v1_DigestImageRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_DigestImageResponse__Output>): grpc.ClientUnaryCall;
  DigestImage(argument: _kvmclone_agent_v1_DigestImageRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_DigestImageResponse__Output>): grpc.ClientUnaryCall;
  DigestImage(argument: _kvmclone_agent_v1_DigestImageRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_DigestImageResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Whole-image digest that both sides of a copy can compare.
   */
  digestImage(argument: _kvmclone_agent_v1_DigestImageRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_DigestImageResponse__Output>): grpc.ClientUnaryCall;
  digestImage(argument: _kvmclone_agent_v1_DigestImageRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_DigestImageResponse__Output>): grpc.ClientUnaryCall;
  digestImage(argument: _kvmclone_agent_v1_DigestImageRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_DigestImageResponse__Output>): grpc.ClientUnaryCall;
  digestImage(argument: _kvmclone_agent_v1_DigestImageRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_DigestImageResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Hashes of fixed-size blocks (blake3 truncated to 128 bits), in batches.
   */
  HashBlocks(argument: _kvmclone_agent_v1_HashBlocksRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_HashBlocksResponse__Output>;
  HashBlocks(argument: _kvmclone_agent_v1_HashBlocksRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_HashBlocksResponse__Output>;
  /**
   * Hashes of fixed-size blocks (blake3 truncated to 128 bits), in batches.
   */
  hashBlocks(argument: _kvmclone_agent_v1_HashBlocksRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_HashBlocksResponse__Output>;
  hashBlocks(argument: _kvmclone_agent_v1_HashBlocksRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_HashBlocksResponse__Output>;
  
  /**
   * Extent map of an image: data, holes, and (on request) zero runs.
   */
  MapExtents(argument: _kvmclone_agent_v1_MapExtentsRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_MapExtentsResponse__Output>;
  MapExtents(argument: _kvmclone_agent_v1_MapExtentsRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_MapExtentsResponse__Output>;
  /**
   * Extent map of an image: data, holes, and (on request) zero runs.
   */
  mapExtents(argument: _kvmclone_agent_v1_MapExtentsRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_MapExtentsResponse__Output>;
  mapExtents(argument: _kvmclone_agent_v1_MapExtentsRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_MapExtentsResponse__Output>;
  
  /**
   * Offset-stamped chunks of the image; holes and all-zero blocks are not
   * sent as bytes but announced as zero ranges.
   */
  ReadRanges(argument: _kvmclone_agent_v1_ReadRangesRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_ReadRangesResponse__Output>;
  ReadRanges(argument: _kvmclone_agent_v1_ReadRangesRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_ReadRangesResponse__Output>;
  /**
   * Offset-stamped chunks of the image; holes and all-zero blocks are not
   * sent as bytes but announced as zero ranges.
   */
  readRanges(argument: _kvmclone_agent_v1_ReadRangesRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_ReadRangesResponse__Output>;
  readRanges(argument: _kvmclone_agent_v1_ReadRangesRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_ReadRangesResponse__Output>;
  
  /**
   * Point a staged qcow2 image at a new backing file (its header only; the
   * data is not touched), so a copied chain keeps working at its new paths.
   */
  RebaseStaging(argument: _kvmclone_agent_v1_RebaseStagingRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_RebaseStagingResponse__Output>): grpc.ClientUnaryCall;
  RebaseStaging(argument: _kvmclone_agent_v1_RebaseStagingRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_RebaseStagingResponse__Output>): grpc.ClientUnaryCall;
  RebaseStaging(argument: _kvmclone_agent_v1_RebaseStagingRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_RebaseStagingResponse__Output>): grpc.ClientUnaryCall;
  RebaseStaging(argument: _kvmclone_agent_v1_RebaseStagingRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_RebaseStagingResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Point a staged qcow2 image at a new backing file (its header only; the
   * data is not touched), so a copied chain keeps working at its new paths.
   */
  rebaseStaging(argument: _kvmclone_agent_v1_RebaseStagingRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_RebaseStagingResponse__Output>): grpc.ClientUnaryCall;
  rebaseStaging(argument: _kvmclone_agent_v1_RebaseStagingRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_RebaseStagingResponse__Output>): grpc.ClientUnaryCall;
  rebaseStaging(argument: _kvmclone_agent_v1_RebaseStagingRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_RebaseStagingResponse__Output>): grpc.ClientUnaryCall;
  rebaseStaging(argument: _kvmclone_agent_v1_RebaseStagingRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_RebaseStagingResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Delete an image file under the roots (a disk removed from a synced VM).
   * Removing one that is already gone succeeds with removed = false.
   */
  RemoveImage(argument: _kvmclone_agent_v1_RemoveImageRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_RemoveImageResponse__Output>): grpc.ClientUnaryCall;
  RemoveImage(argument: _kvmclone_agent_v1_RemoveImageRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_RemoveImageResponse__Output>): grpc.ClientUnaryCall;
  RemoveImage(argument: _kvmclone_agent_v1_RemoveImageRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_RemoveImageResponse__Output>): grpc.ClientUnaryCall;
  RemoveImage(argument: _kvmclone_agent_v1_RemoveImageRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_RemoveImageResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Delete an image file under the roots (a disk removed from a synced VM).
   * Removing one that is already gone succeeds with removed = false.
   */
  removeImage(argument: _kvmclone_agent_v1_RemoveImageRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_RemoveImageResponse__Output>): grpc.ClientUnaryCall;
  removeImage(argument: _kvmclone_agent_v1_RemoveImageRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_RemoveImageResponse__Output>): grpc.ClientUnaryCall;
  removeImage(argument: _kvmclone_agent_v1_RemoveImageRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_RemoveImageResponse__Output>): grpc.ClientUnaryCall;
  removeImage(argument: _kvmclone_agent_v1_RemoveImageRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_RemoveImageResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Facts about one image file (qemu-img info plus the filesystem's view).
   */
  StatImage(argument: _kvmclone_agent_v1_StatImageRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_StatImageResponse__Output>): grpc.ClientUnaryCall;
  StatImage(argument: _kvmclone_agent_v1_StatImageRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_StatImageResponse__Output>): grpc.ClientUnaryCall;
  StatImage(argument: _kvmclone_agent_v1_StatImageRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_StatImageResponse__Output>): grpc.ClientUnaryCall;
  StatImage(argument: _kvmclone_agent_v1_StatImageRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_StatImageResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Facts about one image file (qemu-img info plus the filesystem's view).
   */
  statImage(argument: _kvmclone_agent_v1_StatImageRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_StatImageResponse__Output>): grpc.ClientUnaryCall;
  statImage(argument: _kvmclone_agent_v1_StatImageRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_StatImageResponse__Output>): grpc.ClientUnaryCall;
  statImage(argument: _kvmclone_agent_v1_StatImageRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_StatImageResponse__Output>): grpc.ClientUnaryCall;
  statImage(argument: _kvmclone_agent_v1_StatImageRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_StatImageResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Writes chunks into a sparse staging file beside the target. The first
   * message opens (or, with staging_id, reopens) the staging file.
   */
  WriteRanges(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_WriteRangesResponse__Output>): grpc.ClientWritableStream<_kvmclone_agent_v1_WriteRangesRequest>;
  WriteRanges(metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_WriteRangesResponse__Output>): grpc.ClientWritableStream<_kvmclone_agent_v1_WriteRangesRequest>;
  WriteRanges(options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_WriteRangesResponse__Output>): grpc.ClientWritableStream<_kvmclone_agent_v1_WriteRangesRequest>;
  WriteRanges(callback: grpc.requestCallback<_kvmclone_agent_v1_WriteRangesResponse__Output>): grpc.ClientWritableStream<_kvmclone_agent_v1_WriteRangesRequest>;
  /**
   * Writes chunks into a sparse staging file beside the target. The first
   * message opens (or, with staging_id, reopens) the staging file.
   */
  writeRanges(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_WriteRangesResponse__Output>): grpc.ClientWritableStream<_kvmclone_agent_v1_WriteRangesRequest>;
  writeRanges(metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_WriteRangesResponse__Output>): grpc.ClientWritableStream<_kvmclone_agent_v1_WriteRangesRequest>;
  writeRanges(options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_WriteRangesResponse__Output>): grpc.ClientWritableStream<_kvmclone_agent_v1_WriteRangesRequest>;
  writeRanges(callback: grpc.requestCallback<_kvmclone_agent_v1_WriteRangesResponse__Output>): grpc.ClientWritableStream<_kvmclone_agent_v1_WriteRangesRequest>;
  
}

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
export interface DiskServiceHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Remove a staging file. Removing one that is already gone succeeds.
   */
  AbortStaging: grpc.handleUnaryCall<_kvmclone_agent_v1_AbortStagingRequest__Output, _kvmclone_agent_v1_AbortStagingResponse>;
  
  /**
   * fsync the staging file, then move it into place atomically.
   */
  CommitStaging: grpc.handleUnaryCall<_kvmclone_agent_v1_CommitStagingRequest__Output, _kvmclone_agent_v1_CommitStagingResponse>;
  
  /**
   * Whole-image digest that both sides of a copy can compare.
   */
  DigestImage: grpc.handleUnaryCall<_kvmclone_agent_v1_DigestImageRequest__Output, _kvmclone_agent_v1_DigestImageResponse>;
  
  /**
   * Hashes of fixed-size blocks (blake3 truncated to 128 bits), in batches.
   */
  HashBlocks: grpc.handleServerStreamingCall<_kvmclone_agent_v1_HashBlocksRequest__Output, _kvmclone_agent_v1_HashBlocksResponse>;
  
  /**
   * Extent map of an image: data, holes, and (on request) zero runs.
   */
  MapExtents: grpc.handleServerStreamingCall<_kvmclone_agent_v1_MapExtentsRequest__Output, _kvmclone_agent_v1_MapExtentsResponse>;
  
  /**
   * Offset-stamped chunks of the image; holes and all-zero blocks are not
   * sent as bytes but announced as zero ranges.
   */
  ReadRanges: grpc.handleServerStreamingCall<_kvmclone_agent_v1_ReadRangesRequest__Output, _kvmclone_agent_v1_ReadRangesResponse>;
  
  /**
   * Point a staged qcow2 image at a new backing file (its header only; the
   * data is not touched), so a copied chain keeps working at its new paths.
   */
  RebaseStaging: grpc.handleUnaryCall<_kvmclone_agent_v1_RebaseStagingRequest__Output, _kvmclone_agent_v1_RebaseStagingResponse>;
  
  /**
   * Delete an image file under the roots (a disk removed from a synced VM).
   * Removing one that is already gone succeeds with removed = false.
   */
  RemoveImage: grpc.handleUnaryCall<_kvmclone_agent_v1_RemoveImageRequest__Output, _kvmclone_agent_v1_RemoveImageResponse>;
  
  /**
   * Facts about one image file (qemu-img info plus the filesystem's view).
   */
  StatImage: grpc.handleUnaryCall<_kvmclone_agent_v1_StatImageRequest__Output, _kvmclone_agent_v1_StatImageResponse>;
  
  /**
   * Writes chunks into a sparse staging file beside the target. The first
   * message opens (or, with staging_id, reopens) the staging file.
   */
  WriteRanges: grpc.handleClientStreamingCall<_kvmclone_agent_v1_WriteRangesRequest__Output, _kvmclone_agent_v1_WriteRangesResponse>;
  
}

export interface DiskServiceDefinition extends grpc.ServiceDefinition {
  AbortStaging: MethodDefinition<_kvmclone_agent_v1_AbortStagingRequest, _kvmclone_agent_v1_AbortStagingResponse, _kvmclone_agent_v1_AbortStagingRequest__Output, _kvmclone_agent_v1_AbortStagingResponse__Output>
  CommitStaging: MethodDefinition<_kvmclone_agent_v1_CommitStagingRequest, _kvmclone_agent_v1_CommitStagingResponse, _kvmclone_agent_v1_CommitStagingRequest__Output, _kvmclone_agent_v1_CommitStagingResponse__Output>
  DigestImage: MethodDefinition<_kvmclone_agent_v1_DigestImageRequest, _kvmclone_agent_v1_DigestImageResponse, _kvmclone_agent_v1_DigestImageRequest__Output, _kvmclone_agent_v1_DigestImageResponse__Output>
  HashBlocks: MethodDefinition<_kvmclone_agent_v1_HashBlocksRequest, _kvmclone_agent_v1_HashBlocksResponse, _kvmclone_agent_v1_HashBlocksRequest__Output, _kvmclone_agent_v1_HashBlocksResponse__Output>
  MapExtents: MethodDefinition<_kvmclone_agent_v1_MapExtentsRequest, _kvmclone_agent_v1_MapExtentsResponse, _kvmclone_agent_v1_MapExtentsRequest__Output, _kvmclone_agent_v1_MapExtentsResponse__Output>
  ReadRanges: MethodDefinition<_kvmclone_agent_v1_ReadRangesRequest, _kvmclone_agent_v1_ReadRangesResponse, _kvmclone_agent_v1_ReadRangesRequest__Output, _kvmclone_agent_v1_ReadRangesResponse__Output>
  RebaseStaging: MethodDefinition<_kvmclone_agent_v1_RebaseStagingRequest, _kvmclone_agent_v1_RebaseStagingResponse, _kvmclone_agent_v1_RebaseStagingRequest__Output, _kvmclone_agent_v1_RebaseStagingResponse__Output>
  RemoveImage: MethodDefinition<_kvmclone_agent_v1_RemoveImageRequest, _kvmclone_agent_v1_RemoveImageResponse, _kvmclone_agent_v1_RemoveImageRequest__Output, _kvmclone_agent_v1_RemoveImageResponse__Output>
  StatImage: MethodDefinition<_kvmclone_agent_v1_StatImageRequest, _kvmclone_agent_v1_StatImageResponse, _kvmclone_agent_v1_StatImageRequest__Output, _kvmclone_agent_v1_StatImageResponse__Output>
  WriteRanges: MethodDefinition<_kvmclone_agent_v1_WriteRangesRequest, _kvmclone_agent_v1_WriteRangesResponse, _kvmclone_agent_v1_WriteRangesRequest__Output, _kvmclone_agent_v1_WriteRangesResponse__Output>
}
