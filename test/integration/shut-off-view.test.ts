/**
 * OpenLiveView with shut_off (what clone --flatten reads): one in-process
 * agent with a fake libvirt, real qemu-img, qemu-io and qemu-nbd. The view of
 * a shut-off domain serves each disk with its chain merged (its guest digest
 * is the file's), holds the images' locks while it is open (no writer gets
 * in), and leaves nothing behind when its call ends; a chain reaching outside
 * the roots, a checkpoint asked of a shut-off domain, and a shut-off domain
 * without shut_off are refused.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClientReadableStream } from '@grpc/grpc-js';
import { createAgentClients, unaryCall, type AgentClients } from '../../shared/agent-clients.js';
import type { LiveViewEvent__Output } from '../../shared/generated/kvmclone/agent/v1/LiveViewEvent.js';
import type { OpenLiveViewRequest } from '../../shared/generated/kvmclone/agent/v1/OpenLiveViewRequest.js';
import { FakeLibvirt } from '../../agent/libvirt/fake-libvirt.js';
import type { RunningAgentServer } from '../../agent/server/agent-server.js';
import { rejectsWithStatus } from '../support/grpc-status.js';
import { makeRootAndOutside } from '../support/root-and-outside.js';
import { startInProcessAgent } from './support/in-process-agent.js';

const T = { deadlineMs: 60_000 };
let dir: string;
let images: string;
let outside: string;
let runtime: string;
let libvirt: FakeLibvirt;
let server: RunningAgentServer;
let clients: AgentClients;

function domainXml(name: string, disk: string): string {
  return `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>
<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk></devices></domain>`;
}

function request(vm: string, operationId: string, extra: Partial<OpenLiveViewRequest> = {}): OpenLiveViewRequest {
  return { vmName: vm, operationId, replicaId: '', cbt: false, quiesce: 'QUIESCE_OFF', incrementalFrom: '', incrementalFromXml: '', shutOff: true, ...extra };
}

/** The first event of an OpenLiveView call, or its error. */
function firstEvent(call: ClientReadableStream<LiveViewEvent__Output>): Promise<LiveViewEvent__Output> {
  return new Promise((resolve, reject) => {
    call.once('data', resolve);
    call.once('error', reject);
  });
}

/** Resolves once the call has ended (cancelled calls end with CANCELLED). */
function ended(call: ClientReadableStream<LiveViewEvent__Output>): Promise<void> {
  return new Promise((resolve) => {
    call.on('error', () => resolve());
    call.on('end', () => resolve());
    call.on('data', () => undefined);
  });
}

async function flatSockets(): Promise<string[]> {
  return (await readdir(join(runtime, 'live')).catch(() => [] as string[])).filter((n) => n.startsWith('flat-'));
}

before(async () => {
  ({ dir, outside } = await makeRootAndOutside('kvmclone-shut-off-view-'));
  libvirt = new FakeLibvirt();
  ({ server, images, runtime } = await startInProcessAgent(dir, libvirt));
  clients = createAgentClients(`unix:${join(runtime, 'agent.sock')}`);
});

after(async () => {
  clients.close();
  await server.close(1000);
  await rm(dir, { recursive: true, force: true });
});

test('a shut-off view serves the merged chain, holds the images against writers, and leaves nothing when it ends', async () => {
  const base = join(images, 'sv-base.qcow2');
  const disk = join(images, 'sv.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', base, '4M']);
  execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x62 1M 1M', base]);
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', 'sv-base.qcow2', '-F', 'qcow2', disk]);
  execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x6b 3M 64k', disk]);
  await libvirt.addDomain(domainXml('sv', disk), 'shutoff');
  const expected = await unaryCall(clients.disk, clients.disk.digestImage, { path: disk, layer: 'EXTENT_LAYER_GUEST' }, T);

  const call = clients.transfer.openLiveView(request('sv', 'flatview-0001'));
  const done = ended(call);
  const view = await firstEvent(call);
  assert.equal(view.consistency, 'shut-off');
  assert.equal(view.checkpoint, '');
  assert.deepEqual(
    view.disks.map((d) => [d.target, d.sourcePath, d.format, Number(d.virtualSize)]),
    [['vda', disk, 'qcow2', 4 * 1024 * 1024]],
  );
  const viewPath = view.disks[0]?.viewPath ?? '';
  const got = await unaryCall(clients.disk, clients.disk.digestImage, { path: viewPath, layer: 'EXTENT_LAYER_GUEST' }, T);
  assert.equal(got.digest, expected.digest, "the view's guest digest is the chain's");
  assert.equal((await flatSockets()).length, 1, 'one qemu-nbd socket for the one disk');
  // A writer (QEMU starting the VM, qemu-io) cannot take the image while the view holds it.
  const write = spawnSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x01 0 4k', disk], { encoding: 'utf8' });
  assert.notEqual(write.status, 0, 'a write is refused while the view is open');
  assert.match(write.stderr, /lock/i);

  call.cancel();
  await done;
  for (let i = 0; i < 50 && (await flatSockets()).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(await flatSockets(), [], 'the socket went with the view');
  await rejectsWithStatus(unaryCall(clients.disk, clients.disk.digestImage, { path: viewPath, layer: 'EXTENT_LAYER_GUEST' }, T), 'NOT_FOUND');
  execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x01 0 4k', disk]);
});

test('a shut-off view of a chain reaching outside the roots is refused before qemu-nbd opens it', async () => {
  const secret = join(outside, 'secret.raw');
  execFileSync('truncate', ['-s', '1M', secret]);
  const disk = join(images, 'leak.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', secret, '-F', 'raw', disk]);
  await libvirt.addDomain(domainXml('leak', disk), 'shutoff');
  const details = await rejectsWithStatus(firstEvent(clients.transfer.openLiveView(request('leak', 'flatview-0002'))), 'PERMISSION_DENIED');
  assert.match(details, /secret\.raw/);
  assert.deepEqual(await flatSockets(), []);
});

test('a checkpoint of a shut-off domain is refused, and so is a shut-off domain without shut_off', async () => {
  const disk = join(images, 'plain.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '1M']);
  await libvirt.addDomain(domainXml('plain', disk), 'shutoff');
  const cbt = await rejectsWithStatus(
    firstEvent(clients.transfer.openLiveView(request('plain', 'flatview-0003', { cbt: true, replicaId: 'r0123456789abcdef' }))),
    'INVALID_ARGUMENT',
  );
  assert.match(cbt, /shut off/);
  const live = await rejectsWithStatus(firstEvent(clients.transfer.openLiveView(request('plain', 'flatview-0004', { shutOff: false }))), 'FAILED_PRECONDITION');
  assert.match(live, /needs a running VM/);
});
