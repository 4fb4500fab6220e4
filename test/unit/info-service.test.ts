/**
 * GetInfo's report of who is calling (for `kvmctl hosts check`): the caller's
 * uid, gid, groups and role from a connection the agent accepted itself
 * (SO_PEERCRED, caller.ts), and nothing — not a guess — from any other
 * connection. Also the forward directory a controller binds peer sockets in.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { FakeLibvirt } from '../../agent/libvirt/fake-libvirt.js';
import { ImageRoots } from '../../agent/paths/image-roots.js';
import { createInfoService } from '../../agent/services/info-service.js';
import { callerAddress } from '../../agent/server/caller.js';
import type { GetInfoResponse } from '../../shared/generated/kvmclone/agent/v1/GetInfoResponse.js';

let dir: string;
let roots: ImageRoots;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'info-service-'));
  roots = await ImageRoots.open([dir]);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Calls GetInfo as grpc-js would, on a connection whose getPeer() says `peer`. */
function getInfo(peer: string): Promise<GetInfoResponse> {
  const service = createInfoService({
    rpc: { log: pino({ level: 'silent' }), shutdown: new AbortController().signal },
    libvirt: new FakeLibvirt(),
    roots,
    forwardDir: '/run/kvmclone/forward',
  });
  const call = { request: {}, getPeer: () => peer, on: () => call, removeListener: () => call, getDeadline: () => Infinity };
  return new Promise((resolve, reject) =>
    service.GetInfo(call as unknown as grpc.ServerUnaryCall<never, never>, (err, value) =>
      err ? reject(Object.assign(new Error(err.details ?? 'GetInfo failed'), err)) : resolve(value as GetInfoResponse),
    ),
  );
}

test("a connection the agent accepted itself: uid, gid, role and the live process's groups", async () => {
  // this test's own pid stands in for the sshd process behind a forward: its groups are readable
  const info = await getInfo(callerAddress({ uid: 998, gid: 997, pid: process.pid, role: 'admin' }));
  assert.equal(info.caller?.uid, 998);
  assert.equal(info.caller?.gid, 997);
  assert.equal(info.caller?.role, 'admin');
  assert.ok(Array.isArray(info.caller?.groups));
  assert.equal(info.forwardDir, '/run/kvmclone/forward');
  assert.ok(info.capabilities?.includes('transfer.forward-dir'));
});

test('a process gone by the time GetInfo runs: uid and role still reported, groups empty', async () => {
  const info = await getInfo(callerAddress({ uid: 0, gid: 0, pid: 2 ** 22 + 12345, role: 'read-only' }));
  assert.deepEqual(info.caller, { uid: 0, gid: 0, groups: [], role: 'read-only' });
});

test('any other connection (grpc-js\'s own "unix:" peer): no caller at all, so kvmctl says it is unknown', async () => {
  const info = await getInfo('unix:/run/kvmclone/agent.sock');
  assert.equal(info.caller, undefined);
  assert.equal(info.forwardDir, '/run/kvmclone/forward');
});
