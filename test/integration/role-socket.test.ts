/**
 * The agent accepts its socket connections itself: a handler sees, through
 * `callerOf(call.getPeer())`, the uid, gid and pid the kernel recorded for
 * the process that connected (SO_PEERCRED) and the role of the socket — for
 * this process and for a child running as nobody. Mode and group are applied
 * after bind, a stale socket is replaced, a live one is not, and close
 * removes the file and stops accepting.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { callerOf, type Caller } from '../../agent/server/caller.js';
import { listenRoleSocket, type RoleSocket } from '../../agent/server/role-socket.js';
import { resolveGroupId } from '../../agent/config/group-lookup.js';

const log = pino({ level: 'silent' });
const NOBODY = 65534;

/** A one-method service that answers with the caller the handler sees. */
const json = { serialize: (v: unknown) => Buffer.from(JSON.stringify(v ?? null)), deserialize: (b: Buffer) => JSON.parse(b.toString() || 'null') as unknown };
const WHO: grpc.ServiceDefinition = {
  Who: {
    path: '/kvmclone.test.Who/Who',
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
};

let dir: string;
let server: grpc.Server;
const sockets: RoleSocket[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvmclone-role-socket-'));
  // nobody must be able to reach the sockets' directory.
  await chmod(dir, 0o755);
  server = new grpc.Server();
  server.addService(WHO, {
    Who: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) =>
      callback(null, { caller: callerOf(call.getPeer()) ?? null, peer: call.getPeer() }),
  });
});

after(async () => {
  for (const s of sockets) await s.close();
  server.forceShutdown();
  await rm(dir, { recursive: true, force: true });
});

function ask(path: string): Promise<{ caller: Caller | null; peer: string }> {
  const client = new grpc.Client(`unix:${path}`, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest('/kvmclone.test.Who/Who', json.serialize, json.deserialize, {}, { deadline: Date.now() + 10_000 }, (err, reply) => {
      client.close();
      if (err) reject(err);
      else resolve(reply as { caller: Caller | null; peer: string });
    });
  });
}

/** The same call from a child process running as nobody:nogroup; resolves with its reply (or its error text) and pid. */
async function askAsNobody(path: string): Promise<{ out: string; pid: number }> {
  const grpcEntry = fileURLToPath(import.meta.resolve('@grpc/grpc-js'));
  const script = join(dir, 'ask.cjs');
  await writeFile(
    script,
    `const grpc = require(${JSON.stringify(grpcEntry)});
const s = (v) => Buffer.from(JSON.stringify(v));
const d = (b) => JSON.parse(b.toString());
const c = new grpc.Client('unix:' + process.argv[2], grpc.credentials.createInsecure());
c.makeUnaryRequest('/kvmclone.test.Who/Who', s, d, {}, { deadline: Date.now() + 10000 }, (err, reply) => {
  process.stdout.write(err ? 'ERROR ' + grpc.status[err.code] + ' ' + err.details : JSON.stringify(reply));
  c.close();
});
`,
  );
  await chmod(script, 0o644);
  const child = spawn(process.execPath, [script, path], { uid: NOBODY, gid: NOBODY, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  await new Promise((resolve) => child.once('close', resolve));
  return { out, pid: child.pid ?? -1 };
}

test('a handler sees the uid, gid and pid of this process and the socket role', async () => {
  sockets.push(await listenRoleSocket(server, { path: join(dir, 'admin.sock'), role: 'admin', mode: 0o660, group: undefined }, log));
  const reply = await ask(join(dir, 'admin.sock'));
  assert.deepEqual(reply.caller, { role: 'admin', uid: process.getuid?.(), gid: process.getgid?.(), pid: process.pid }, reply.peer);
});

test('a child running as nobody is seen as nobody, with its own pid, on a socket whose group was given by name', async () => {
  const gid = await resolveGroupId('nogroup', 'ro_socket_group');
  assert.equal(gid, NOBODY);
  const path = join(dir, 'ro.sock');
  sockets.push(await listenRoleSocket(server, { path, role: 'read-only', mode: 0o660, group: gid }, log));
  const st = await stat(path);
  assert.equal(st.mode & 0o777, 0o660);
  assert.equal(st.gid, NOBODY);
  const { out, pid } = await askAsNobody(path);
  const reply = JSON.parse(out) as { caller: Caller };
  assert.deepEqual(reply.caller, { role: 'read-only', uid: NOBODY, gid: NOBODY, pid });
});

test('mode is the access control: nobody cannot connect to a 0660 root:root socket', async () => {
  const path = join(dir, 'private.sock');
  sockets.push(await listenRoleSocket(server, { path, role: 'admin', mode: 0o660, group: undefined }, log));
  const { out } = await askAsNobody(path);
  assert.match(out, /^ERROR UNAVAILABLE /, out);
});

test('a stale socket is replaced; a live one is refused; close removes the file and stops accepting', async () => {
  const path = join(dir, 'stale.sock');
  const stale = createServer();
  await new Promise<void>((resolve) => stale.listen(path, resolve));
  // A live server on the path: refused, and its socket stays.
  await assert.rejects(listenRoleSocket(server, { path, role: 'admin', mode: 0o660, group: undefined }, log), /another agent is already serving/);
  assert.ok((await stat(path)).isSocket());
  // Simulate a crash: the listener goes away, the file stays.
  (stale as unknown as { _handle: { close(): void } | null })._handle?.close();
  const s = await listenRoleSocket(server, { path, role: 'admin', mode: 0o640, group: undefined }, log);
  assert.equal((await stat(path)).mode & 0o777, 0o640);
  assert.equal((await ask(path)).caller?.role, 'admin');
  await s.close();
  await assert.rejects(stat(path), { code: 'ENOENT' });
});

test('an unknown group name is an error naming the key', async () => {
  await assert.rejects(resolveGroupId('kvmclone-no-such-group', 'ro_socket_group'), /ro_socket_group: no group named kvmclone-no-such-group \(getent group/);
  assert.equal(await resolveGroupId('0', 'socket_group'), 0);
  assert.equal(await resolveGroupId(42, 'socket_group'), 42);
});
