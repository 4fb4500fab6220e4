/**
 * In-place pulls (PULL_MODE_IN_PLACE) from agent A into agent B
 * (agent-processes.ts) for the pull-in-place-*.test.ts files: A's peer
 * socket re-exposed in B's runtime directory by a byte proxy the tests can
 * stall or cut, a PullImage call watched event by event, a pull interrupted
 * once its journal holds records, and journals left beside images as a pull
 * would leave them.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { open, stat, truncate } from 'node:fs/promises';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClientReadableStream } from '@grpc/grpc-js';
import { chunkHash } from '../../../shared/block-hash.js';
import type { ByteRange } from '../../../shared/generated/kvmclone/agent/v1/ByteRange.js';
import type { PullProgress__Output } from '../../../shared/generated/kvmclone/agent/v1/PullProgress.js';
import type { TicketEvent__Output } from '../../../shared/generated/kvmclone/agent/v1/TicketEvent.js';
import { fileExtents } from '../../../agent/disk/extent-map.js';
import { HEADER_BYTES, RECORD_HEAD_BYTES, TRAILER_BYTES } from '../../../agent/transfer/journal-format.js';
import { journalPathFor } from '../../../agent/transfer/journal-file.js';
import { JournalWriter } from '../../../agent/transfer/journal-writer.js';
import { rejectsWithStatus } from '../../support/grpc-status.js';
import { pullRequest } from './agent-pair.js';
import type { AgentProcessPair } from './agent-processes.js';
import { makeRaw, run } from './image-files.js';
import { streamEvents } from '../../support/stream-events.js';

export const MiB = 1024 * 1024;

/** Holds back the source-to-destination bytes of a proxy while paused (back-pressure reaches the source). */
export class Gate {
  private paused = false;
  private readonly held: (() => void)[] = [];

  stream(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _encoding, callback) => (this.paused ? this.held.push(() => callback(null, chunk)) : callback(null, chunk)),
    });
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    for (const release of this.held.splice(0)) release();
  }
}

