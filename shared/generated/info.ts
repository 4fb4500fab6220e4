import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { Caller as _kvmclone_agent_v1_Caller, Caller__Output as _kvmclone_agent_v1_Caller__Output } from './kvmclone/agent/v1/Caller.js';
import type { GetInfoRequest as _kvmclone_agent_v1_GetInfoRequest, GetInfoRequest__Output as _kvmclone_agent_v1_GetInfoRequest__Output } from './kvmclone/agent/v1/GetInfoRequest.js';
import type { GetInfoResponse as _kvmclone_agent_v1_GetInfoResponse, GetInfoResponse__Output as _kvmclone_agent_v1_GetInfoResponse__Output } from './kvmclone/agent/v1/GetInfoResponse.js';
import type { HostFacts as _kvmclone_agent_v1_HostFacts, HostFacts__Output as _kvmclone_agent_v1_HostFacts__Output } from './kvmclone/agent/v1/HostFacts.js';
import type { InfoServiceClient as _kvmclone_agent_v1_InfoServiceClient, InfoServiceDefinition as _kvmclone_agent_v1_InfoServiceDefinition } from './kvmclone/agent/v1/InfoService.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  kvmclone: {
    agent: {
      v1: {
        Caller: MessageTypeDefinition<_kvmclone_agent_v1_Caller, _kvmclone_agent_v1_Caller__Output>
        GetInfoRequest: MessageTypeDefinition<_kvmclone_agent_v1_GetInfoRequest, _kvmclone_agent_v1_GetInfoRequest__Output>
        GetInfoResponse: MessageTypeDefinition<_kvmclone_agent_v1_GetInfoResponse, _kvmclone_agent_v1_GetInfoResponse__Output>
        HostFacts: MessageTypeDefinition<_kvmclone_agent_v1_HostFacts, _kvmclone_agent_v1_HostFacts__Output>
        /**
         * InfoService tells a client who it is talking to before it does anything
         * else: which API versions and capabilities the agent has, and what the host
         * can run. Clients refuse an agent they cannot speak to.
         */
        InfoService: SubtypeConstructor<typeof grpc.Client, _kvmclone_agent_v1_InfoServiceClient> & { service: _kvmclone_agent_v1_InfoServiceDefinition }
      }
    }
  }
}

