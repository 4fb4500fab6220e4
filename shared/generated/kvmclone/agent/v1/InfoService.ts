// Original file: proto/kvmclone/agent/v1/info.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AuditEntry as _kvmclone_agent_v1_AuditEntry, AuditEntry__Output as _kvmclone_agent_v1_AuditEntry__Output } from '../../../kvmclone/agent/v1/AuditEntry.js';
import type { GetInfoRequest as _kvmclone_agent_v1_GetInfoRequest, GetInfoRequest__Output as _kvmclone_agent_v1_GetInfoRequest__Output } from '../../../kvmclone/agent/v1/GetInfoRequest.js';
import type { GetInfoResponse as _kvmclone_agent_v1_GetInfoResponse, GetInfoResponse__Output as _kvmclone_agent_v1_GetInfoResponse__Output } from '../../../kvmclone/agent/v1/GetInfoResponse.js';
import type { ReadAuditRequest as _kvmclone_agent_v1_ReadAuditRequest, ReadAuditRequest__Output as _kvmclone_agent_v1_ReadAuditRequest__Output } from '../../../kvmclone/agent/v1/ReadAuditRequest.js';

/**
 * InfoService tells a client who it is talking to before it does anything
 * else: which API versions and capabilities the agent has, and what the host
 * can run. Clients refuse an agent they cannot speak to.
 */
export interface InfoServiceClient extends grpc.Client {
  GetInfo(argument: _kvmclone_agent_v1_GetInfoRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_GetInfoResponse__Output>): grpc.ClientUnaryCall;
  GetInfo(argument: _kvmclone_agent_v1_GetInfoRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_GetInfoResponse__Output>): grpc.ClientUnaryCall;
  GetInfo(argument: _kvmclone_agent_v1_GetInfoRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_GetInfoResponse__Output>): grpc.ClientUnaryCall;
  GetInfo(argument: _kvmclone_agent_v1_GetInfoRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_GetInfoResponse__Output>): grpc.ClientUnaryCall;
  getInfo(argument: _kvmclone_agent_v1_GetInfoRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_GetInfoResponse__Output>): grpc.ClientUnaryCall;
  getInfo(argument: _kvmclone_agent_v1_GetInfoRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kvmclone_agent_v1_GetInfoResponse__Output>): grpc.ClientUnaryCall;
  getInfo(argument: _kvmclone_agent_v1_GetInfoRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kvmclone_agent_v1_GetInfoResponse__Output>): grpc.ClientUnaryCall;
  getInfo(argument: _kvmclone_agent_v1_GetInfoRequest, callback: grpc.requestCallback<_kvmclone_agent_v1_GetInfoResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * The agent's audit trail (capability "audit.read"): the records of
   * mutating calls, from the rotated files and the live one, oldest first,
   * the newest `limit` of those that match every filter given. Read-only.
   */
  ReadAudit(argument: _kvmclone_agent_v1_ReadAuditRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_AuditEntry__Output>;
  ReadAudit(argument: _kvmclone_agent_v1_ReadAuditRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_AuditEntry__Output>;
  /**
   * The agent's audit trail (capability "audit.read"): the records of
   * mutating calls, from the rotated files and the live one, oldest first,
   * the newest `limit` of those that match every filter given. Read-only.
   */
  readAudit(argument: _kvmclone_agent_v1_ReadAuditRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_AuditEntry__Output>;
  readAudit(argument: _kvmclone_agent_v1_ReadAuditRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_kvmclone_agent_v1_AuditEntry__Output>;
  
}

/**
 * InfoService tells a client who it is talking to before it does anything
 * else: which API versions and capabilities the agent has, and what the host
 * can run. Clients refuse an agent they cannot speak to.
 */
export interface InfoServiceHandlers extends grpc.UntypedServiceImplementation {
  GetInfo: grpc.handleUnaryCall<_kvmclone_agent_v1_GetInfoRequest__Output, _kvmclone_agent_v1_GetInfoResponse>;
  
  /**
   * The agent's audit trail (capability "audit.read"): the records of
   * mutating calls, from the rotated files and the live one, oldest first,
   * the newest `limit` of those that match every filter given. Read-only.
   */
  ReadAudit: grpc.handleServerStreamingCall<_kvmclone_agent_v1_ReadAuditRequest__Output, _kvmclone_agent_v1_AuditEntry>;
  
}

export interface InfoServiceDefinition extends grpc.ServiceDefinition {
  GetInfo: MethodDefinition<_kvmclone_agent_v1_GetInfoRequest, _kvmclone_agent_v1_GetInfoResponse, _kvmclone_agent_v1_GetInfoRequest__Output, _kvmclone_agent_v1_GetInfoResponse__Output>
  ReadAudit: MethodDefinition<_kvmclone_agent_v1_ReadAuditRequest, _kvmclone_agent_v1_AuditEntry, _kvmclone_agent_v1_ReadAuditRequest__Output, _kvmclone_agent_v1_AuditEntry__Output>
}
