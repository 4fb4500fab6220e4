/**
 * The agent as a process: socket permissions, health, reflection, Info over
 * libvirt's test driver, systemd notifications, config errors, a second agent
 * on a live socket, and a clean SIGTERM.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, stat, writeFile, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { createAgentClients, unaryCall, type AgentClients } from '../../shared/agent-clients.js';
import { spawnAgent, waitForSocket, type AgentProcess } from '../support/agent-process.js';

let dir: string;
let socket: string;
let notifyLog: string;
let listener: ChildProcess;
let agent: AgentProcess;
let clients: AgentClients;

const NOTIFY_LISTENER = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], 'a', buffering=1) as out:
    print('listening', flush=True)
    while True:
        out.write(s.recv(4096).decode().replace('\\n', '|') + '\\n')
`;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvmclone-agent-proc-'));
  socket = join(dir, 'run', 'kvmclone', 'agent.sock');
  notifyLog = join(dir, 'notify.log');
  await mkdir(join(dir, 'images'));
  const notifySocket = join(dir, 'notify.sock');
  listener = spawn('python3', ['-c', NOTIFY_LISTENER, notifySocket, notifyLog], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve) => listener.stdout?.once('data', resolve));
  agent = spawnAgent(['--socket', socket, '--images-root', join(dir, 'images'), '--libvirt-uri', 'test:///default'], {
    NOTIFY_SOCKET: notifySocket,
    WATCHDOG_USEC: '1000000',
  });
  await waitForSocket(agent, socket);
  clients = createAgentClients(`unix:${socket}`);
});

after(async () => {
  clients?.close();
  if (agent?.child.exitCode === null) agent.child.kill('SIGKILL');
  listener?.kill();
  await rm(dir, { recursive: true, force: true });
});

test('the socket and the read-only socket beside it are 0660 in a 0755 directory', async () => {
  assert.equal((await stat(socket)).mode & 0o777, 0o660);
  assert.equal((await stat(join(dir, 'run', 'kvmclone', 'agent-ro.sock'))).mode & 0o777, 0o660);
  assert.equal((await stat(join(dir, 'run', 'kvmclone'))).mode & 0o777, 0o755);
});

test('grpc.health.v1 reports SERVING for the server and each service', async () => {
  const def = protoLoader.loadSync(healthProtoPath, { enums: String });
  const Health = (grpc.loadPackageDefinition(def) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } }).grpc.health.v1.Health;
  const health = new Health(`unix:${socket}`, grpc.credentials.createInsecure());
  try {
    for (const service of ['', 'kvmclone.agent.v1.DiskService', 'kvmclone.agent.v1.DomainService']) {
      const reply = await new Promise<{ status: string }>((resolve, reject) =>
        (health as unknown as { check(r: object, cb: (e: Error | null, r: { status: string }) => void): void }).check({ service }, (e, r) => (e ? reject(e) : resolve(r))),
      );
      assert.equal(reply.status, 'SERVING', service);
    }
  } finally {
    health.close();
  }
});

test('server reflection lists the v1 services', async () => {
  const def = protoLoader.loadSync('grpc/reflection/v1/reflection.proto', {
    includeDirs: [join(process.cwd(), 'node_modules/@grpc/reflection/build/proto')],
  });
  type Reflection = grpc.ServiceClientConstructor;
  const Ctor = (grpc.loadPackageDefinition(def) as unknown as { grpc: { reflection: { v1: { ServerReflection: Reflection } } } }).grpc.reflection.v1.ServerReflection;
  const client = new Ctor(`unix:${socket}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    ServerReflectionInfo(): grpc.ClientDuplexStream<object, { listServicesResponse?: { service: { name: string }[] } }>;
  };
  try {
    const call = client.ServerReflectionInfo();
    const reply = new Promise<string[]>((resolve, reject) => {
      call.once('data', (r: { listServicesResponse?: { service: { name: string }[] } }) => resolve((r.listServicesResponse?.service ?? []).map((s) => s.name)));
      call.once('error', reject);
    });
    call.write({ listServices: '' });
    const names = await reply;
    call.end();
    for (const s of ['InfoService', 'StorageService', 'DomainService', 'DiskService']) assert.ok(names.includes(`kvmclone.agent.v1.${s}`), names.join(','));
  } finally {
    client.close();
  }
});

test('GetInfo: version, API v1, capabilities, image roots and host facts from libvirt', async () => {
  const info = await unaryCall(clients.info, clients.info.getInfo, {}, { deadlineMs: 10_000 });
  assert.match(info.agentVersion, /^\d+\.\d+\.\d+/);
  assert.deepEqual(info.apiVersions, ['v1']);
  assert.ok(info.capabilities.includes('disk.read') && info.capabilities.includes('disk.write'));
  assert.deepEqual(info.imageRoots, [join(dir, 'images')]);
  assert.ok(info.host);
  assert.ok(info.host.hostname.length > 0);
  assert.ok(info.host.cpus > 0);
  assert.ok(info.host.memoryBytes > 0);
  assert.match(info.host.libvirtVersion, /^\d+\.\d+/);
});

test('ListDomains through the real libvirt library (test driver)', async () => {
  const list = await unaryCall(clients.domain, clients.domain.listDomains, {}, { deadlineMs: 10_000 });
  assert.ok(
    list.domains.some((d) => d.name === 'test'),
    JSON.stringify(list.domains),
  );
});

test('systemd: READY with a status, then watchdog pings', async () => {
  await sleep(1200);
  const lines = (await readFile(notifyLog, 'utf8')).split('\n');
  assert.ok(
    lines.some((l) => l.startsWith('READY=1|STATUS=serving API v1 on ')),
    lines.join('\n'),
  );
  assert.ok(
    lines.some((l) => l.startsWith('WATCHDOG=1')),
    lines.join('\n'),
  );
});

test('a second agent on the live socket refuses to start and the first keeps serving', async () => {
  const second = spawnAgent(['--socket', socket, '--images-root', join(dir, 'images'), '--libvirt-uri', 'test:///default']);
  assert.equal(await second.exited, 1);
  assert.match(second.output.join('\n'), /another agent is already serving/);
  const info = await unaryCall(clients.info, clients.info.getInfo, {}, { deadlineMs: 10_000 });
  assert.deepEqual(info.apiVersions, ['v1']);
});

test('a bad config file: every bad key named, exit 2', async () => {
  const config = join(dir, 'bad.yaml');
  await writeFile(config, 'sokcet: /x\nimage_roots: [images]\nlog_level: 3\n');
  const bad = spawnAgent(['--config', config]);
  assert.equal(await bad.exited, 2);
  const text = bad.output.join('\n');
  assert.match(text, /sokcet: unknown key/);
  assert.match(text, /image_roots\.0: /);
  assert.match(text, /log_level: /);
});

test('an unknown flag is a usage error, exit 2', async () => {
  const bad = spawnAgent(['--no-such-flag']);
  assert.equal(await bad.exited, 2);
});

test('SIGTERM: STOPPING notified, socket removed, exit 0', async () => {
  agent.child.kill('SIGTERM');
  assert.equal(await agent.exited, 0);
  await assert.rejects(access(socket));
  await assert.rejects(access(join(dir, 'run', 'kvmclone', 'agent-ro.sock')));
  const lines = (await readFile(notifyLog, 'utf8')).split('\n');
  assert.ok(
    lines.some((l) => l.startsWith('STOPPING=1')),
    lines.join('\n'),
  );
  assert.ok(
    agent.output.some((l) => l.includes('"msg":"agent stopped"')),
    agent.output.join('\n'),
  );
});
