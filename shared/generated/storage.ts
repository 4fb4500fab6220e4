import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { GetFreeSpaceRequest as _kvmclone_agent_v1_GetFreeSpaceRequest, GetFreeSpaceRequest__Output as _kvmclone_agent_v1_GetFreeSpaceRequest__Output } from './kvmclone/agent/v1/GetFreeSpaceRequest.js';
import type { GetFreeSpaceResponse as _kvmclone_agent_v1_GetFreeSpaceResponse, GetFreeSpaceResponse__Output as _kvmclone_agent_v1_GetFreeSpaceResponse__Output } from './kvmclone/agent/v1/GetFreeSpaceResponse.js';
import type { ListPoolsRequest as _kvmclone_agent_v1_ListPoolsRequest, ListPoolsRequest__Output as _kvmclone_agent_v1_ListPoolsRequest__Output } from './kvmclone/agent/v1/ListPoolsRequest.js';
import type { ListPoolsResponse as _kvmclone_agent_v1_ListPoolsResponse, ListPoolsResponse__Output as _kvmclone_agent_v1_ListPoolsResponse__Output } from './kvmclone/agent/v1/ListPoolsResponse.js';
import type { StoragePool as _kvmclone_agent_v1_StoragePool, StoragePool__Output as _kvmclone_agent_v1_StoragePool__Output } from './kvmclone/agent/v1/StoragePool.js';
import type { StorageServiceClient as _kvmclone_agent_v1_StorageServiceClient, StorageServiceDefinition as _kvmclone_agent_v1_StorageServiceDefinition } from './kvmclone/agent/v1/StorageService.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  kvmclone: {
    agent: {
      v1: {
        GetFreeSpaceRequest: MessageTypeDefinition<_kvmclone_agent_v1_GetFreeSpaceRequest, _kvmclone_agent_v1_GetFreeSpaceRequest__Output>
        GetFreeSpaceResponse: MessageTypeDefinition<_kvmclone_agent_v1_GetFreeSpaceResponse, _kvmclone_agent_v1_GetFreeSpaceResponse__Output>
        ListPoolsRequest: MessageTypeDefinition<_kvmclone_agent_v1_ListPoolsRequest, _kvmclone_agent_v1_ListPoolsRequest__Output>
        ListPoolsResponse: MessageTypeDefinition<_kvmclone_agent_v1_ListPoolsResponse, _kvmclone_agent_v1_ListPoolsResponse__Output>
        StoragePool: MessageTypeDefinition<_kvmclone_agent_v1_StoragePool, _kvmclone_agent_v1_StoragePool__Output>
        /**
         * StorageService answers "is there room, and where": free space under the
         * allowed image roots and the libvirt storage pools of the host.
         */
        StorageService: SubtypeConstructor<typeof grpc.Client, _kvmclone_agent_v1_StorageServiceClient> & { service: _kvmclone_agent_v1_StorageServiceDefinition }
      }
    }
  }
}

