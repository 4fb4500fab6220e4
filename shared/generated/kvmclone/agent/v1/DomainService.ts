// Original file: proto/kvmclone/agent/v1/domain.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { DefineDomainRequest as _kvmclone_agent_v1_DefineDomainRequest, DefineDomainRequest__Output as _kvmclone_agent_v1_DefineDomainRequest__Output } from '../../../kvmclone/agent/v1/DefineDomainRequest.js';
import type { DefineDomainResponse as _kvmclone_agent_v1_DefineDomainResponse, DefineDomainResponse__Output as _kvmclone_agent_v1_DefineDomainResponse__Output } from '../../../kvmclone/agent/v1/DefineDomainResponse.js';
import type { DescribeDomainRequest as _kvmclone_agent_v1_DescribeDomainRequest, DescribeDomainRequest__Output as _kvmclone_agent_v1_DescribeDomainRequest__Output } from '../../../kvmclone/agent/v1/DescribeDomainRequest.js';
import type { DescribeDomainResponse as _kvmclone_agent_v1_DescribeDomainResponse, DescribeDomainResponse__Output as _kvmclone_agent_v1_DescribeDomainResponse__Output } from '../../../kvmclone/agent/v1/DescribeDomainResponse.js';
import type { DescribeSecretRequest as _kvmclone_agent_v1_DescribeSecretRequest, DescribeSecretRequest__Output as _kvmclone_agent_v1_DescribeSecretRequest__Output } from '../../../kvmclone/agent/v1/DescribeSecretRequest.js';
import type { DescribeSecretResponse as _kvmclone_agent_v1_DescribeSecretResponse, DescribeSecretResponse__Output as _kvmclone_agent_v1_DescribeSecretResponse__Output } from '../../../kvmclone/agent/v1/DescribeSecretResponse.js';
import type { DestroyDomainRequest as _kvmclone_agent_v1_DestroyDomainRequest, DestroyDomainRequest__Output as _kvmclone_agent_v1_DestroyDomainRequest__Output } from '../../../kvmclone/agent/v1/DestroyDomainRequest.js';
import type { DestroyDomainResponse as _kvmclone_agent_v1_DestroyDomainResponse, DestroyDomainResponse__Output as _kvmclone_agent_v1_DestroyDomainResponse__Output } from '../../../kvmclone/agent/v1/DestroyDomainResponse.js';
import type { ListDomainsRequest as _kvmclone_agent_v1_ListDomainsRequest, ListDomainsRequest__Output as _kvmclone_agent_v1_ListDomainsRequest__Output } from '../../../kvmclone/agent/v1/ListDomainsRequest.js';
import type { ListDomainsResponse as _kvmclone_agent_v1_ListDomainsResponse, ListDomainsResponse__Output as _kvmclone_agent_v1_ListDomainsResponse__Output } from '../../../kvmclone/agent/v1/ListDomainsResponse.js';
import type { ResumeDomainRequest as _kvmclone_agent_v1_ResumeDomainRequest, ResumeDomainRequest__Output as _kvmclone_agent_v1_ResumeDomainRequest__Output } from '../../../kvmclone/agent/v1/ResumeDomainRequest.js';
import type { ResumeDomainResponse as _kvmclone_agent_v1_ResumeDomainResponse, ResumeDomainResponse__Output as _kvmclone_agent_v1_ResumeDomainResponse__Output } from '../../../kvmclone/agent/v1/ResumeDomainResponse.js';
import type { ShutdownDomainRequest as _kvmclone_agent_v1_ShutdownDomainRequest, ShutdownDomainRequest__Output as _kvmclone_agent_v1_ShutdownDomainRequest__Output } from '../../../kvmclone/agent/v1/ShutdownDomainRequest.js';
import type { ShutdownDomainResponse as _kvmclone_agent_v1_ShutdownDomainResponse, ShutdownDomainResponse__Output as _kvmclone_agent_v1_ShutdownDomainResponse__Output } from '../../../kvmclone/agent/v1/ShutdownDomainResponse.js';
import type { StartDomainRequest as _kvmclone_agent_v1_StartDomainRequest, StartDomainRequest__Output as _kvmclone_agent_v1_StartDomainRequest__Output } from '../../../kvmclone/agent/v1/StartDomainRequest.js';
import type { StartDomainResponse as _kvmclone_agent_v1_StartDomainResponse, StartDomainResponse__Output as _kvmclone_agent_v1_StartDomainResponse__Output } from '../../../kvmclone/agent/v1/StartDomainResponse.js';
import type { UndefineDomainRequest as _kvmclone_agent_v1_UndefineDomainRequest, UndefineDomainRequest__Output as _kvmclone_agent_v1_UndefineDomainRequest__Output } from '../../../kvmclone/agent/v1/UndefineDomainRequest.js';
import type { UndefineDomainResponse as _kvmclone_agent_v1_UndefineDomainResponse, UndefineDomainResponse__Output as _kvmclone_agent_v1_UndefineDomainResponse__Output } from '../../../kvmclone/agent/v1/UndefineDomainResponse.js';

