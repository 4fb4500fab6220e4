/**
 * Typed gRPC clients of the four agent services on one channel, with the
 * throughput options of shared/grpc-tuning.ts. Used by kvmctl, by the
 * agent when it dials a peer agent, and by the tests.
 */
import * as grpc from '@grpc/grpc-js';
import type { DiskServiceClient } from './generated/kvmclone/agent/v1/DiskService.js';
import type { DomainServiceClient } from './generated/kvmclone/agent/v1/DomainService.js';
import type { InfoServiceClient } from './generated/kvmclone/agent/v1/InfoService.js';
import type { StorageServiceClient } from './generated/kvmclone/agent/v1/StorageService.js';
import type { TransferServiceClient } from './generated/kvmclone/agent/v1/TransferService.js';
import { CLIENT_CHANNEL_OPTIONS } from './grpc-tuning.js';
import { loadAgentClientProto } from './proto.js';
import { isSendableOperationId, operationIdInterceptor } from './operation-metadata.js';

/** The service clients of one agent, sharing one channel. */
export interface AgentClients {
  readonly info: InfoServiceClient;
  readonly storage: StorageServiceClient;
  readonly domain: DomainServiceClient;
  readonly disk: DiskServiceClient;
  readonly transfer: TransferServiceClient;
  /** Closes the shared channel. */
  close(): void;
}

/**
 * Clients for the agent at `target` ("unix:/path/agent.sock"). With
 * `operationId`, every call carries it as metadata (shared/operation-metadata.ts),
 * so the agent's audit records of the calls name the operation.
 */
export function createAgentClients(target: string, options: grpc.ChannelOptions = {}, operationId?: string): AgentClients {
  const v1 = loadAgentClientProto().kvmclone.agent.v1;
  const credentials = grpc.credentials.createInsecure();
  const interceptors = operationId !== undefined && isSendableOperationId(operationId) ? { interceptors: [operationIdInterceptor(operationId)] } : {};
  const info = new v1.InfoService(target, credentials, { ...CLIENT_CHANNEL_OPTIONS, ...options, ...interceptors });
  const channel = info.getChannel();
  const shared = { ...CLIENT_CHANNEL_OPTIONS, ...options, ...interceptors, channelOverride: channel };
  return {
    info,
    storage: new v1.StorageService(target, credentials, shared),
    domain: new v1.DomainService(target, credentials, shared),
    disk: new v1.DiskService(target, credentials, shared),
    transfer: new v1.TransferService(target, credentials, shared),
    close: () => info.close(),
  };
}

/** Options of one unary call: a deadline is required, so no call can hang forever. */
export interface UnaryCallOptions {
  deadlineMs: number;
  signal?: AbortSignal;
  metadata?: grpc.Metadata;
}

/** The short overload of a generated unary method; Req and Res are inferred from it. */
type UnaryMethod<Req, Res> = (argument: Req, callback: grpc.requestCallback<Res>) => grpc.ClientUnaryCall;
type FullUnaryMethod<Req, Res> = (argument: Req, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<Res>) => grpc.ClientUnaryCall;

/**
 * Promise form of a unary call: `unaryCall(c.info, c.info.getInfo, {}, { deadlineMs: 10_000 })`.
 * An abort cancels the call; the promise rejects with the grpc ServiceError.
 */
export function unaryCall<C extends grpc.Client, Req, Res>(client: C, method: UnaryMethod<Req, Res>, request: Req, options: UnaryCallOptions): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    options.signal?.throwIfAborted();
    const onAbort = (): void => call.cancel();
    const full = method as unknown as FullUnaryMethod<Req, Res>;
    const call = full.call(client, request, options.metadata ?? new grpc.Metadata(), { deadline: Date.now() + options.deadlineMs }, (err, response) => {
      options.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else if (response === undefined) reject(new Error('empty response'));
      else resolve(response);
    });
    options.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
