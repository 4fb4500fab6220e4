/**
 * Issue 10, holes 5 and 6, against two real agent processes on libvirt's
 * test driver: an in-place pull naming its destination VM re-checks that the
 * VM is shut off before it applies (a VM started mid-sync never has its disk
 * rewritten under it), and RemoveImage never deletes a file a defined domain
 * still uses.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import type { ClientReadableStream } from '@grpc/grpc-js';
import { unaryCall, type AgentClients } from '../../shared/agent-clients.js';
import type { PullProgress__Output } from '../../shared/generated/kvmclone/agent/v1/PullProgress.js';
import type { TicketEvent__Output } from '../../shared/generated/kvmclone/agent/v1/TicketEvent.js';
import { journalPathFor } from '../../agent/transfer/journal-file.js';
import { rejectsWithStatus } from '../support/grpc-status.js';
import { AgentProcessPair } from './support/agent-processes.js';
import { sha256 } from '../support/file-sha256.js';

const T = { deadlineMs: 30_000 };
const MiB = 1024 * 1024;
let a: AgentClients;
let b: AgentClients;
const agents = new AgentProcessPair();
let imagesA: string;
let imagesB: string;
let runB: string;
const proxies: Server[] = [];
const tickets: ClientReadableStream<TicketEvent__Output>[] = [];

/** Holds back the source-to-destination bytes while paused. */
class Gate {
  private paused = false;
  private readonly held: (() => void)[] = [];
  stream(): Transform {
    return new Transform({ transform: (chunk: Buffer, _e, callback) => (this.paused ? this.held.push(() => callback(null, chunk)) : callback(null, chunk)) });
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
    for (const release of this.held.splice(0)) release();
  }
}

