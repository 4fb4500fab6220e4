import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { AuditCaller as _kvmclone_agent_v1_AuditCaller, AuditCaller__Output as _kvmclone_agent_v1_AuditCaller__Output } from './kvmclone/agent/v1/AuditCaller.js';
import type { AuditEntry as _kvmclone_agent_v1_AuditEntry, AuditEntry__Output as _kvmclone_agent_v1_AuditEntry__Output } from './kvmclone/agent/v1/AuditEntry.js';
import type { Caller as _kvmclone_agent_v1_Caller, Caller__Output as _kvmclone_agent_v1_Caller__Output } from './kvmclone/agent/v1/Caller.js';
import type { GetInfoRequest as _kvmclone_agent_v1_GetInfoRequest, GetInfoRequest__Output as _kvmclone_agent_v1_GetInfoRequest__Output } from './kvmclone/agent/v1/GetInfoRequest.js';
import type { GetInfoResponse as _kvmclone_agent_v1_GetInfoResponse, GetInfoResponse__Output as _kvmclone_agent_v1_GetInfoResponse__Output } from './kvmclone/agent/v1/GetInfoResponse.js';
import type { HostFacts as _kvmclone_agent_v1_HostFacts, HostFacts__Output as _kvmclone_agent_v1_HostFacts__Output } from './kvmclone/agent/v1/HostFacts.js';
import type { InfoServiceClient as _kvmclone_agent_v1_InfoServiceClient, InfoServiceDefinition as _kvmclone_agent_v1_InfoServiceDefinition } from './kvmclone/agent/v1/InfoService.js';
import type { ReadAuditRequest as _kvmclone_agent_v1_ReadAuditRequest, ReadAuditRequest__Output as _kvmclone_agent_v1_ReadAuditRequest__Output } from './kvmclone/agent/v1/ReadAuditRequest.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  kvmclone: {
    agent: {
      v1: {
        AuditCaller: MessageTypeDefinition<_kvmclone_agent_v1_AuditCaller, _kvmclone_agent_v1_AuditCaller__Output>
        AuditEntry: MessageTypeDefinition<_kvmclone_agent_v1_AuditEntry, _kvmclone_agent_v1_AuditEntry__Output>
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
        ReadAuditRequest: MessageTypeDefinition<_kvmclone_agent_v1_ReadAuditRequest, _kvmclone_agent_v1_ReadAuditRequest__Output>
      }
    }
  }
}

