/**
 * The peer socket's ticket guard (issue 10, hole 4), on a real peer server
 * over a unix socket: without a live ticket every path gets the same status
 * and text (nothing learnt about which files exist), a ticket is checked
 * against the file as it is opened, and revoking a ticket ends a ReadRanges
 * already running on it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { HashMemory } from '../../agent/disk/hash-memory.js';
import { LiveViews } from '../../agent/live/live-views.js';
import { ImageRoots } from '../../agent/paths/image-roots.js';
import { startPeerServer } from '../../agent/server/peer-server.js';
import { TICKET_METADATA } from '../../agent/transfer/pull-image.js';
import { TicketRegistry } from '../../agent/transfer/ticket-registry.js';
import { CLIENT_CHANNEL_OPTIONS } from '../../shared/grpc-tuning.js';
import type { DiskServiceClient } from '../../shared/generated/kvmclone/agent/v1/DiskService.js';
import type { ReadRangesResponse__Output } from '../../shared/generated/kvmclone/agent/v1/ReadRangesResponse.js';
import { loadAgentProto } from '../../shared/proto.js';
import { call, collect, statusOf } from './disk-harness.js';

const MiB = 1024 * 1024;
let dir: string;
let root: string;
let outside: string;
let tickets: TicketRegistry;
let peer: Awaited<ReturnType<typeof startPeerServer>>;
let client: DiskServiceClient;
const shutdown = new AbortController();

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvmclone-peer-'));
  root = join(dir, 'images');
  outside = join(dir, 'outside');
  await mkdir(root);
  await mkdir(outside);
  await writeFile(join(root, 'named.raw'), Buffer.alloc(64 * 1024, 1));
  await writeFile(join(root, 'other.raw'), Buffer.alloc(64 * 1024, 2));
  await writeFile(join(outside, 'secret.raw'), 'secret');
  await symlink(join(outside, 'secret.raw'), join(root, 'link-out.raw'));
  // A large file of data (no zero blocks), so a read of it is still running when the ticket goes.
  const fh = await open(join(root, 'big.raw'), 'w');
  const block = Buffer.alloc(MiB, 0x5a);
  for (let i = 0; i < 96; i += 1) await fh.write(block);
  await fh.close();
  tickets = new TicketRegistry();
  const socket = join(dir, 'run', 'peer.sock');
  await mkdir(join(dir, 'run'));
  peer = await startPeerServer({
    rpc: { log: pino({ level: 'silent' }), shutdown: shutdown.signal },
    roots: await ImageRoots.open([root]),
    hashMemory: new HashMemory(),
    tickets,
    views: new LiveViews(),
    socket,
  });
  const { proto } = loadAgentProto();
  client = new proto.kvmclone.agent.v1.DiskService(`unix:${socket}`, grpc.credentials.createInsecure(), CLIENT_CHANNEL_OPTIONS);
});

after(async () => {
  client.close();
  shutdown.abort();
  await peer.close();
  await rm(dir, { recursive: true, force: true });
});

function withTicket(ticket: string | undefined): grpc.Metadata {
  const m = new grpc.Metadata();
  if (ticket !== undefined) m.set(TICKET_METADATA, ticket);
  return m;
}

/** StatImage, ReadRanges and HashBlocks of `path` with `ticket`: each call's status code and text. */
async function refusals(path: string, ticket: string | undefined): Promise<string[]> {
  const m = withTicket(ticket);
  const results = [
    await statusOf(call((cb) => client.StatImage({ path }, m, cb))),
    await statusOf(collect(client.ReadRanges({ path }, m))),
    await statusOf(collect(client.HashBlocks({ path, blockSize: 65536 }, m))),
    await statusOf(call((cb) => client.DigestImage({ path }, m, cb))),
  ];
  return results.map((s) => `${grpc.status[s.code]}: ${s.details}`);
}

test('without a live ticket, an existing file, a missing one, one outside and one through a link get the same refusal', async () => {
  const revoked = tickets.issue([join(root, 'named.raw')], randomUUID());
  tickets.revoke(revoked);
  const paths = [
    join(root, 'named.raw'),
    join(root, 'missing.raw'),
    join(outside, 'secret.raw'),
    join(outside, 'missing.raw'),
    join(root, 'link-out.raw'),
    join(root, 'nodir', 'x.raw'),
  ];
  const answers = new Set<string>();
  for (const ticket of [undefined, 'not-a-ticket', 'ab'.repeat(32), revoked]) {
    for (const path of paths) for (const answer of await refusals(path, ticket)) answers.add(answer);
  }
  assert.equal(answers.size, 1, [...answers].join(' | '));
  assert.match([...answers][0], /^PERMISSION_DENIED: /);
});

test('with a live ticket, a path it does not name is refused alike whether it exists, is missing or leads outside', async () => {
  const ticket = tickets.issue([join(root, 'named.raw')], randomUUID());
  try {
    const answers = new Set<string>();
    for (const path of [join(root, 'other.raw'), join(root, 'missing.raw'), join(outside, 'secret.raw'), join(root, 'link-out.raw')]) {
      for (const answer of await refusals(path, ticket)) answers.add(answer.replace(path, 'PATH'));
    }
    assert.deepEqual([...answers], ['PERMISSION_DENIED: the ticket does not name PATH']);
    // The guest layer of a file would be resolved again by qemu: the peer socket serves the FILE layer only.
    const guest = await statusOf(collect(client.HashBlocks({ path: join(root, 'named.raw'), blockSize: 65536, layer: 'EXTENT_LAYER_GUEST' }, withTicket(ticket))));
    assert.equal(grpc.status[guest.code], 'PERMISSION_DENIED');
    assert.match(guest.details, /FILE layer only/);
    const read = await collect<ReadRangesResponse__Output>(client.ReadRanges({ path: join(root, 'named.raw') }, withTicket(ticket)));
    assert.equal(
      read.reduce((n, m) => n + (m.data?.data.length ?? m.zero?.length ?? 0), 0),
      64 * 1024,
      'the named file is read',
    );
  } finally {
    tickets.revoke(ticket);
  }
});

test('revoking the ticket ends a ReadRanges running on it with PERMISSION_DENIED', async () => {
  const ticket = tickets.issue([join(root, 'big.raw')], randomUUID());
  const stream = client.ReadRanges({ path: join(root, 'big.raw') }, withTicket(ticket));
  let bytes = 0;
  const ended = new Promise<grpc.ServiceError | undefined>((resolve) => {
    stream.on('data', (m: ReadRangesResponse__Output) => {
      bytes += m.data?.data.length ?? 0;
      // The first chunk is in: the read is running. Stop reading, revoke, read on.
      if (bytes === (m.data?.data.length ?? -1)) {
        stream.pause();
        tickets.revoke(ticket);
        setTimeout(() => stream.resume(), 200);
      }
    });
    stream.on('error', (err: grpc.ServiceError) => resolve(err));
    stream.on('end', () => resolve(undefined));
  });
  const err = await ended;
  assert.ok(err !== undefined, `the read ran to its end (${bytes} bytes) after its ticket was revoked`);
  assert.equal(grpc.status[err.code], 'PERMISSION_DENIED');
  assert.match(err.details, /revoked/);
  assert.ok(bytes < 96 * MiB, `${bytes} bytes arrived`);
  const again = await statusOf(collect(client.ReadRanges({ path: join(root, 'big.raw') }, withTicket(ticket))));
  assert.equal(grpc.status[again.code], 'PERMISSION_DENIED');
});
