/**
 * The role decision as a table: every method of every service the agent
 * serves (the v1 services from the proto, grpc.health.v1, reflection) on
 * each socket → served or PERMISSION_DENIED. The read-only set is written out
 * here on its own, so a method moved between lists changes this test; a
 * method that no list names (a new RPC) is admin-only; a connection the agent
 * did not accept itself is refused on every method.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { join } from 'node:path';
import { loadAgentProto } from '../../shared/proto.js';
import { refusalOf, roleAllows } from '../../agent/rpc/role-guard.js';
import { callerAddress } from '../../agent/server/caller.js';
import type { SocketRole } from '../../agent/rpc/method-roles.js';

const SOCKETS = { admin: '/run/kvmclone/agent.sock', 'read-only': '/run/kvmclone/agent-ro.sock' } as const;

/** What the read-only socket must serve: inventory, free space, extents, hashes, digests, the audit trail, the leftover list, health, reflection. */
const EXPECTED_READ_ONLY = new Set([
  '/kvmclone.agent.v1.InfoService/GetInfo',
  '/kvmclone.agent.v1.InfoService/ReadAudit',
  '/kvmclone.agent.v1.StorageService/GetFreeSpace',
  '/kvmclone.agent.v1.StorageService/ListPools',
  '/kvmclone.agent.v1.DomainService/ListDomains',
  '/kvmclone.agent.v1.DomainService/DescribeDomain',
  '/kvmclone.agent.v1.DomainService/DescribeSecret',
  '/kvmclone.agent.v1.DiskService/StatImage',
  '/kvmclone.agent.v1.DiskService/MapExtents',
  '/kvmclone.agent.v1.DiskService/HashBlocks',
  '/kvmclone.agent.v1.DiskService/DigestImage',
  '/kvmclone.agent.v1.TransferService/ListLeftovers',
  '/kvmclone.agent.v1.TransferService/ListRestorePoints',
  '/grpc.health.v1.Health/Check',
  '/grpc.health.v1.Health/Watch',
  '/grpc.health.v1.Health/List',
  '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
  '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo',
]);

/** Every method path of every service in a package definition. */
function methodPaths(definition: protoLoader.PackageDefinition): string[] {
  const paths: string[] = [];
  for (const entry of Object.values(definition)) {
    if ('format' in entry) continue; // a message or enum type
    for (const method of Object.values(entry)) paths.push(method.path);
  }
  return paths;
}

function allServedMethods(): string[] {
  const reflectionDir = join(process.cwd(), 'node_modules/@grpc/reflection/build/proto');
  return [
    ...methodPaths(loadAgentProto().definition),
    ...methodPaths(protoLoader.loadSync(healthProtoPath)),
    ...methodPaths(protoLoader.loadSync(['grpc/reflection/v1/reflection.proto', 'grpc/reflection/v1alpha/reflection.proto'], { includeDirs: [reflectionDir] })),
  ];
}

const peer = (role: SocketRole): string => callerAddress({ role, uid: 1000, gid: 1000, pid: 4242 });

test('the table: every served method on each socket', () => {
  const methods = allServedMethods();
  // The proto has the mutating RPCs this table is about.
  for (const m of ['DomainService/DefineDomain', 'DiskService/WriteRanges', 'TransferService/PullImage', 'DiskService/ReadRanges', 'TransferService/HoldLock']) {
    assert.ok(methods.includes(`/kvmclone.agent.v1.${m}`), `${m} is in the proto`);
  }
  for (const path of EXPECTED_READ_ONLY) assert.ok(methods.includes(path), `${path} is a method the server has`);
  const rows: string[] = [];
  for (const path of methods) {
    for (const role of ['admin', 'read-only'] as const) {
      const expected = role === 'admin' || EXPECTED_READ_ONLY.has(path) ? 'served' : 'PERMISSION_DENIED';
      const refusal = refusalOf(peer(role), path, SOCKETS);
      const got = refusal === undefined ? 'served' : 'PERMISSION_DENIED';
      assert.equal(roleAllows(role, path), got === 'served');
      if (got !== expected) rows.push(`${path} on ${role}: expected ${expected}, got ${got}`);
      if (refusal !== undefined) {
        const name = path.slice(path.lastIndexOf('/') + 1);
        assert.match(refusal, new RegExp(`^${name} \\(${path.replace(/\./g, '\\.')}\\) `), 'the refusal names the method');
        assert.ok(refusal.includes(SOCKETS['read-only']) && refusal.includes(SOCKETS.admin), `the refusal names both sockets: ${refusal}`);
      }
    }
  }
  assert.deepEqual(rows, []);
  // Most of the API is admin-only.
  assert.ok(methods.filter((m) => !EXPECTED_READ_ONLY.has(m)).length >= 15, methods.join('\n'));
});

test('a method no list names (a new RPC) is admin-only', () => {
  for (const path of ['/kvmclone.agent.v1.DomainService/DestroyEverything', '/kvmclone.agent.v2.InfoService/GetInfo', '/grpc.health.v2.Health/Check', 'GetInfo', '']) {
    assert.equal(refusalOf(peer('admin'), path, SOCKETS), undefined, path);
    assert.ok(refusalOf(peer('read-only'), path, SOCKETS) !== undefined, path);
  }
});

test('a connection the agent did not accept itself is refused, even for GetInfo', () => {
  for (const address of ['unknown', '127.0.0.1:5000', '/run/kvmclone/agent.sock', 'kvmclone-peer:role=root,uid=0,gid=0,pid=1']) {
    const refusal = refusalOf(address, '/kvmclone.agent.v1.InfoService/GetInfo', SOCKETS);
    assert.match(refusal ?? '', /did not come through one of the agent's sockets/, address);
  }
});
