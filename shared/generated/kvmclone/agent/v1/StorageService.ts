// Original file: proto/kvmclone/agent/v1/storage.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { GetFreeSpaceRequest as _kvmclone_agent_v1_GetFreeSpaceRequest, GetFreeSpaceRequest__Output as _kvmclone_agent_v1_GetFreeSpaceRequest__Output } from '../../../kvmclone/agent/v1/GetFreeSpaceRequest.js';
import type { GetFreeSpaceResponse as _kvmclone_agent_v1_GetFreeSpaceResponse, GetFreeSpaceResponse__Output as _kvmclone_agent_v1_GetFreeSpaceResponse__Output } from '../../../kvmclone/agent/v1/GetFreeSpaceResponse.js';
import type { ListPoolsRequest as _kvmclone_agent_v1_ListPoolsRequest, ListPoolsRequest__Output as _kvmclone_agent_v1_ListPoolsRequest__Output } from '../../../kvmclone/agent/v1/ListPoolsRequest.js';
import type { ListPoolsResponse as _kvmclone_agent_v1_ListPoolsResponse, ListPoolsResponse__Output as _kvmclone_agent_v1_ListPoolsResponse__Output } from '../../../kvmclone/agent/v1/ListPoolsResponse.js';

/**
 * StorageService answers "is there room, and where": free space under the
 * allowed image roots and the libvirt storage pools of the host.
 */
export interface StorageServiceClient extends grpc.Client {
  GetFreeSpace(argument: _kvmclone_agent_v1_GetFreeSpaceRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_GetFreeSpaceResponse__Output>): grpc.ClientUnaryCall;
  GetFreeSpace(argument: _kvmclone_agent_v1_GetFreeSpaceRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_GetFreeSpaceResponse__Output>): grpc.ClientUnaryCall;
  GetFreeSpace(argument: _kvmclone_agent_v1_GetFreeSpaceRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_GetFreeSpaceResponse__Output>): grpc.ClientUnaryCall;
  GetFreeSpace(argument: _kvmclone_agent_v1_GetFreeSpaceRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_GetFreeSpaceResponse__Output>): grpc.ClientUnaryCall;
  getFreeSpace(argument: _kvmclone_agent_v1_GetFreeSpaceRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_GetFreeSpaceResponse__Output>): grpc.ClientUnaryCall;
  getFreeSpace(argument: _kvmclone_agent_v1_GetFreeSpaceRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_GetFreeSpaceResponse__Output>): grpc.ClientUnaryCall;
  getFreeSpace(argument: _kvmclone_agent_v1_GetFreeSpaceRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_GetFreeSpaceResponse__Output>): grpc.ClientUnaryCall;
  getFreeSpace(argument: _kvmclone_agent_v1_GetFreeSpaceRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_GetFreeSpaceResponse__Output>): grpc.ClientUnaryCall;
  
  ListPools(argument: _kvmclone_agent_v1_ListPoolsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_ListPoolsResponse__Output>): grpc.ClientUnaryCall;
  ListPools(argument: _kvmclone_agent_v1_ListPoolsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_ListPoolsResponse__Output>): grpc.ClientUnaryCall;
  ListPools(argument: _kvmclone_agent_v1_ListPoolsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_ListPoolsResponse__Output>): grpc.ClientUnaryCall;
  ListPools(argument: _kvmclone_agent_v1_ListPoolsRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_ListPoolsResponse__Output>): grpc.ClientUnaryCall;
  listPools(argument: _kvmclone_agent_v1_ListPoolsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_ListPoolsResponse__Output>): grpc.ClientUnaryCall;
  listPools(argument: _kvmclone_agent_v1_ListPoolsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_ListPoolsResponse__Output>): grpc.ClientUnaryCall;
  listPools(argument: _kvmclone_agent_v1_ListPoolsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_ListPoolsResponse__Output>): grpc.ClientUnaryCall;
  listPools(argument: _kvmclone_agent_v1_ListPoolsRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_ListPoolsResponse__Output>): grpc.ClientUnaryCall;
  
}

/**
 * StorageService answers "is there room, and where": free space under the
 * allowed image roots and the libvirt storage pools of the host.
 */
export interface StorageServiceHandlers extends grpc.UntypedServiceImplementation {
  GetFreeSpace: grpc.handleUnaryCall<_kvmclone_agent_v1_GetFreeSpaceRequest__Output, _kvmclone_agent_v1_GetFreeSpaceResponse>;
  
  ListPools: grpc.handleUnaryCall<_kvmclone_agent_v1_ListPoolsRequest__Output, _kvmclone_agent_v1_ListPoolsResponse>;
  
}

export interface StorageServiceDefinition extends grpc.ServiceDefinition {
  GetFreeSpace: MethodDefinition<_kvmclone_agent_v1_GetFreeSpaceRequest, _kvmclone_agent_v1_GetFreeSpaceResponse, _kvmclone_agent_v1_GetFreeSpaceRequest__Output, _kvmclone_agent_v1_GetFreeSpaceResponse__Output>
  ListPools: MethodDefinition<_kvmclone_agent_v1_ListPoolsRequest, _kvmclone_agent_v1_ListPoolsResponse, _kvmclone_agent_v1_ListPoolsRequest__Output, _kvmclone_agent_v1_ListPoolsResponse__Output>
}
