/**
 * A real gRPC server with only DiskService on a temporary unix socket, a
 * temporary image root and an "outside" directory beside it, and small
 * promise helpers for the calls. Used by the DiskService integration tests
 * and the read benchmark.
 */
import * as grpc from '@grpc/grpc-js';
import { once } from 'node:events';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { HashMemory } from '../../agent/disk/hash-memory.js';
import { ImageRoots } from '../../agent/paths/image-roots.js';
import { WideWindowServer } from '../../agent/rpc/wide-window-server.js';
import { createDiskService } from '../../agent/services/disk-service.js';
import { CLIENT_CHANNEL_OPTIONS } from '../../shared/grpc-tuning.js';
import { loadAgentProto } from '../../shared/proto.js';
import type { DiskServiceClient } from '../../shared/generated/kvmclone/agent/v1/DiskService.js';
import type { WriteRangesRequest } from '../../shared/generated/kvmclone/agent/v1/WriteRangesRequest.js';
import type { WriteRangesResponse__Output } from '../../shared/generated/kvmclone/agent/v1/WriteRangesResponse.js';

/** A running DiskService and the directories around it. */
export interface DiskHarness {
  /** Temporary directory holding everything below. */
  readonly dir: string;
  /** The only image root. */
  readonly root: string;
  /** A directory outside the root. */
  readonly outside: string;
  readonly address: string;
  readonly client: DiskServiceClient;
  /**
   * A client on its own HTTP/2 connection, for WriteRanges while `client`
   * reads: Node's http2 session stops reading its socket while one of its own
   * writes is pending, so bulk data flowing both ways over ONE connection
   * (ReadRanges down, WriteRanges up) deadlocks once both socket buffers fill.
   */
  readonly writer: DiskServiceClient;
  /** A new client on the same socket (own channel), e.g. with other options. */
  newClient(options?: grpc.ChannelOptions): DiskServiceClient;
  close(): Promise<void>;
}

/** Starts DiskService on `<tmp>/agent.sock` with `<tmp>/images` as its root. */
export async function startDiskHarness(): Promise<DiskHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'kvmclone-disk-'));
  const root = join(dir, 'images');
  const outside = join(dir, 'outside');
  await mkdir(root);
  await mkdir(outside);
  const shutdown = new AbortController();
  const roots = await ImageRoots.open([root]);
  const { proto } = loadAgentProto();
  const server = new WideWindowServer();
  server.addService(
    proto.kvmclone.agent.v1.DiskService.service,
    createDiskService({ rpc: { log: pino({ level: 'silent' }), shutdown: shutdown.signal }, roots, hashMemory: new HashMemory() }),
  );
  const address = `unix:${join(dir, 'agent.sock')}`;
  await new Promise<void>((resolve, reject) => server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  const clients: DiskServiceClient[] = [];
  const newClient = (options: grpc.ChannelOptions = {}): DiskServiceClient => {
    const client = new proto.kvmclone.agent.v1.DiskService(address, grpc.credentials.createInsecure(), { ...CLIENT_CHANNEL_OPTIONS, ...options });
    clients.push(client);
    return client;
  };
  const client = newClient();
  const writer = newClient({ 'grpc.use_local_subchannel_pool': 1 });
  return {
    dir,
    root,
    outside,
    address,
    client,
    writer,
    newClient,
    async close() {
      for (const c of clients) c.close();
      shutdown.abort();
      server.forceShutdown();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Calls a unary method and resolves with its response. */
export function call<Res>(invoke: (callback: grpc.requestCallback<Res>) => unknown): Promise<Res> {
  return new Promise((resolve, reject) => {
    invoke((err, res) => (err ? reject(err) : resolve(res as Res)));
  });
}

/** Reads a whole server stream into an array. */
export async function collect<T>(stream: AsyncIterable<unknown>): Promise<T[]> {
  const out: T[] = [];
  for await (const m of stream) out.push(m as T);
  return out;
}

/** Sends messages on a WriteRanges stream with backpressure and resolves with the response. */
export async function writeAll(client: DiskServiceClient, messages: Iterable<WriteRangesRequest> | AsyncIterable<WriteRangesRequest>): Promise<WriteRangesResponse__Output> {
  let stream: grpc.ClientWritableStream<WriteRangesRequest> | undefined;
  const response = new Promise<WriteRangesResponse__Output>((resolve, reject) => {
    stream = client.WriteRanges((err, res) => (err ? reject(err) : resolve(res as WriteRangesResponse__Output)));
  });
  const s = stream as grpc.ClientWritableStream<WriteRangesRequest>;
  // The call may fail while messages are still being sent; the response carries the status.
  const done = response.then(
    () => undefined,
    () => undefined,
  );
  try {
    for await (const m of messages) {
      if (!s.write(m)) await Promise.race([once(s, 'drain'), done]);
    }
    s.end();
  } catch {
    // A write after the call failed; the status is in `response`.
  }
  return response;
}

/** The gRPC status code of a rejected call (fails the test when the call succeeded). */
export async function statusOf(promise: Promise<unknown>): Promise<{ code: grpc.status; details: string }> {
  try {
    await promise;
  } catch (err) {
    const e = err as grpc.ServiceError;
    return { code: e.code, details: e.details };
  }
  throw new Error('the call succeeded but an error status was expected');
}

/** Creates a sparse file of `size` bytes with `pieces` written into it. */
export async function sparseFile(path: string, size: number, pieces: { offset: number; data: Buffer }[]): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.truncate(size);
    for (const p of pieces) await fh.write(p.data, 0, p.data.length, p.offset);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Bytes allocated to a file on disk (st_blocks × 512). */
export const allocated = async (path: string): Promise<number> => (await stat(path)).blocks * 512;
/** Names of the staging files in a directory. */
export const stagingFiles = async (dir: string): Promise<string[]> => (await readdir(dir)).filter((n) => n.endsWith('.kvmclone-staging'));

/** File descriptors of this process (which hosts the server) open on `path`. */
export async function fdsOpenOn(path: string): Promise<number> {
  let n = 0;
  for (const fd of await readdir('/proc/self/fd')) {
    if ((await readlink(`/proc/self/fd/${fd}`).catch(() => '')) === path) n += 1;
  }
  return n;
}

/** Polls `check` until it holds, failing the test after `ms`. */
export async function eventually(check: () => Promise<boolean>, what: string, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const KiB = 1024;

/** A deterministic scatter of data pieces (LCG), 4 KiB aligned, no overlaps. */
export function scatter(size: number, count: number, seed: number): { offset: number; data: Buffer }[] {
  let x = seed;
  const next = (): number => (x = (x * 1103515245 + 12345) % 2 ** 31);
  const slot = Math.floor(size / count / (4 * KiB)) * 4 * KiB;
  return Array.from({ length: count }, (_, i) => {
    const length = (1 + (next() % 96)) * 4 * KiB;
    const offset = i * slot + Math.floor((next() % Math.max(1, slot - length)) / (4 * KiB)) * 4 * KiB;
    return { offset, data: randomBytes(length) };
  });
}