/** A ticket on A for `source` and a proxy of A's peer socket at a fresh path in B's runtime dir; `cut` breaks its connections. */
async function broker(agents: AgentProcessPair, source: string): Promise<{ peerSocket: string; ticket: string; gate: Gate; cut(): void }> {
  const call = agents.a.transfer.openTicket({ paths: [source], operationId: randomUUID() });
  agents.atStop(() => call.cancel());
  const ticket = await new Promise<TicketEvent__Output>((resolve, reject) => {
    call.once('data', resolve);
    call.once('error', reject);
  });
  const gate = new Gate();
  const peerSocket = join(agents.runB, `peer-${randomUUID()}.sock`);
  const open: Socket[] = [];
  const server = createServer((socket) => {
    const upstream = createConnection(ticket.peerSocket);
    open.push(socket, upstream);
    socket.pipe(upstream);
    upstream.pipe(gate.stream()).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  agents.atStop(() => server.close());
  await new Promise<void>((resolve) => server.listen(peerSocket, resolve));
  return { peerSocket, ticket: ticket.ticket, gate, cut: () => open.forEach((sock) => sock.destroy()) };
}

/** A running PullImage call on B: its events so far, its end, and a way to wait for one event. */
export interface Pull {
  readonly call: ClientReadableStream<PullProgress__Output>;
  readonly events: PullProgress__Output[];
  readonly ended: Promise<PullProgress__Output[]>;
  waitFor(match: (e: PullProgress__Output) => boolean): Promise<PullProgress__Output>;
}

export function startPull(agents: AgentProcessPair, request: object, onEvent?: (e: PullProgress__Output) => void): Pull {
  const call = agents.b.transfer.pullImage(request, { deadline: Date.now() + 120_000 });
  const events: PullProgress__Output[] = [];
  const ended = streamEvents(call, (e) => {
    events.push(e);
    onEvent?.(e);
  });
  ended.catch(() => undefined);
  const waitFor = (match: (e: PullProgress__Output) => boolean): Promise<PullProgress__Output> =>
    new Promise((resolve, reject) => {
      const found = events.find(match);
      if (found) return resolve(found);
      const onData = (e: PullProgress__Output): void => {
        if (!match(e)) return;
        call.off('data', onData);
        resolve(e);
      };
      call.on('data', onData);
      ended.then(() => reject(new Error('the pull ended before the awaited event')), reject);
    });
  return { call, events, ended, waitFor };
}

/** An IN_PLACE request from A's `name` into B's `name`. */
export async function inPlace(
  agents: AgentProcessPair,
  name: string,
  ranges: ByteRange[],
  extra: object = {},
): Promise<{ request: { operationId: string }; gate: Gate; cut(): void }> {
  const { peerSocket, ticket, gate, cut } = await broker(agents, join(agents.imagesA, name));
  const request = pullRequest({ peerSocket, ticket }, join(agents.imagesA, name), join(agents.imagesB, name), { ranges, mode: 'PULL_MODE_IN_PLACE', ...extra });
  return { request, gate, cut };
}

/** Starts an in-place pull of all of `name` and interrupts it (`how`) once its journal holds records; resolves with what the journal holds. */
export async function interrupted(agents: AgentProcessPair, name: string, how: 'cancel' | 'cut'): Promise<{ request: { operationId: string }; kept: number }> {
  const target = join(agents.imagesB, name);
  const { request, gate, cut } = await inPlace(agents, name, [{ offset: 0, length: 64 * MiB }]);
  const pull = startPull(agents, request);
  await pull.waitFor((e) => e.phase === 'transfer' && e.bytesDone >= 8 * MiB);
  gate.pause();
  const journal = journalPathFor(target);
  // Appends run a few deep behind the progress messages: give those already received time to land.
  for (let i = 0; i < 100 && (await stat(journal)).size <= HEADER_BYTES; i += 1) await sleep(20);
  assert.ok((await stat(journal)).size > HEADER_BYTES, 'records are in the journal when the connection goes');
  if (how === 'cancel') {
    pull.call.cancel();
    await rejectsWithStatus(pull.ended, 'CANCELLED');
  } else {
    cut();
    gate.resume();
    await rejectsWithStatus(pull.ended, 'UNAVAILABLE');
  }
  gate.resume();
  return { request, kept: pull.events.at(-1)?.bytesDone ?? 0 };
}

/** Kinds of the extents of [from, to) of a file. */
export async function extentKinds(path: string, from: number, to: number): Promise<string[]> {
  const fh = await open(path, 'r');
  try {
    const kinds: string[] = [];
    for await (const e of fileExtents(fh.fd, from, to)) kinds.push(e.kind);
    return kinds;
  } finally {
    await fh.close();
  }
}

/** A raw image `name` on A (`size` bytes, data at `spans`) and a same-content copy of it on B (the clone a sync starts from): their paths. */
export async function clonedToB(agents: AgentProcessPair, name: string, size: number, spans: [number, number][]): Promise<{ source: string; target: string }> {
  const source = join(agents.imagesA, name);
  const target = join(agents.imagesB, name);
  await makeRaw(source, size, spans);
  await run('cp', ['--sparse=always', source, target]);
  return { source, target };
}

/** Leaves a journal beside `image` as a pull would: committed, then optionally cut, damaged or aimed at another inode. */
export async function leaveJournal(image: string, writes: { offset: number; data: Buffer }[], flaw?: 'truncated' | 'corrupt' | 'foreign'): Promise<string> {
  const st = await stat(image, { bigint: true });
  const path = journalPathFor(image);
  const writer = await JournalWriter.create(path, image);
  await writer.begin({ dev: st.dev, ino: flaw === 'foreign' ? st.ino + 1n : st.ino, size: Number(st.size) });
  for (const w of writes) await writer.addData(w.offset, w.data, chunkHash(w.data));
  await writer.commit();
  await writer.close();
  const size = (await stat(path)).size;
  if (flaw === 'truncated') await truncate(path, size - TRAILER_BYTES - 1000);
  if (flaw === 'corrupt') {
    const fh = await open(path, 'r+');
    const at = HEADER_BYTES + RECORD_HEAD_BYTES + 16 + 123;
    const byte = Buffer.alloc(1);
    await fh.read(byte, 0, 1, at);
    await fh.write(Buffer.from([byte[0] ^ 0xff]), 0, 1, at);
    await fh.close();
  }
  return path;
}