/** An IN_PLACE request from A's `name` into B's `name` naming `destVm`, through a gated proxy of A's peer socket. */
async function inPlace(name: string, destVm: string, length: number): Promise<{ request: object; gate: Gate }> {
  const call = a.transfer.openTicket({ paths: [join(imagesA, name)], operationId: randomUUID() });
  tickets.push(call);
  const ticket = await new Promise<TicketEvent__Output>((resolve, reject) => {
    call.once('data', resolve);
    call.once('error', reject);
  });
  const gate = new Gate();
  const peerSocket = join(runB, `peer-${randomUUID()}.sock`);
  const server = createServer((socket) => {
    const upstream = createConnection(ticket.peerSocket);
    socket.pipe(upstream);
    upstream.pipe(gate.stream()).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  proxies.push(server);
  await new Promise<void>((resolve) => server.listen(peerSocket, resolve));
  const request = {
    peerSocket,
    ticket: ticket.ticket,
    sourcePath: join(imagesA, name),
    targetPath: join(imagesB, name),
    stagingId: '',
    operationId: randomUUID(),
    ranges: [{ offset: 0, length }],
    mode: 'PULL_MODE_IN_PLACE',
    destVm,
  };
  return { request, gate };
}

function startPull(request: object): { call: ClientReadableStream<PullProgress__Output>; ended: Promise<PullProgress__Output[]>; firstTransfer: Promise<void> } {
  const call = b.transfer.pullImage(request, { deadline: Date.now() + 120_000 });
  const events: PullProgress__Output[] = [];
  let seen: () => void = () => undefined;
  const firstTransfer = new Promise<void>((resolve) => (seen = resolve));
  const ended = new Promise<PullProgress__Output[]>((resolve, reject) => {
    call.on('data', (e: PullProgress__Output) => {
      events.push(e);
      if (e.phase === 'transfer' && e.bytesDone > 0) seen();
    });
    call.on('error', reject);
    call.on('end', () => resolve(events));
  });
  ended.catch(() => undefined);
  return { call, ended, firstTransfer };
}

async function makeImage(path: string, size: number): Promise<void> {
  const fh = await open(path, 'w');
  for (let at = 0; at < size; at += MiB) await fh.write(randomBytes(MiB), 0, MiB, at);
  await fh.close();
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function vmXml(name: string, disk: string, uuid = ''): string {
  return `<domain type='qemu'><name>${name}</name>${uuid ? `<uuid>${uuid}</uuid>` : ''}<memory unit='MiB'>64</memory><vcpu>1</vcpu>
    <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
    <devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk></devices></domain>`;
}

before(async () => {
  await agents.start('kvmclone-destvm-');
  agents.atStop(() => {
    for (const t of tickets) t.cancel();
    for (const p of proxies) p.close();
  });
  ({ a, b, imagesA, imagesB, runB } = agents);
});

after(() => agents.stop());

test('an in-place pull into a shut-off destination VM applies; into a running one it is refused before any byte moves', async () => {
  const name = 'vm-a.raw';
  await makeImage(join(imagesA, name), 4 * MiB);
  await makeImage(join(imagesB, name), 4 * MiB);
  await unaryCall(b.domain, b.domain.defineDomain, { xml: vmXml('dest-a', join(imagesB, name)) }, T);
  const ok = await inPlace(name, 'dest-a', 4 * MiB);
  assert.ok((await startPull(ok.request).ended).at(-1)?.done, 'shut off: applied');
  assert.equal(await sha256(join(imagesB, name)), await sha256(join(imagesA, name)));

  await makeImage(join(imagesA, name), 4 * MiB);
  const before = await sha256(join(imagesB, name));
  await unaryCall(b.domain, b.domain.startDomain, { name: 'dest-a' }, T);
  const refused = await inPlace(name, 'dest-a', 4 * MiB);
  const details = await rejectsWithStatus(startPull(refused.request).ended, 'FAILED_PRECONDITION');
  assert.match(details, /domain 'dest-a' is running before the transfer/);
  assert.equal(await sha256(join(imagesB, name)), before, 'the image is unchanged');
  await unaryCall(b.domain, b.domain.destroyDomain, { name: 'dest-a' }, T);
});

test('a destination VM started during the transfer: the journal is discarded, the image untouched, FAILED_PRECONDITION', async () => {
  const name = 'vm-b.raw';
  await makeImage(join(imagesA, name), 32 * MiB);
  await makeImage(join(imagesB, name), 32 * MiB);
  await unaryCall(b.domain, b.domain.defineDomain, { xml: vmXml('dest-b', join(imagesB, name)) }, T);
  const before = await sha256(join(imagesB, name));
  const { request, gate } = await inPlace(name, 'dest-b', 32 * MiB);
  const pull = startPull(request);
  await pull.firstTransfer;
  gate.pause();
  await unaryCall(b.domain, b.domain.startDomain, { name: 'dest-b' }, T);
  gate.resume();
  const details = await rejectsWithStatus(pull.ended, 'FAILED_PRECONDITION');
  assert.match(details, /domain 'dest-b' is running after the transfer, before the apply/);
  assert.equal(await exists(journalPathFor(join(imagesB, name))), false, 'the journal is discarded');
  assert.equal(await sha256(join(imagesB, name)), before, 'the image is unchanged');
  await unaryCall(b.domain, b.domain.destroyDomain, { name: 'dest-b' }, T);
});

test('an in-place pull naming a VM that does not exist is refused', async () => {
  const name = 'vm-c.raw';
  await makeImage(join(imagesA, name), MiB);
  await makeImage(join(imagesB, name), MiB);
  const { request } = await inPlace(name, 'no-such-vm', MiB);
  assert.match(await rejectsWithStatus(startPull(request).ended, 'FAILED_PRECONDITION'), /no domain 'no-such-vm'/);
});

test('RemoveImage refuses to delete a file a defined domain uses, naming it; removes it once no domain does', async () => {
  const path = join(imagesB, 'in-use.raw');
  await makeImage(path, MiB);
  const uuid = randomUUID();
  await unaryCall(b.domain, b.domain.defineDomain, { xml: vmXml('user-vm', path, uuid) }, T);
  const details = await rejectsWithStatus(unaryCall(b.disk, b.disk.removeImage, { path }, T), 'FAILED_PRECONDITION');
  assert.match(details, /in-use\.raw is used by domain 'user-vm'/);
  assert.equal(await exists(path), true);
  // the VM lets go of it (redefined onto another disk: the test driver's undefine goes through virsh, another instance)
  await unaryCall(b.domain, b.domain.defineDomain, { xml: vmXml('user-vm', join(imagesB, 'other.raw'), uuid) }, T);
  assert.equal((await unaryCall(b.disk, b.disk.removeImage, { path }, T)).removed, true);
  assert.equal(await exists(path), false);
});
