/**
 * In-place pulls of qcow2 images between two real agent processes: the
 * header the source's bytes would leave is checked before the journal
 * commits (a header naming a host file (/etc/passwd) as its backing file is refused, the journal
 * discarded, the image untouched), and a destination rebased at clone time
 * keeps its backing reference while the digest still equals the source's.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { copyFile, mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createConnection, createServer, type Server } from 'node:net';
import type { ClientReadableStream } from '@grpc/grpc-js';
import { unaryCall, type AgentClients } from '../../shared/agent-clients.js';
import type { PullProgress__Output } from '../../shared/generated/kvmclone/agent/v1/PullProgress.js';
import type { TicketEvent__Output } from '../../shared/generated/kvmclone/agent/v1/TicketEvent.js';
import { journalPathFor } from '../../agent/transfer/journal-file.js';
import { rejectsWithStatus } from '../support/grpc-status.js';
import { AgentProcessPair } from './support/agent-processes.js';

const run = promisify(execFile);
let a: AgentClients;
let b: AgentClients;
const agents = new AgentProcessPair();
let imagesA: string;
let imagesB: string;
const tickets: ClientReadableStream<TicketEvent__Output>[] = [];
const proxies: Server[] = [];

before(async () => {
  await agents.start('kvmclone-pull-header-');
  agents.atStop(() => {
    for (const t of tickets) t.cancel();
    for (const p of proxies) p.close();
  });
  ({ a, b, imagesA, imagesB } = agents);
  await Promise.all([mkdir(join(imagesA, 'clones')), mkdir(join(imagesB, 'clones'))]);
});

after(() => agents.stop());

async function qemuImg(...args: string[]): Promise<string> {
  return (await run('qemu-img', args)).stdout;
}

async function sha256(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

/** Pulls A's `source` into B's `target` in place, all of its `size` bytes . */
async function pullInPlace(source: string, target: string, size: number): Promise<PullProgress__Output[]> {
  const call = a.transfer.openTicket({ paths: [source], operationId: randomUUID() });
  tickets.push(call);
  const ticket = await new Promise<TicketEvent__Output>((resolve, reject) => {
    call.once('data', resolve);
    call.once('error', reject);
  });
  // The source's peer socket re-exposed at a per-operation path in B's runtime directory, as the SSH -R forward would.
  const peerSocket = join(agents.runB, `peer-${randomUUID()}.sock`);
  const proxy = createServer((socket) => {
    const upstream = createConnection(ticket.peerSocket);
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  proxies.push(proxy);
  await new Promise<void>((resolve) => proxy.listen(peerSocket, resolve));
  const pull = b.transfer.pullImage(
    {
      peerSocket,
      ticket: ticket.ticket,
      sourcePath: source,
      targetPath: target,
      stagingId: '',
      operationId: randomUUID(),
      ranges: [{ offset: 0, length: size }],
      mode: 'PULL_MODE_IN_PLACE',
      format: 'qcow2',
    },
    { deadline: Date.now() + 60_000 },
  );
  return new Promise((resolve, reject) => {
    const events: PullProgress__Output[] = [];
    pull.on('data', (e: PullProgress__Output) => events.push(e));
    pull.on('error', reject);
    pull.on('end', () => resolve(events));
  });
}

test("a source header naming a host file (/etc/passwd) as its backing file is refused before the journal commits; the destination's image is untouched", async () => {
  const target = join(imagesB, 'victim.qcow2');
  await qemuImg('create', '-q', '-f', 'qcow2', target, '4M');
  const before = await sha256(target);
  // What a compromised source agent can serve: its StatImage reads only the image's own header.
  const source = join(imagesA, 'evil.qcow2');
  await qemuImg('create', '-q', '-f', 'qcow2', '-u', '-b', '/etc/passwd', '-F', 'raw', source, '4M');
  const size = (await stat(source)).size;
  const details = await rejectsWithStatus(pullInPlace(source, target, size), 'PERMISSION_DENIED');
  assert.match(details, /\/etc\/passwd.*outside the agent's image roots/);
  assert.equal(await sha256(target), before, 'the image is as it was');
  await assert.rejects(stat(journalPathFor(target)), 'the journal was removed');
});

test("a destination rebased at clone time keeps its backing reference; the reported digest is the source's", async () => {
  const base = join(imagesA, 'keep-base.qcow2');
  const source = join(imagesA, 'keep.qcow2');
  await qemuImg('create', '-q', '-f', 'qcow2', base, '4M');
  await qemuImg('create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', source);
  const copyBase = join(imagesB, 'clones', 'keep-base.qcow2');
  const target = join(imagesB, 'clones', 'keep.qcow2');
  await copyFile(base, copyBase);
  await copyFile(source, target);
  await qemuImg('rebase', '-u', '-f', 'qcow2', '-b', copyBase, '-F', 'qcow2', target);
  await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x63 1M 64k', '-c', 'write -P 0x64 3M 64k', source]);

  const size = (await stat(source)).size;
  const events = await pullInPlace(source, target, size);
  const last = events.at(-1);
  assert.ok(last?.done, JSON.stringify(last));
  const expected = await unaryCall(a.disk, a.disk.digestImage, { path: source }, { deadlineMs: 30_000 });
  assert.equal(last.digest, expected.digest, "the digest is the source's (the header as the source sent it)");
  const info = JSON.parse(await qemuImg('info', '-f', 'qcow2', '--output=json', target)) as { 'backing-filename': string };
  assert.equal(info['backing-filename'], copyBase, 'the destination still names its own base');
  await qemuImg('check', '-q', '-f', 'qcow2', target);
  await qemuImg('compare', '-q', '-f', 'qcow2', '-F', 'qcow2', source, target);
});
