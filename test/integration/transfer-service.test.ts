/**
 * Agent-to-agent transfer on one machine: two real agent processes, the
 * source's peer socket re-exposed in the destination's runtime directory by a
 * byte proxy (what the controller's SSH forwards do between hosts).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { open, readdir, stat } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { Metadata, type ClientReadableStream } from '@grpc/grpc-js';
import { createAgentClients, unaryCall, type AgentClients } from '../../shared/agent-clients.js';
import type { PullProgress__Output } from '../../shared/generated/kvmclone/agent/v1/PullProgress.js';
import type { TicketEvent__Output } from '../../shared/generated/kvmclone/agent/v1/TicketEvent.js';
import { rejectsWithStatus } from '../support/grpc-status.js';
import { AgentProcessPair } from './support/agent-processes.js';
import { streamEvents } from '../support/stream-events.js';
import { run } from './support/image-files.js';

const T = { deadlineMs: 30_000 };
const agents = new AgentProcessPair();
let a: AgentClients;
let b: AgentClients;
let runB: string;
const proxies: Server[] = [];
const MiB = 1024 * 1024;

/** Re-exposes `target` at `path`, byte for byte. */
async function proxy(path: string, target: string, connections?: { n: number }): Promise<void> {
  const server = createServer((socket) => {
    if (connections) connections.n += 1;
    const upstream = createConnection(target);
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  proxies.push(server);
  await new Promise<void>((resolve) => server.listen(path, resolve));
}

function openTicket(paths: string[]): Promise<{ ticket: TicketEvent__Output; call: ClientReadableStream<TicketEvent__Output> }> {
  const call = a.transfer.openTicket({ paths, operationId: randomUUID() });
  return new Promise((resolve, reject) => {
    call.once('data', (ticket: TicketEvent__Output) => resolve({ ticket, call }));
    call.once('error', reject);
  });
}

function pull(request: object): Promise<PullProgress__Output[]> {
  return streamEvents(b.transfer.pullImage(request, { deadline: Date.now() + 120_000 }));
}

/**
 * A staging pull of A's `source` into B's `target` (`extra` added to the request) through a ticket and a proxy of
 * A's peer socket at `via.peer` (a fresh path in B's runtime dir unless given), the ticket revoked once the pull ends.
 */
async function ticketedPull(
  source: string,
  target: string,
  extra: object = {},
  via: { peer?: string; connections?: { n: number } } = {},
): Promise<{ ticket: TicketEvent__Output; peer: string; events: PullProgress__Output[] }> {
  const { ticket, call } = await openTicket([source]);
  const peer = via.peer ?? join(runB, `peer-${randomUUID()}.sock`);
  await proxy(peer, ticket.peerSocket, via.connections);
  const events = await pull({ peerSocket: peer, ticket: ticket.ticket, sourcePath: source, targetPath: target, stagingId: '', operationId: randomUUID(), ranges: [], ...extra });
  call.cancel();
  return { ticket, peer, events };
}

let imagesA: string;
let imagesB: string;
let peerA: string;

before(async () => {
  await agents.start('kvmclone-transfer-');
  agents.atStop(() => {
    for (const p of proxies) p.close();
  });
  ({ a, b, imagesA, imagesB, runB } = agents);
  peerA = join(agents.dir, 'a', 'run', 'peer.sock');
  // 256 MiB sparse image with 20 scattered MiB of random data and one all-zero allocated MiB.
  const fh = await open(join(imagesA, 'disk.raw'), 'w');
  await fh.truncate(256 * MiB);
  for (let i = 0; i < 20; i += 1) await fh.write(randomBytes(MiB), 0, MiB, (i * 12 + 1) * MiB);
  await fh.write(Buffer.alloc(MiB), 0, MiB, 250 * MiB);
  await fh.close();
});

after(() => agents.stop());

test('a pull through a ticket moves only data, lands in a sparse staging file, and reports a matching digest', async () => {
  const source = join(imagesA, 'disk.raw');
  const target = join(imagesB, 'disk.raw');
  const { ticket, events } = await ticketedPull(source, target);
  assert.equal(ticket.peerSocket, peerA);
  const last = events.at(-1);
  assert.ok(last?.done, 'the last event is the final one');
  assert.equal(last.bytesTransferred, 20 * MiB, 'holes and zero blocks are not sent');
  assert.equal(last.bytesTotal, 256 * MiB);
  assert.ok(events.length >= 3, 'progress is reported on the way');
  const staging = await stat(last.stagingPath);
  assert.ok(staging.blocks * 512 <= 22 * MiB, `staging is sparse (${staging.blocks * 512} bytes allocated)`);
  const digestA = await unaryCall(a.disk, a.disk.digestImage, { path: source }, T);
  assert.equal(last.digest, digestA.digest);
  await unaryCall(b.disk, b.disk.commitStaging, { targetPath: target, stagingId: last.stagingId, replace: false }, T);
  await run('cmp', [source, target]);
});

test('a pull over 3 streams (3 connections to the peer socket) lands the same bytes with the same digest', async () => {
  const source = join(imagesA, 'disk.raw');
  const connections = { n: 0 };
  const target = join(imagesB, 'striped.raw');
  const { ticket, peer, events } = await ticketedPull(source, target, { streams: 3 }, { connections });
  const last = events.at(-1);
  assert.ok(last?.done);
  assert.equal(connections.n, 3, 'one connection per stream, each its own SSH channel through a forward');
  assert.equal(last.bytesTransferred, 20 * MiB, 'holes are still not sent');
  assert.equal(last.bytesData, 20 * MiB);
  const digestA = await unaryCall(a.disk, a.disk.digestImage, { path: source }, T);
  assert.equal(last.digest, digestA.digest);
  await unaryCall(b.disk, b.disk.commitStaging, { targetPath: target, stagingId: last.stagingId, replace: false }, T);
  await run('cmp', [source, target]);
  await rejectsWithStatus(
    pull({ peerSocket: peer, ticket: ticket.ticket, sourcePath: source, targetPath: join(imagesB, 'x.raw'), stagingId: '', operationId: randomUUID(), ranges: [], streams: 9 }),
    'INVALID_ARGUMENT',
  );
});

test('a pull of some ranges reads its staging file back through the target directory for the digest', async () => {
  const source = join(imagesA, 'disk.raw');
  const target = join(imagesB, 'ranges.raw');
  const { events } = await ticketedPull(source, target, { ranges: [{ offset: 0, length: 4 * MiB }] });
  const last = events.at(-1);
  assert.ok(last?.done);
  const staged = await unaryCall(b.disk, b.disk.digestImage, { path: last.stagingPath }, T);
  assert.equal(last.digest, staged.digest, 'the digest is of the staging file as written');
  await unaryCall(b.disk, b.disk.abortStaging, { targetPath: target, stagingId: last.stagingId }, T);
});

test('the forward directory: GetInfo names it, a pull dials a peer socket bound there, RemovePeerSocket removes it', async () => {
  const info = await unaryCall(b.info, b.info.getInfo, {}, T);
  const forwardDir = join(runB, 'forward');
  assert.equal(info.forwardDir, forwardDir);
  assert.ok(info.capabilities.includes('transfer.forward-dir'));
  assert.equal((await stat(forwardDir)).mode & 0o7777, 0o700, 'no socket group configured: root only');
  const source = join(imagesA, 'disk.raw');
  const target = join(imagesB, 'fwd.raw');
  const { peer, events } = await ticketedPull(source, target, {}, { peer: join(forwardDir, `peer-${randomUUID()}.sock`) });
  const last = events.at(-1);
  assert.ok(last?.done);
  await unaryCall(b.disk, b.disk.abortStaging, { targetPath: target, stagingId: last.stagingId }, T);
  // what sshd leaves once the controller cancels the -R: a socket file nobody listens on
  proxies.pop()?.close();
  await run('python3', ['-c', 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', peer]);
  assert.deepEqual(await unaryCall(b.transfer, b.transfer.removePeerSocket, { path: peer }, T), { removed: true });
  await assert.rejects(stat(peer));
  assert.deepEqual(await unaryCall(b.transfer, b.transfer.removePeerSocket, { path: peer }, T), { removed: false });
  await rejectsWithStatus(unaryCall(b.transfer, b.transfer.removePeerSocket, { path: join(runB, 'agent.sock') }, T), 'INVALID_ARGUMENT');
  assert.ok((await stat(join(runB, 'agent.sock'))).isSocket(), 'the agent socket is never removed');
});

test('the peer socket: no ticket, a ticket for another path, or a write are PERMISSION_DENIED', async () => {
  const peer = createAgentClients(`unix:${peerA}`);
  try {
    await rejectsWithStatus(unaryCall(peer.disk, peer.disk.statImage, { path: join(imagesA, 'disk.raw') }, T), 'PERMISSION_DENIED');
    const other = join(imagesA, 'other.raw');
    const fh = await open(other, 'w');
    await fh.truncate(MiB);
    await fh.close();
    const { ticket, call } = await openTicket([other]);
    const metadata = new Metadata();
    metadata.set('kvmclone-ticket', ticket.ticket);
    await unaryCall(peer.disk, peer.disk.statImage, { path: other }, { ...T, metadata });
    await rejectsWithStatus(unaryCall(peer.disk, peer.disk.statImage, { path: join(imagesA, 'disk.raw') }, { ...T, metadata }), 'PERMISSION_DENIED');
    await rejectsWithStatus(unaryCall(peer.disk, peer.disk.abortStaging, { targetPath: other, stagingId: randomUUID() }, { ...T, metadata }), 'PERMISSION_DENIED');
    call.cancel();
    await new Promise((r) => setTimeout(r, 200));
    await rejectsWithStatus(unaryCall(peer.disk, peer.disk.statImage, { path: other }, { ...T, metadata }), 'PERMISSION_DENIED');
  } finally {
    peer.close();
  }
});

test('a revoked ticket stops a pull before it writes, and no staging file is left', async () => {
  const source = join(imagesA, 'disk.raw');
  const { ticket, call } = await openTicket([source]);
  call.cancel();
  await new Promise((r) => setTimeout(r, 200));
  const peer = join(runB, `peer-${randomUUID()}.sock`);
  await proxy(peer, ticket.peerSocket);
  await rejectsWithStatus(
    pull({ peerSocket: peer, ticket: ticket.ticket, sourcePath: source, targetPath: join(imagesB, 'x.raw'), stagingId: '', operationId: randomUUID(), ranges: [] }),
    'PERMISSION_DENIED',
  );
  assert.deepEqual(
    (await readdir(imagesB)).filter((f) => f.includes('kvmclone-staging')),
    [],
  );
});

test('pull refuses a peer socket outside the runtime directory', async () => {
  await rejectsWithStatus(
    pull({ peerSocket: '/tmp/evil.sock', ticket: 'a'.repeat(64), sourcePath: '/x', targetPath: join(imagesB, 'y.raw'), stagingId: '', operationId: randomUUID(), ranges: [] }),
    'INVALID_ARGUMENT',
  );
});

test('locks: one holder per VM name; released when the holder goes away', async () => {
  const hold = (op: string): Promise<ClientReadableStream<unknown>> =>
    new Promise((resolve, reject) => {
      const call = b.transfer.holdLock({ vmName: 'vm1', operationId: op, purpose: 'test' });
      call.once('data', () => resolve(call));
      call.once('error', reject);
    });
  const first = await hold(randomUUID());
  const details = await rejectsWithStatus(hold(randomUUID()), 'ABORTED');
  assert.match(details, /VM vm1 is locked by operation/);
  first.cancel();
  await new Promise((r) => setTimeout(r, 200));
  const again = await hold(randomUUID());
  again.cancel();
  await rejectsWithStatus(hold('bad id!'), 'INVALID_ARGUMENT');
});
