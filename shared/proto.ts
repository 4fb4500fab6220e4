/**
 * Loads the agent API (proto/kvmclone/agent/v1) at run time with the same
 * options the committed generated types were made with, so the objects on the
 * wire match the types in shared/generated exactly.
 */
import * as protoLoader from '@grpc/proto-loader';
import * as grpc from '@grpc/grpc-js';
import { fileURLToPath } from 'node:url';
import type { ProtoGrpcType as InfoProto } from './generated/info.js';
import type { ProtoGrpcType as StorageProto } from './generated/storage.js';
import type { ProtoGrpcType as DomainProto } from './generated/domain.js';
import type { ProtoGrpcType as DiskProto } from './generated/disk.js';
import type { ProtoGrpcType as TransferProto } from './generated/transfer.js';
import { AGENT_PROTO_JSON } from './generated/agent-proto-json.js';

/** The API version this build speaks (the proto package's suffix). */
export const API_VERSION = 'v1';

/** Directory holding the .proto files (works from the source and from dist/). */
export const PROTO_ROOT = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../proto/' : '../proto/', import.meta.url));

/** The proto files of the agent API, relative to PROTO_ROOT. */
export const AGENT_PROTO_FILES = ['info', 'storage', 'domain', 'disk', 'transfer'].map((n) => `kvmclone/agent/${API_VERSION}/${n}.proto`);

/** Options matching `scripts/gen-proto.mjs` (longs as numbers, enums as strings, defaults, oneofs). */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_ROOT],
};

/** Everything the agent package defines, typed. */
export type AgentProto = InfoProto & StorageProto & DomainProto & DiskProto & TransferProto;

let cached: { definition: protoLoader.PackageDefinition; proto: AgentProto } | undefined;

/** Loads (once) the agent API package definition and its typed gRPC object. */
export function loadAgentProto(): { definition: protoLoader.PackageDefinition; proto: AgentProto } {
  if (!cached) {
    const definition = protoLoader.loadSync(AGENT_PROTO_FILES, PROTO_LOADER_OPTIONS);
    const proto = grpc.loadPackageDefinition(definition) as unknown as AgentProto;
    cached = { definition, proto };
  }
  return cached;
}

let clientCached: AgentProto | undefined;

/**
 * The same API for gRPC clients (kvmctl, and an agent pulling from a peer),
 * loaded (once) from the protobufjs JSON that scripts/gen-proto.mjs writes
 * beside the generated types instead of parsed from the .proto files: 32 ms
 * instead of 105 ms of every kvmctl start on the testbed. `gen-proto --check`
 * (scripts/test) fails when that JSON no longer matches proto/. Its file
 * descriptors do not name the .proto files, which only server reflection
 * reads: servers load with loadAgentProto.
 */
export function loadAgentClientProto(): AgentProto {
  clientCached ??= grpc.loadPackageDefinition(
    protoLoader.fromJSON(JSON.parse(AGENT_PROTO_JSON) as Parameters<typeof protoLoader.fromJSON>[0], PROTO_LOADER_OPTIONS),
  ) as unknown as AgentProto;
  return clientCached;
}
