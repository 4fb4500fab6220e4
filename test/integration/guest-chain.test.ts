/**
 * The guest layer never lets qemu follow an unchecked chain (hole 2 of issue
 * 10): DigestImage and HashBlocks at the GUEST layer read an image through a
 * qemu-nbd of the agent's, which opens the backing files the header names —
 * so the chain is checked under the roots first, and the format is read from
 * the qcow2 magic, never probed by qemu. One in-process agent, real
 * qemu-img and qemu-nbd.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createAgentClients, unaryCall, type AgentClients } from '../../shared/agent-clients.js';
import type { HashBlocksResponse__Output } from '../../shared/generated/kvmclone/agent/v1/HashBlocksResponse.js';
import { FakeLibvirt } from '../../agent/libvirt/fake-libvirt.js';
import type { RunningAgentServer } from '../../agent/server/agent-server.js';
import { rejectsWithStatus } from '../support/grpc-status.js';
import { makeRootAndOutside } from '../support/root-and-outside.js';
import { startInProcessAgent } from './support/in-process-agent.js';
import { streamEvents } from '../support/stream-events.js';

const T = { deadlineMs: 60_000 };
let dir: string;
let images: string;
let outside: string;
let server: RunningAgentServer;
let clients: AgentClients;

before(async () => {
  ({ dir, images, outside } = await makeRootAndOutside('kvmclone-guest-chain-'));
  ({ server } = await startInProcessAgent(dir, new FakeLibvirt()));
  clients = createAgentClients(`unix:${join(dir, 'run', 'agent.sock')}`);
});

after(async () => {
  clients.close();
  await server.close(1000);
  await rm(dir, { recursive: true, force: true });
});

function qemuImg(...args: string[]): void {
  execFileSync('qemu-img', args);
}

function guestHashes(path: string): Promise<HashBlocksResponse__Output[]> {
  return streamEvents(clients.disk.hashBlocks({ path, blockSize: 65536, layer: 'EXTENT_LAYER_GUEST' }, { deadline: Date.now() + T.deadlineMs }));
}

test('a qcow2 whose backing file lies outside the roots is refused at the guest layer before qemu-nbd opens it', async () => {
  const secret = join(outside, 'secret.raw');
  execFileSync('truncate', ['-s', '1M', secret]);
  const disk = join(images, 'leaky.qcow2');
  qemuImg('create', '-q', '-f', 'qcow2', '-b', secret, '-F', 'raw', disk);
  const digest = await rejectsWithStatus(unaryCall(clients.disk, clients.disk.digestImage, { path: disk, layer: 'EXTENT_LAYER_GUEST' }, T), 'PERMISSION_DENIED');
  assert.match(digest, /secret\.raw.*outside the agent's image roots/);
  const hashes = await rejectsWithStatus(guestHashes(disk), 'PERMISSION_DENIED');
  assert.match(hashes, /secret\.raw.*outside the agent's image roots/);
});

test('a qcow2 naming an external data file is refused at the guest layer', async () => {
  const disk = join(images, 'datafile.qcow2');
  qemuImg('create', '-q', '-f', 'qcow2', '-o', `data_file=${join(outside, 'data.raw')}`, disk, '1M');
  const details = await rejectsWithStatus(unaryCall(clients.disk, clients.disk.digestImage, { path: disk, layer: 'EXTENT_LAYER_GUEST' }, T), 'PERMISSION_DENIED');
  assert.match(details, /external data file/);
});

test('a chain under the roots is read through its format', async () => {
  const base = join(images, 'ok-base.qcow2');
  qemuImg('create', '-q', '-f', 'qcow2', base, '1M');
  const disk = join(images, 'ok.qcow2');
  qemuImg('create', '-q', '-f', 'qcow2', '-b', 'ok-base.qcow2', '-F', 'qcow2', disk);
  const res = await unaryCall(clients.disk, clients.disk.digestImage, { path: disk, layer: 'EXTENT_LAYER_GUEST' }, T);
  assert.equal(res.size, 1024 * 1024);
  assert.match(res.digest, /^blake3:/);
});
