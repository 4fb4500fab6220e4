/**
 * gRPC clients load the API from the protobufjs JSON that scripts/gen-proto.mjs
 * generates (shared/proto.ts loadAgentClientProto); servers parse the .proto
 * files. Both must speak the same wire: every service and method, and the
 * bytes and objects of a message, are the same either way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as grpc from '@grpc/grpc-js';
import { loadAgentClientProto, loadAgentProto } from '../../shared/proto.js';

type Services = Record<string, { service?: grpc.ServiceDefinition }>;

const parsed = loadAgentProto().proto.kvmclone.agent.v1 as unknown as Services;
const fromJson = loadAgentClientProto().kvmclone.agent.v1 as unknown as Services;

/** Every method of every service: path, streaming on either side. */
function methods(api: Services): string[] {
  return Object.entries(api)
    .filter(([, v]) => v.service !== undefined)
    .flatMap(([, v]) => Object.values(v.service ?? {}).map((m) => `${m.path} ${m.requestStream} ${m.responseStream}`))
    .sort();
}

test('the JSON-loaded API has the same services and methods as the parsed .proto files', () => {
  const want = methods(parsed);
  assert.ok(want.length > 30, `${want.length} methods`);
  assert.deepEqual(methods(fromJson), want);
});

test('a message crosses from one loading to the other unchanged: oneofs, enums, 64-bit numbers, bytes, repeated fields', () => {
  const serviceOf = (api: Services, name: string): grpc.ServiceDefinition => api[name]?.service as grpc.ServiceDefinition;
  const cases: [string, string, Record<string, unknown>][] = [
    ['DiskService', 'ReadRanges', { path: '/img', ranges: [{ offset: 2 ** 40, length: 65536 }], chunkSize: 1048576, blockHashes: true, batchBytes: 1048576 }],
    ['DiskService', 'HashBlocks', { path: '/img', blockSize: 65536, offset: 0, length: 0, batchBlocks: 4096, layer: 'EXTENT_LAYER_GUEST' }],
    ['TransferService', 'PullImage', { sourcePath: '/a', targetPath: '/b', mode: 'PULL_MODE_IN_PLACE', ranges: [{ offset: 0, length: 1 }], keepPoints: 3 }],
  ];
  for (const [service, method, request] of cases) {
    const a = serviceOf(parsed, service)[method];
    const b = serviceOf(fromJson, service)[method];
    assert.ok(a !== undefined && b !== undefined, `${service}.${method}`);
    const bytes = a.requestSerialize(request);
    assert.deepEqual(b.requestSerialize(request), bytes, `${service}.${method}: same bytes`);
    assert.deepEqual(b.requestDeserialize(bytes), a.requestDeserialize(bytes), `${service}.${method}: same object`);
  }
  const response = { batch: { pieces: [{ data: { offset: 65536, data: Buffer.from('abc'), blockHashes: Buffer.alloc(32, 7) } }, { zero: { offset: 0, length: 65536 } }] } };
  const read = (api: Services): grpc.MethodDefinition<object, object> | undefined => serviceOf(api, 'DiskService').ReadRanges;
  const bytes = read(parsed)?.responseSerialize(response) ?? Buffer.alloc(0);
  assert.ok(bytes.length > 0);
  assert.deepEqual(read(fromJson)?.responseDeserialize(bytes), read(parsed)?.responseDeserialize(bytes));
});
