import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { BackingImage as _kvmclone_agent_v1_BackingImage, BackingImage__Output as _kvmclone_agent_v1_BackingImage__Output } from './kvmclone/agent/v1/BackingImage.js';
import type { DefineDomainRequest as _kvmclone_agent_v1_DefineDomainRequest, DefineDomainRequest__Output as _kvmclone_agent_v1_DefineDomainRequest__Output } from './kvmclone/agent/v1/DefineDomainRequest.js';
import type { DefineDomainResponse as _kvmclone_agent_v1_DefineDomainResponse, DefineDomainResponse__Output as _kvmclone_agent_v1_DefineDomainResponse__Output } from './kvmclone/agent/v1/DefineDomainResponse.js';
import type { DescribeDomainRequest as _kvmclone_agent_v1_DescribeDomainRequest, DescribeDomainRequest__Output as _kvmclone_agent_v1_DescribeDomainRequest__Output } from './kvmclone/agent/v1/DescribeDomainRequest.js';
import type { DescribeDomainResponse as _kvmclone_agent_v1_DescribeDomainResponse, DescribeDomainResponse__Output as _kvmclone_agent_v1_DescribeDomainResponse__Output } from './kvmclone/agent/v1/DescribeDomainResponse.js';
import type { DescribeSecretRequest as _kvmclone_agent_v1_DescribeSecretRequest, DescribeSecretRequest__Output as _kvmclone_agent_v1_DescribeSecretRequest__Output } from './kvmclone/agent/v1/DescribeSecretRequest.js';
import type { DescribeSecretResponse as _kvmclone_agent_v1_DescribeSecretResponse, DescribeSecretResponse__Output as _kvmclone_agent_v1_DescribeSecretResponse__Output } from './kvmclone/agent/v1/DescribeSecretResponse.js';
import type { DestroyDomainRequest as _kvmclone_agent_v1_DestroyDomainRequest, DestroyDomainRequest__Output as _kvmclone_agent_v1_DestroyDomainRequest__Output } from './kvmclone/agent/v1/DestroyDomainRequest.js';
import type { DestroyDomainResponse as _kvmclone_agent_v1_DestroyDomainResponse, DestroyDomainResponse__Output as _kvmclone_agent_v1_DestroyDomainResponse__Output } from './kvmclone/agent/v1/DestroyDomainResponse.js';
import type { DiskInfo as _kvmclone_agent_v1_DiskInfo, DiskInfo__Output as _kvmclone_agent_v1_DiskInfo__Output } from './kvmclone/agent/v1/DiskInfo.js';
import type { DomainServiceClient as _kvmclone_agent_v1_DomainServiceClient, DomainServiceDefinition as _kvmclone_agent_v1_DomainServiceDefinition } from './kvmclone/agent/v1/DomainService.js';
import type { DomainSummary as _kvmclone_agent_v1_DomainSummary, DomainSummary__Output as _kvmclone_agent_v1_DomainSummary__Output } from './kvmclone/agent/v1/DomainSummary.js';
import type { ListDomainsRequest as _kvmclone_agent_v1_ListDomainsRequest, ListDomainsRequest__Output as _kvmclone_agent_v1_ListDomainsRequest__Output } from './kvmclone/agent/v1/ListDomainsRequest.js';
import type { ListDomainsResponse as _kvmclone_agent_v1_ListDomainsResponse, ListDomainsResponse__Output as _kvmclone_agent_v1_ListDomainsResponse__Output } from './kvmclone/agent/v1/ListDomainsResponse.js';
import type { ResumeDomainRequest as _kvmclone_agent_v1_ResumeDomainRequest, ResumeDomainRequest__Output as _kvmclone_agent_v1_ResumeDomainRequest__Output } from './kvmclone/agent/v1/ResumeDomainRequest.js';
import type { ResumeDomainResponse as _kvmclone_agent_v1_ResumeDomainResponse, ResumeDomainResponse__Output as _kvmclone_agent_v1_ResumeDomainResponse__Output } from './kvmclone/agent/v1/ResumeDomainResponse.js';
import type { ShutdownDomainRequest as _kvmclone_agent_v1_ShutdownDomainRequest, ShutdownDomainRequest__Output as _kvmclone_agent_v1_ShutdownDomainRequest__Output } from './kvmclone/agent/v1/ShutdownDomainRequest.js';
import type { ShutdownDomainResponse as _kvmclone_agent_v1_ShutdownDomainResponse, ShutdownDomainResponse__Output as _kvmclone_agent_v1_ShutdownDomainResponse__Output } from './kvmclone/agent/v1/ShutdownDomainResponse.js';
import type { StartDomainRequest as _kvmclone_agent_v1_StartDomainRequest, StartDomainRequest__Output as _kvmclone_agent_v1_StartDomainRequest__Output } from './kvmclone/agent/v1/StartDomainRequest.js';
import type { StartDomainResponse as _kvmclone_agent_v1_StartDomainResponse, StartDomainResponse__Output as _kvmclone_agent_v1_StartDomainResponse__Output } from './kvmclone/agent/v1/StartDomainResponse.js';
import type { UndefineDomainRequest as _kvmclone_agent_v1_UndefineDomainRequest, UndefineDomainRequest__Output as _kvmclone_agent_v1_UndefineDomainRequest__Output } from './kvmclone/agent/v1/UndefineDomainRequest.js';
import type { UndefineDomainResponse as _kvmclone_agent_v1_UndefineDomainResponse, UndefineDomainResponse__Output as _kvmclone_agent_v1_UndefineDomainResponse__Output } from './kvmclone/agent/v1/UndefineDomainResponse.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  kvmclone: {
    agent: {
      v1: {
        BackingImage: MessageTypeDefinition<_kvmclone_agent_v1_BackingImage, _kvmclone_agent_v1_BackingImage__Output>
        DefineDomainRequest: MessageTypeDefinition<_kvmclone_agent_v1_DefineDomainRequest, _kvmclone_agent_v1_DefineDomainRequest__Output>
        DefineDomainResponse: MessageTypeDefinition<_kvmclone_agent_v1_DefineDomainResponse, _kvmclone_agent_v1_DefineDomainResponse__Output>
        DescribeDomainRequest: MessageTypeDefinition<_kvmclone_agent_v1_DescribeDomainRequest, _kvmclone_agent_v1_DescribeDomainRequest__Output>
        DescribeDomainResponse: MessageTypeDefinition<_kvmclone_agent_v1_DescribeDomainResponse, _kvmclone_agent_v1_DescribeDomainResponse__Output>
        DescribeSecretRequest: MessageTypeDefinition<_kvmclone_agent_v1_DescribeSecretRequest, _kvmclone_agent_v1_DescribeSecretRequest__Output>
        DescribeSecretResponse: MessageTypeDefinition<_kvmclone_agent_v1_DescribeSecretResponse, _kvmclone_agent_v1_DescribeSecretResponse__Output>
        DestroyDomainRequest: MessageTypeDefinition<_kvmclone_agent_v1_DestroyDomainRequest, _kvmclone_agent_v1_DestroyDomainRequest__Output>
        DestroyDomainResponse: MessageTypeDefinition<_kvmclone_agent_v1_DestroyDomainResponse, _kvmclone_agent_v1_DestroyDomainResponse__Output>
        DiskInfo: MessageTypeDefinition<_kvmclone_agent_v1_DiskInfo, _kvmclone_agent_v1_DiskInfo__Output>
        /**
         * DomainService is the libvirt control plane of one host: inventory,
         * description of a VM's storage, and lifecycle. Every VM name is validated
         * (libvirt-safe characters only) before libvirt sees it.
         */
        DomainService: SubtypeConstructor<typeof grpc.Client, _kvmclone_agent_v1_DomainServiceClient> & { service: _kvmclone_agent_v1_DomainServiceDefinition }
        DomainState: EnumTypeDefinition
        DomainSummary: MessageTypeDefinition<_kvmclone_agent_v1_DomainSummary, _kvmclone_agent_v1_DomainSummary__Output>
        ListDomainsRequest: MessageTypeDefinition<_kvmclone_agent_v1_ListDomainsRequest, _kvmclone_agent_v1_ListDomainsRequest__Output>
        ListDomainsResponse: MessageTypeDefinition<_kvmclone_agent_v1_ListDomainsResponse, _kvmclone_agent_v1_ListDomainsResponse__Output>
        ResumeDomainRequest: MessageTypeDefinition<_kvmclone_agent_v1_ResumeDomainRequest, _kvmclone_agent_v1_ResumeDomainRequest__Output>
        ResumeDomainResponse: MessageTypeDefinition<_kvmclone_agent_v1_ResumeDomainResponse, _kvmclone_agent_v1_ResumeDomainResponse__Output>
        ShutdownDomainRequest: MessageTypeDefinition<_kvmclone_agent_v1_ShutdownDomainRequest, _kvmclone_agent_v1_ShutdownDomainRequest__Output>
        ShutdownDomainResponse: MessageTypeDefinition<_kvmclone_agent_v1_ShutdownDomainResponse, _kvmclone_agent_v1_ShutdownDomainResponse__Output>
        StartDomainRequest: MessageTypeDefinition<_kvmclone_agent_v1_StartDomainRequest, _kvmclone_agent_v1_StartDomainRequest__Output>
        StartDomainResponse: MessageTypeDefinition<_kvmclone_agent_v1_StartDomainResponse, _kvmclone_agent_v1_StartDomainResponse__Output>
        StoragePolicy: EnumTypeDefinition
        UndefineDomainRequest: MessageTypeDefinition<_kvmclone_agent_v1_UndefineDomainRequest, _kvmclone_agent_v1_UndefineDomainRequest__Output>
        UndefineDomainResponse: MessageTypeDefinition<_kvmclone_agent_v1_UndefineDomainResponse, _kvmclone_agent_v1_UndefineDomainResponse__Output>
      }
    }
  }
}