/**
 * DomainService is the libvirt control plane of one host: inventory,
 * description of a VM's storage, and lifecycle. Every VM name is validated
 * (libvirt-safe characters only) before libvirt sees it.
 */
export interface DomainServiceClient extends grpc.Client {
  DefineDomain(argument: _kvmclone_agent_v1_DefineDomainRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_DefineDomainResponse__Output>): grpc.ClientUnaryCall;
  DefineDomain(argument: _kvmclone_agent_v1_DefineDomainRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_DefineDomainResponse__Output>): grpc.ClientUnaryCall;
  DefineDomain(argument: _kvmclone_agent_v1_DefineDomainRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_DefineDomainResponse__Output>): grpc.ClientUnaryCall;
  DefineDomain(argument: _kvmclone_agent_v1_DefineDomainRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_DefineDomainResponse__Output>): grpc.ClientUnaryCall;
  defineDomain(argument: _kvmclone_agent_v1_DefineDomainRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_DefineDomainResponse__Output>): grpc.ClientUnaryCall;
  defineDomain(argument: _kvmclone_agent_v1_DefineDomainRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_DefineDomainResponse__Output>): grpc.ClientUnaryCall;
  defineDomain(argument: _kvmclone_agent_v1_DefineDomainRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_DefineDomainResponse__Output>): grpc.ClientUnaryCall;
  defineDomain(argument: _kvmclone_agent_v1_DefineDomainRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_DefineDomainResponse__Output>): grpc.ClientUnaryCall;
  
