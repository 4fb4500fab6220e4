/**
 * The role decision as a table: every method of every service the agent
 * serves (the v1 services from the proto, grpc.health.v1, reflection) on
 * each socket → served or PERMISSION_DENIED. The test holds its own half of
 * the classification: the v1 methods that must stay admin-only, written out
 * here. Every other v1 method must be in the agent's READ_ONLY_METHODS, and
 * no listed one may be, so a method moved between lists (or a new RPC nobody
 * classified) changes this test; health and reflection are served on both
 * sockets. A method that no list names is admin-only at run time; a
 * connection the agent did not accept itself is refused on every method.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { join } from 'node:path';
import { loadAgentProto } from '../../shared/proto.js';
import { refusalOf, roleAllows } from '../../agent/rpc/role-guard.js';
import { callerAddress } from '../../agent/server/caller.js';
import { READ_ONLY_METHODS, type SocketRole } from '../../agent/rpc/method-roles.js';

const SOCKETS = { admin: '/run/kvmclone/agent.sock', 'read-only': '/run/kvmclone/agent-ro.sock' } as const;

/**
 * What the read-only socket must refuse, by service: everything that changes a
 * host, plus ReadRanges and DescribeLiveView, which hand out (or report on
 * handing out) a disk's contents.
 */
const ADMIN_ONLY_BY_SERVICE: Record<string, readonly string[]> = {
  DomainService: ['DefineDomain', 'StartDomain', 'ResumeDomain', 'ShutdownDomain', 'DestroyDomain', 'UndefineDomain'],
  DiskService: ['ReadRanges', 'WriteRanges', 'CommitStaging', 'AbortStaging', 'RebaseStaging', 'RemoveImage'],
  TransferService: [
    'OpenTicket',
    'PullImage',
    'HoldLock',
    'OpenLiveView',
    'DescribeLiveView',
    'PruneCheckpoints',
    'RemovePeerSocket',
    'RemoveLeftovers',
    'RestorePoint',
    'RemoveRestorePoints',
  ],
};
const ADMIN_ONLY = new Set(Object.entries(ADMIN_ONLY_BY_SERVICE).flatMap(([service, names]) => names.map((name) => `/kvmclone.agent.v1.${service}/${name}`)));

/** Every method path of every service in a package definition. */
function methodPaths(definition: protoLoader.PackageDefinition): string[] {
  const paths: string[] = [];
  for (const entry of Object.values(definition)) {
    if ('format' in entry) continue; // a message or enum type
    for (const method of Object.values(entry)) paths.push(method.path);
  }
  return paths;
}

/** The method paths the agent serves: its own v1 services, and the health and reflection services served on every socket. */
function servedMethods(): { v1: string[]; infrastructure: string[] } {
  const reflectionDir = join(process.cwd(), 'node_modules/@grpc/reflection/build/proto');
  return {
    v1: methodPaths(loadAgentProto().definition),
    infrastructure: [
      ...methodPaths(protoLoader.loadSync(healthProtoPath)),
      ...methodPaths(protoLoader.loadSync(['grpc/reflection/v1/reflection.proto', 'grpc/reflection/v1alpha/reflection.proto'], { includeDirs: [reflectionDir] })),
    ],
  };
}

const peer = (role: SocketRole): string => callerAddress({ role, uid: 1000, gid: 1000, pid: 4242 });

test('the table: every served method on each socket', () => {
  const { v1, infrastructure } = servedMethods();
  const methods = [...v1, ...infrastructure];
  // Both lists name only methods the proto has.
  for (const path of ADMIN_ONLY) assert.ok(v1.includes(path), `${path} is in the proto`);
  for (const path of READ_ONLY_METHODS) assert.ok(v1.includes(path), `${path} is a method the server has`);
  // Each v1 method is classified once: in the agent's read-only set or in this test's admin-only one.
  for (const path of v1) assert.ok(READ_ONLY_METHODS.has(path) !== ADMIN_ONLY.has(path), `${path} is in exactly one of READ_ONLY_METHODS and ADMIN_ONLY`);
  // Health, reflection and every v1 method not listed admin-only here.
  const servedOnReadOnly = (path: string): boolean => !ADMIN_ONLY.has(path);
  const rows: string[] = [];
  for (const path of methods) {
    for (const role of ['admin', 'read-only'] as const) {
      const expected = role === 'admin' || servedOnReadOnly(path) ? 'served' : 'PERMISSION_DENIED';
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
  // Most of the API is admin-only; the read-only socket still has the inventory.
  assert.ok(ADMIN_ONLY.size >= 15, methods.join('\n'));
  assert.ok(v1.filter(servedOnReadOnly).length >= 10, methods.join('\n'));
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
