/**
 * What the DomainService and StorageService unit tests (test/unit/domain-service-*.test.ts)
 * share: both services over the fake libvirt, through a real in-process gRPC
 * server on a temporary unix socket (so status codes are the ones a client
 * sees), started before a file's tests (useDomainServiceServer) with a fresh
 * fake for each test; and the domain XML and qemu-img helpers they use. The
 * server itself (serveLibvirtServices) also serves the other tests that call
 * the two services over a libvirt of their own (define-chain, the libvirt
 * adapter's integration tests).
 *
 * The server's state is exported as live bindings: `fake`, `clients`, `root`
 * and the rest are the current ones whenever a test reads them.
 */
import { before, after, beforeEach } from 'node:test';
import { execFileSync } from 'node:child_process';
import { mkdir, rm, access } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { FakeLibvirt } from '../../agent/libvirt/fake-libvirt.js';
import type { LibvirtPort } from '../../agent/libvirt/libvirt-port.js';
import { createDomainService, type DomainServiceDeps } from '../../agent/services/domain-service.js';
import { createStorageService } from '../../agent/services/storage-service.js';
import type { ImageRoots } from '../../agent/paths/image-roots.js';
import { LockRegistry } from '../../agent/transfer/lock-registry.js';
import { createAgentClients, type AgentClients } from '../../shared/agent-clients.js';
import { loadAgentProto } from '../../shared/proto.js';
import { makeRootAndOutside } from './root-and-outside.js';

export const UUID_A = '0b7e6c2e-9a3c-4d8e-8f1a-2b3c4d5e6f70';
export const UUID_B = '1c8f7d3f-0b4d-4e9f-9a2b-3c4d5e6f7081';

let base: string;
export let root: string;
export let outside: string;
export let swtpm: string;
let roots: ImageRoots;
export let fake: FakeLibvirt;
let server: grpc.Server;
export let clients: AgentClients;
/** The agent's operation locks, as HoldLock would take them. */
export const locks = new LockRegistry();

/** Makes `libvirt` the fake the services talk to, for the rest of the current test. */
export function useLibvirt(libvirt: FakeLibvirt): void {
  fake = libvirt;
}

/**
 * DomainService and StorageService over `deps.libvirt` and `deps.roots`, served by a new in-process gRPC
 * server on the unix socket `socket`, logging nothing: the server (the caller shuts it down) and clients of it.
 */
export async function serveLibvirtServices(socket: string, deps: Omit<DomainServiceDeps, 'rpc'>): Promise<{ server: grpc.Server; clients: AgentClients }> {
  const v1 = loadAgentProto().proto.kvmclone.agent.v1;
  const rpc = { log: pino({ level: 'silent' }), shutdown: new AbortController().signal };
  const server = new grpc.Server();
  server.addService(v1.DomainService.service, createDomainService({ rpc, ...deps }));
  server.addService(v1.StorageService.service, createStorageService({ rpc, libvirt: deps.libvirt, roots: deps.roots }));
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  return { server, clients: createAgentClients(`unix:${socket}`) };
}

async function startServer(): Promise<void> {
  // The services hold this port; it forwards to the current test's fake.
  const port: LibvirtPort = {
    listDomains: (o) => fake.listDomains(o),
    getDomain: (n, o) => fake.getDomain(n, o),
    getDomainXml: (n, o) => fake.getDomainXml(n, o),
    defineDomain: (x, o) => fake.defineDomain(x, o),
    startDomain: (n, o) => fake.startDomain(n, o),
    resumeDomain: (n, o) => fake.resumeDomain(n, o),
    shutdownDomain: (n, o) => fake.shutdownDomain(n, o),
    destroyDomain: (n, o) => fake.destroyDomain(n, o),
    undefineDomain: (n, r, o) => fake.undefineDomain(n, r, o),
    hostFacts: (o) => fake.hostFacts(o),
    listPools: (o) => fake.listPools(o),
    secretUsage: (u, o) => fake.secretUsage(u, o),
    close: () => fake.close(),
  };
  ({ server, clients } = await serveLibvirtServices(join(base, 'agent.sock'), { libvirt: port, roots, swtpmStateRoot: swtpm, locks }));
}

/**
 * Serves both services for the calling test file: a temporary directory with
 * the image root (`root`), a place outside it (`outside`) and the swtpm state
 * root (`swtpm`) before its tests, removed after them; a fresh fake libvirt
 * with one pool before each test.
 */
export function useDomainServiceServer(): void {
  before(async () => {
    ({ dir: base, images: root, outside, roots } = await makeRootAndOutside('kvmclone-domain-svc-'));
    swtpm = join(base, 'swtpm');
    await mkdir(swtpm);
    fake = new FakeLibvirt();
    await startServer();
  });

  after(async () => {
    clients.close();
    server.forceShutdown();
    await rm(base, { recursive: true, force: true });
  });

  beforeEach(() => {
    fake = new FakeLibvirt({
      pools: [
        { name: 'default', uuid: UUID_B, type: 'dir', path: '/var/lib/libvirt/images', active: true, autostart: true, capacityBytes: 100, allocationBytes: 40, availableBytes: 60 },
      ],
    });
  });
}

export const call = { deadlineMs: 10_000 };

export function qemuImg(...args: string[]): void {
  execFileSync('qemu-img', args, { stdio: 'ignore' });
}

export interface DiskSpec {
  path?: string;
  target: string;
  format?: string;
  device?: string;
  type?: string;
  extra?: string;
}

export function diskXml(d: DiskSpec): string {
  const type = d.type ?? 'file';
  const source = d.path === undefined ? '' : `<source ${type === 'block' ? 'dev' : 'file'}='${d.path}'/>`;
  return `<disk type='${type}' device='${d.device ?? 'disk'}'><driver name='qemu' type='${d.format ?? 'qcow2'}'/>${source}<target dev='${d.target}' bus='virtio'/>${d.extra ?? ''}</disk>`;
}

export function vmXml(name: string, options: { uuid?: string; disks?: DiskSpec[]; os?: string; devices?: string; head?: string } = {}): string {
  return `<domain type='qemu'${options.head ?? ''}><name>${name}</name>${options.uuid ? `<uuid>${options.uuid}</uuid>` : ''}<memory unit='MiB'>64</memory><vcpu>2</vcpu>
    <os><type arch='x86_64' machine='pc'>hvm</type>${options.os ?? ''}</os>
    <devices>${(options.disks ?? []).map(diskXml).join('')}${options.devices ?? ''}</devices></domain>`;
}

export async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