  DescribeDomain(argument: _kvmclone_agent_v1_DescribeDomainRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_DescribeDomainResponse__Output>): grpc.ClientUnaryCall;
  DescribeDomain(argument: _kvmclone_agent_v1_DescribeDomainRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_DescribeDomainResponse__Output>): grpc.ClientUnaryCall;
  DescribeDomain(argument: _kvmclone_agent_v1_DescribeDomainRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_DescribeDomainResponse__Output>): grpc.ClientUnaryCall;
  DescribeDomain(argument: _kvmclone_agent_v1_DescribeDomainRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_DescribeDomainResponse__Output>): grpc.ClientUnaryCall;
  describeDomain(argument: _kvmclone_agent_v1_DescribeDomainRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_DescribeDomainResponse__Output>): grpc.ClientUnaryCall;
  describeDomain(argument: _kvmclone_agent_v1_DescribeDomainRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_DescribeDomainResponse__Output>): grpc.ClientUnaryCall;
  describeDomain(argument: _kvmclone_agent_v1_DescribeDomainRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_DescribeDomainResponse__Output>): grpc.ClientUnaryCall;
  describeDomain(argument: _kvmclone_agent_v1_DescribeDomainRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_DescribeDomainResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Whether libvirt on this host has a secret (its value is never read): a
   * clone of a VM whose TPM state is encrypted needs the same secret on the
   * destination. Read-only. Capability "transfer.tpm-state".
   */
  DescribeSecret(argument: _kvmclone_agent_v1_DescribeSecretRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_DescribeSecretResponse__Output>): grpc.ClientUnaryCall;
  DescribeSecret(argument: _kvmclone_agent_v1_DescribeSecretRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_DescribeSecretResponse__Output>): grpc.ClientUnaryCall;
  DescribeSecret(argument: _kvmclone_agent_v1_DescribeSecretRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_DescribeSecretResponse__Output>): grpc.ClientUnaryCall;
  DescribeSecret(argument: _kvmclone_agent_v1_DescribeSecretRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_DescribeSecretResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Whether libvirt on this host has a secret (its value is never read): a
   * clone of a VM whose TPM state is encrypted needs the same secret on the
   * destination. Read-only. Capability "transfer.tpm-state".
   */
  describeSecret(argument: _kvmclone_agent_v1_DescribeSecretRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_DescribeSecretResponse__Output>): grpc.ClientUnaryCall;
  describeSecret(argument: _kvmclone_agent_v1_DescribeSecretRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_DescribeSecretResponse__Output>): grpc.ClientUnaryCall;
  describeSecret(argument: _kvmclone_agent_v1_DescribeSecretRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_DescribeSecretResponse__Output>): grpc.ClientUnaryCall;
  describeSecret(argument: _kvmclone_agent_v1_DescribeSecretRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_DescribeSecretResponse__Output>): grpc.ClientUnaryCall;
  
  DestroyDomain(argument: _kvmclone_agent_v1_DestroyDomainRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_DestroyDomainResponse__Output>): grpc.ClientUnaryCall;
  DestroyDomain(argument: _kvmclone_agent_v1_DestroyDomainRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_DestroyDomainResponse__Output>): grpc.ClientUnaryCall;
  DestroyDomain(argument: _kvmclone_agent_v1_DestroyDomainRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_DestroyDomainResponse__Output>): grpc.ClientUnaryCall;
  DestroyDomain(argument: _kvmclone_agent_v1_DestroyDomainRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_DestroyDomainResponse__Output>): grpc.ClientUnaryCall;
  destroyDomain(argument: _kvmclone_agent_v1_DestroyDomainRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_DestroyDomainResponse__Output>): grpc.ClientUnaryCall;
  destroyDomain(argument: _kvmclone_agent_v1_DestroyDomainRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_DestroyDomainResponse__Output>): grpc.ClientUnaryCall;
  destroyDomain(argument: _kvmclone_agent_v1_DestroyDomainRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_DestroyDomainResponse__Output>): grpc.ClientUnaryCall;
  destroyDomain(argument: _kvmclone_agent_v1_DestroyDomainRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_DestroyDomainResponse__Output>): grpc.ClientUnaryCall;
  
  ListDomains(argument: _kvmclone_agent_v1_ListDomainsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_ListDomainsResponse__Output>): grpc.ClientUnaryCall;
  ListDomains(argument: _kvmclone_agent_v1_ListDomainsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_ListDomainsResponse__Output>): grpc.ClientUnaryCall;
  ListDomains(argument: _kvmclone_agent_v1_ListDomainsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_ListDomainsResponse__Output>): grpc.ClientUnaryCall;
  ListDomains(argument: _kvmclone_agent_v1_ListDomainsRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_ListDomainsResponse__Output>): grpc.ClientUnaryCall;
  listDomains(argument: _kvmclone_agent_v1_ListDomainsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_ListDomainsResponse__Output>): grpc.ClientUnaryCall;
  listDomains(argument: _kvmclone_agent_v1_ListDomainsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_ListDomainsResponse__Output>): grpc.ClientUnaryCall;
  listDomains(argument: _kvmclone_agent_v1_ListDomainsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_ListDomainsResponse__Output>): grpc.ClientUnaryCall;
  listDomains(argument: _kvmclone_agent_v1_ListDomainsRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_ListDomainsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Resumes a paused domain (one started with StartDomainRequest.paused).
   * Capability domain.start-paused.
   */
  ResumeDomain(argument: _kvmclone_agent_v1_ResumeDomainRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_ResumeDomainResponse__Output>): grpc.ClientUnaryCall;
  ResumeDomain(argument: _kvmclone_agent_v1_ResumeDomainRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_ResumeDomainResponse__Output>): grpc.ClientUnaryCall;
  ResumeDomain(argument: _kvmclone_agent_v1_ResumeDomainRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_ResumeDomainResponse__Output>): grpc.ClientUnaryCall;
  ResumeDomain(argument: _kvmclone_agent_v1_ResumeDomainRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_ResumeDomainResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Resumes a paused domain (one started with StartDomainRequest.paused).
   * Capability domain.start-paused.
   */
  resumeDomain(argument: _kvmclone_agent_v1_ResumeDomainRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_ResumeDomainResponse__Output>): grpc.ClientUnaryCall;
  resumeDomain(argument: _kvmclone_agent_v1_ResumeDomainRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_ResumeDomainResponse__Output>): grpc.ClientUnaryCall;
  resumeDomain(argument: _kvmclone_agent_v1_ResumeDomainRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_ResumeDomainResponse__Output>): grpc.ClientUnaryCall;
  resumeDomain(argument: _kvmclone_agent_v1_ResumeDomainRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_ResumeDomainResponse__Output>): grpc.ClientUnaryCall;
  
  ShutdownDomain(argument: _kvmclone_agent_v1_ShutdownDomainRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_ShutdownDomainResponse__Output>): grpc.ClientUnaryCall;
  ShutdownDomain(argument: _kvmclone_agent_v1_ShutdownDomainRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_ShutdownDomainResponse__Output>): grpc.ClientUnaryCall;
  ShutdownDomain(argument: _kvmclone_agent_v1_ShutdownDomainRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_ShutdownDomainResponse__Output>): grpc.ClientUnaryCall;
  ShutdownDomain(argument: _kvmclone_agent_v1_ShutdownDomainRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_ShutdownDomainResponse__Output>): grpc.ClientUnaryCall;
  shutdownDomain(argument: _kvmclone_agent_v1_ShutdownDomainRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_ShutdownDomainResponse__Output>): grpc.ClientUnaryCall;
  shutdownDomain(argument: _kvmclone_agent_v1_ShutdownDomainRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_ShutdownDomainResponse__Output>): grpc.ClientUnaryCall;
  shutdownDomain(argument: _kvmclone_agent_v1_ShutdownDomainRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_ShutdownDomainResponse__Output>): grpc.ClientUnaryCall;
  shutdownDomain(argument: _kvmclone_agent_v1_ShutdownDomainRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_ShutdownDomainResponse__Output>): grpc.ClientUnaryCall;
  
  StartDomain(argument: _kvmclone_agent_v1_StartDomainRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_StartDomainResponse__Output>): grpc.ClientUnaryCall;
  StartDomain(argument: _kvmclone_agent_v1_StartDomainRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_StartDomainResponse__Output>): grpc.ClientUnaryCall;
  StartDomain(argument: _kvmclone_agent_v1_StartDomainRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_StartDomainResponse__Output>): grpc.ClientUnaryCall;
  StartDomain(argument: _kvmclone_agent_v1_StartDomainRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_StartDomainResponse__Output>): grpc.ClientUnaryCall;
  startDomain(argument: _kvmclone_agent_v1_StartDomainRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_StartDomainResponse__Output>): grpc.ClientUnaryCall;
  startDomain(argument: _kvmclone_agent_v1_StartDomainRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_StartDomainResponse__Output>): grpc.ClientUnaryCall;
  startDomain(argument: _kvmclone_agent_v1_StartDomainRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_StartDomainResponse__Output>): grpc.ClientUnaryCall;
  startDomain(argument: _kvmclone_agent_v1_StartDomainRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_StartDomainResponse__Output>): grpc.ClientUnaryCall;
  
  UndefineDomain(argument: _kvmclone_agent_v1_UndefineDomainRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_UndefineDomainResponse__Output>): grpc.ClientUnaryCall;
  UndefineDomain(argument: _kvmclone_agent_v1_UndefineDomainRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_UndefineDomainResponse__Output>): grpc.ClientUnaryCall;
  UndefineDomain(argument: _kvmclone_agent_v1_UndefineDomainRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_UndefineDomainResponse__Output>): grpc.ClientUnaryCall;
  UndefineDomain(argument: _kvmclone_agent_v1_UndefineDomainRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_UndefineDomainResponse__Output>): grpc.ClientUnaryCall;
  undefineDomain(argument: _kvmclone_agent_v1_UndefineDomainRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_UndefineDomainResponse__Output>): grpc.ClientUnaryCall;
  undefineDomain(argument: _kvmclone_agent_v1_UndefineDomainRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_UndefineDomainResponse__Output>): grpc.ClientUnaryCall;
  undefineDomain(argument: _kvmclone_agent_v1_UndefineDomainRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_UndefineDomainResponse__Output>): grpc.ClientUnaryCall;
  undefineDomain(argument: _kvmclone_agent_v1_UndefineDomainRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_UndefineDomainResponse__Output>): grpc.ClientUnaryCall;
  
}

/**
 * DomainService is the libvirt control plane of one host: inventory,
 * description of a VM's storage, and lifecycle. Every VM name is validated
 * (libvirt-safe characters only) before libvirt sees it.
 */
export interface DomainServiceHandlers extends grpc.UntypedServiceImplementation {
  DefineDomain: grpc.handleUnaryCall<_kvmclone_agent_v1_DefineDomainRequest__Output, _kvmclone_agent_v1_DefineDomainResponse>;
  
  DescribeDomain: grpc.handleUnaryCall<_kvmclone_agent_v1_DescribeDomainRequest__Output, _kvmclone_agent_v1_DescribeDomainResponse>;
  
  /**
   * Whether libvirt on this host has a secret (its value is never read): a
   * clone of a VM whose TPM state is encrypted needs the same secret on the
   * destination. Read-only. Capability "transfer.tpm-state".
   */
  DescribeSecret: grpc.handleUnaryCall<_kvmclone_agent_v1_DescribeSecretRequest__Output, _kvmclone_agent_v1_DescribeSecretResponse>;
  
  DestroyDomain: grpc.handleUnaryCall<_kvmclone_agent_v1_DestroyDomainRequest__Output, _kvmclone_agent_v1_DestroyDomainResponse>;
  
  ListDomains: grpc.handleUnaryCall<_kvmclone_agent_v1_ListDomainsRequest__Output, _kvmclone_agent_v1_ListDomainsResponse>;
  
  /**
   * Resumes a paused domain (one started with StartDomainRequest.paused).
   * Capability domain.start-paused.
   */
  ResumeDomain: grpc.handleUnaryCall<_kvmclone_agent_v1_ResumeDomainRequest__Output, _kvmclone_agent_v1_ResumeDomainResponse>;
  
  ShutdownDomain: grpc.handleUnaryCall<_kvmclone_agent_v1_ShutdownDomainRequest__Output, _kvmclone_agent_v1_ShutdownDomainResponse>;
  
  StartDomain: grpc.handleUnaryCall<_kvmclone_agent_v1_StartDomainRequest__Output, _kvmclone_agent_v1_StartDomainResponse>;
  
  UndefineDomain: grpc.handleUnaryCall<_kvmclone_agent_v1_UndefineDomainRequest__Output, _kvmclone_agent_v1_UndefineDomainResponse>;
  
}

export interface DomainServiceDefinition extends grpc.ServiceDefinition {
  DefineDomain: MethodDefinition<_kvmclone_agent_v1_DefineDomainRequest, _kvmclone_agent_v1_DefineDomainResponse, _kvmclone_agent_v1_DefineDomainRequest__Output, _kvmclone_agent_v1_DefineDomainResponse__Output>
  DescribeDomain: MethodDefinition<_kvmclone_agent_v1_DescribeDomainRequest, _kvmclone_agent_v1_DescribeDomainResponse, _kvmclone_agent_v1_DescribeDomainRequest__Output, _kvmclone_agent_v1_DescribeDomainResponse__Output>
  DescribeSecret: MethodDefinition<_kvmclone_agent_v1_DescribeSecretRequest, _kvmclone_agent_v1_DescribeSecretResponse, _kvmclone_agent_v1_DescribeSecretRequest__Output, _kvmclone_agent_v1_DescribeSecretResponse__Output>
  DestroyDomain: MethodDefinition<_kvmclone_agent_v1_DestroyDomainRequest, _kvmclone_agent_v1_DestroyDomainResponse, _kvmclone_agent_v1_DestroyDomainRequest__Output, _kvmclone_agent_v1_DestroyDomainResponse__Output>
  ListDomains: MethodDefinition<_kvmclone_agent_v1_ListDomainsRequest, _kvmclone_agent_v1_ListDomainsResponse, _kvmclone_agent_v1_ListDomainsRequest__Output, _kvmclone_agent_v1_ListDomainsResponse__Output>
  ResumeDomain: MethodDefinition<_kvmclone_agent_v1_ResumeDomainRequest, _kvmclone_agent_v1_ResumeDomainResponse, _kvmclone_agent_v1_ResumeDomainRequest__Output, _kvmclone_agent_v1_ResumeDomainResponse__Output>
  ShutdownDomain: MethodDefinition<_kvmclone_agent_v1_ShutdownDomainRequest, _kvmclone_agent_v1_ShutdownDomainResponse, _kvmclone_agent_v1_ShutdownDomainRequest__Output, _kvmclone_agent_v1_ShutdownDomainResponse__Output>
  StartDomain: MethodDefinition<_kvmclone_agent_v1_StartDomainRequest, _kvmclone_agent_v1_StartDomainResponse, _kvmclone_agent_v1_StartDomainRequest__Output, _kvmclone_agent_v1_StartDomainResponse__Output>
  UndefineDomain: MethodDefinition<_kvmclone_agent_v1_UndefineDomainRequest, _kvmclone_agent_v1_UndefineDomainResponse, _kvmclone_agent_v1_UndefineDomainRequest__Output, _kvmclone_agent_v1_UndefineDomainResponse__Output>
}
