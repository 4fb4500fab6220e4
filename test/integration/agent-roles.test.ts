/**
 * The two sockets of a real agent process (libvirt's test driver): the
 * read-only socket serves inventory and refuses what changes the host with
 * PERMISSION_DENIED — before anything is read, written or defined — while the
 * admin socket serves the same calls; modes and groups are applied, a group
 * name is resolved through NSS (getent, here answering for a group that no
 * /etc/group holds), and an unprivileged caller in the read-only group can
 * use the read-only socket but not the admin one.
 *
 * Starts agents: run under the testbed lock
 * (flock /tmp/kvmclone-testbed.lock node --test dist/test/integration/agent-roles.test.js).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { createAgentClients, unaryCall, type AgentClients } from '../../shared/agent-clients.js';
import { startAgentHarness, type AgentHarness } from '../support/agent-process.js';
import { rejectsWithStatus } from '../support/grpc-status.js';

const NOBODY = 65534;
/** A group only the stand-in NSS lookup knows. */
const NSS_GROUP = 'kvmclone-nss-only';
const NSS_GID = 4242;
const DEADLINE = { deadlineMs: 10_000 };

let harness: AgentHarness;
let ro: AgentClients;
let admin: AgentClients;
let getentLog: string;
let bin: string;

before(async () => {
  // getent is how the agent asks NSS; this one answers for NSS_GROUP (as LDAP or sssd would) and asks the real one otherwise.
  bin = await mkdtemp(join(tmpdir(), 'kvmclone-getent-'));
  getentLog = join(bin, 'calls.log');
  await writeFile(
    join(bin, 'getent'),
    `#!/bin/sh\necho "$*" >> ${getentLog}\nif [ "$1 $2" = "group ${NSS_GROUP}" ]; then echo "${NSS_GROUP}:x:${NSS_GID}:"; exit 0; fi\nexec /usr/bin/getent "$@"\n`,
  );
  await chmod(join(bin, 'getent'), 0o755);
  harness = await startAgentHarness({
    config: `socket_group: ${NSS_GROUP}\nro_socket_group: nogroup\nro_socket_mode: "0660"\nshutdown_grace: 1s\n`,
    env: { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` },
  });
  ro = createAgentClients(`unix:${harness.roSocket}`);
  admin = createAgentClients(`unix:${harness.socket}`);
});

after(async () => {
  ro?.close();
  admin?.close();
  await harness?.stop();
  await rm(bin, { recursive: true, force: true });
});

test('modes and groups: admin socket 0660 in the group NSS named, read-only socket 0660 group nogroup', async () => {
  const a = await stat(harness.socket);
  const r = await stat(harness.roSocket);
  assert.ok(a.isSocket() && r.isSocket());
  assert.deepEqual([a.mode & 0o777, a.gid], [0o660, NSS_GID]);
  assert.deepEqual([r.mode & 0o777, r.gid], [0o660, NOBODY]);
  assert.ok(!(await readFile('/etc/group', 'utf8')).includes(NSS_GROUP), 'the group is not in /etc/group: only NSS knows it');
  const calls = (await readFile(getentLog, 'utf8')).split('\n');
  assert.ok(calls.includes(`group ${NSS_GROUP}`) && calls.includes('group nogroup'), calls.join('\n'));
});

test('the read-only socket serves GetInfo, ListDomains, DescribeDomain, GetFreeSpace and health', async () => {
  const info = await unaryCall(ro.info, ro.info.getInfo, {}, DEADLINE);
  assert.deepEqual(info.apiVersions, ['v1']);
  const list = await unaryCall(ro.domain, ro.domain.listDomains, {}, DEADLINE);
  assert.ok(
    list.domains.some((d) => d.name === 'test'),
    JSON.stringify(list.domains),
  );
  await unaryCall(admin.domain, admin.domain.defineDomain, { xml: XML('ro-described'), operationId: '' }, DEADLINE);
  const described = await unaryCall(ro.domain, ro.domain.describeDomain, { name: 'ro-described' }, DEADLINE);
  assert.equal(described.domain?.name, 'ro-described');
  const space = await unaryCall(ro.storage, ro.storage.getFreeSpace, { path: harness.imagesRoot }, DEADLINE);
  assert.ok(space.availableBytes > 0);
  const Health = (
    grpc.loadPackageDefinition(protoLoader.loadSync(healthProtoPath, { enums: String })) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } }
  ).grpc.health.v1.Health;
  const health = new Health(`unix:${harness.roSocket}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    check(r: object, cb: (e: Error | null, r: { status: string }) => void): void;
  };
  try {
    const reply = await new Promise<{ status: string }>((resolve, reject) => health.check({ service: '' }, (e, r) => (e ? reject(e) : resolve(r))));
    assert.equal(reply.status, 'SERVING');
  } finally {
    health.close();
  }
});

const XML = (name: string): string => `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>`;

async function names(): Promise<string[]> {
  return (await unaryCall(admin.domain, admin.domain.listDomains, {}, DEADLINE)).domains.map((d) => d.name);
}

/** The refusal names the method and the read-only socket, and points at the admin socket. */
function assertNamed(details: string, method: string): void {
  assert.ok(details.includes(method) && details.includes(harness.roSocket) && details.includes(harness.socket), details);
}

test('DefineDomain on the read-only socket: PERMISSION_DENIED, nothing defined; the same call on the admin socket defines it', async () => {
  const details = await rejectsWithStatus(unaryCall(ro.domain, ro.domain.defineDomain, { xml: XML('ro-refused'), operationId: '' }, DEADLINE), 'PERMISSION_DENIED');
  assertNamed(details, 'DefineDomain');
  assert.ok(!(await names()).includes('ro-refused'));
  // The refusal is in the audit trail, with the caller the kernel saw (this process) and its code.
  const records = (await readFile(join(harness.dir, 'audit', 'audit.log'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { method: string; code: string; caller: { pid: number; role: string } | null; vm: string | null });
  const refusal = records.find((r) => r.method.endsWith('/DefineDomain') && r.code === 'PERMISSION_DENIED');
  assert.ok(refusal, JSON.stringify(records));
  assert.equal(refusal.caller?.pid, process.pid);
  assert.equal(refusal.caller?.role, 'read-only');
  await unaryCall(admin.domain, admin.domain.defineDomain, { xml: XML('ro-refused'), operationId: '' }, DEADLINE);
  assert.ok((await names()).includes('ro-refused'));
});

test('StartDomain and UndefineDomain on the read-only socket: PERMISSION_DENIED, the domain untouched', async () => {
  assertNamed(await rejectsWithStatus(unaryCall(ro.domain, ro.domain.startDomain, { name: 'test', operationId: '' }, DEADLINE), 'PERMISSION_DENIED'), 'StartDomain');
  assertNamed(
    await rejectsWithStatus(unaryCall(ro.domain, ro.domain.undefineDomain, { name: 'test', storage: 'STORAGE_POLICY_KEEP' }, DEADLINE), 'PERMISSION_DENIED'),
    'UndefineDomain',
  );
  assert.ok((await names()).includes('test'));
});

test('WriteRanges on the read-only socket: PERMISSION_DENIED before the data is read, no file created', async () => {
  const before = await readdir(harness.imagesRoot);
  const details = await rejectsWithStatus(
    new Promise((resolve, reject) => {
      const call = ro.disk.writeRanges((err, reply) => (err ? reject(err) : resolve(reply)));
      call.on('error', () => undefined);
      call.write({ open: { targetPath: join(harness.imagesRoot, 'written.raw'), size: 65536 } });
      call.write({ data: { offset: 0, data: Buffer.alloc(65536, 7) } });
      call.end();
    }),
    'PERMISSION_DENIED',
  );
  assertNamed(details, 'WriteRanges');
  assert.deepEqual(await readdir(harness.imagesRoot), before);
});

/** Collects a server stream's messages and its end status. */
function drain(call: grpc.ClientReadableStream<unknown>): Promise<{ messages: number; error?: grpc.ServiceError }> {
  return new Promise((resolve) => {
    let messages = 0;
    call.on('data', () => (messages += 1));
    call.on('error', (error: grpc.ServiceError) => resolve({ messages, error }));
    call.on('end', () => resolve({ messages }));
  });
}

test('ReadRanges on the read-only socket: PERMISSION_DENIED and no byte; the admin socket reads the file', async () => {
  const path = join(harness.imagesRoot, 'secret.raw');
  await writeFile(path, Buffer.alloc(65536, 0x5a));
  const refused = await drain(ro.disk.readRanges({ path }));
  assert.equal(refused.messages, 0);
  assert.equal(refused.error?.code, grpc.status.PERMISSION_DENIED, refused.error?.details);
  assertNamed(refused.error?.details ?? '', 'ReadRanges');
  const served = await drain(admin.disk.readRanges({ path }));
  assert.equal(served.error, undefined, served.error?.details);
  assert.ok(served.messages > 0);
});

test('PullImage and HoldLock on the read-only socket: PERMISSION_DENIED', async () => {
  const pull = await drain(
    ro.transfer.pullImage({
      peerSocket: join(harness.dir, 'run', 'kvmclone', 'peer-x.sock'),
      ticket: 't',
      sourcePath: '/x',
      targetPath: join(harness.imagesRoot, 'pulled.raw'),
      operationId: 'op',
    }),
  );
  assert.equal(pull.error?.code, grpc.status.PERMISSION_DENIED, pull.error?.details);
  assertNamed(pull.error?.details ?? '', 'PullImage');
  const lock = await drain(ro.transfer.holdLock({ vmName: 'test', operationId: 'op', purpose: 'test' }));
  assert.equal(lock.error?.code, grpc.status.PERMISSION_DENIED, lock.error?.details);
  assertNamed(lock.error?.details ?? '', 'HoldLock');
  assert.ok(!(await readdir(harness.imagesRoot)).some((f) => f.includes('pulled')));
});

test('an unprivileged caller in the read-only group (nobody:nogroup) gets GetInfo on the read-only socket and no connection to the admin socket', async () => {
  const clients = fileURLToPath(new URL('../../shared/agent-clients.js', import.meta.url));
  const script = `
const { createAgentClients, unaryCall } = await import(${JSON.stringify(clients)});
const out = {};
for (const [name, path] of [['ro', process.argv[1]], ['admin', process.argv[2]]]) {
  const c = createAgentClients('unix:' + path);
  try { out[name] = (await unaryCall(c.info, c.info.getInfo, {}, { deadlineMs: 5000 })).apiVersions.join(','); }
  catch (e) { out[name] = 'ERROR ' + e.code + ' ' + e.details; }
  c.close();
}
process.stdout.write(JSON.stringify(out));
`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, harness.roSocket, harness.socket], {
    uid: NOBODY,
    gid: NOBODY,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  await new Promise((resolve) => child.once('close', resolve));
  const reply = JSON.parse(out) as { ro: string; admin: string };
  assert.equal(reply.ro, 'v1');
  assert.match(reply.admin, new RegExp(`^ERROR ${grpc.status.UNAVAILABLE} `), reply.admin);
});

test('SIGTERM: a stream still open on an accepted connection ends, both sockets removed, exit 0', async () => {
  const lock = admin.transfer.holdLock({ vmName: 'held', operationId: '9b1c6f2e-3c1d-4f5a-8e7b-2d4c6a8e0f12', purpose: 'shutdown test' });
  const held = new Promise((resolve) => lock.once('data', resolve));
  const ended = drain(lock);
  const first = await Promise.race([held.then(() => 'held'), ended.then((e) => `ended before the lock was held: ${e.error?.details}`)]);
  assert.equal(first, 'held');
  const started = Date.now();
  harness.agent.child.kill('SIGTERM');
  assert.equal(await harness.agent.exited, 0, harness.agent.output.join('\n'));
  // The held lock's stream ends with the agent (HoldLock ends its stream at shutdown; a forced close would be UNAVAILABLE).
  const { error } = await ended;
  assert.ok(error === undefined || [grpc.status.UNAVAILABLE, grpc.status.CANCELLED].includes(error.code), `${error?.code} ${error?.details}`);
  assert.ok(Date.now() - started < 8000, 'the grace period (1 s) bounded the wait');
  await assert.rejects(access(harness.socket));
  await assert.rejects(access(harness.roSocket));
});
