/**
 * One fuzz call, from its first draw to its status: the metadata it carries
 * (a transfer ticket, now and then an oversized header), its request messages
 * (random, or serialized and byte-mutated), how it goes out for each of the
 * four kinds of RPC (unary; a server stream held a random while; client and
 * bidirectional streams written a random number of times), and the status it
 * ended with, named the way the fuzz loop counts it. It lives apart from
 * fuzz-run.ts, which picks the calls and judges their answers, so each stays
 * small; every draw happens in the same order as when the two were one file.
 */
import * as grpc from '@grpc/grpc-js';
import { TICKET_METADATA } from '../../../agent/transfer/pull-image.js';
import { harvested, harvestReply, type FuzzWorld } from './fuzz-world.js';
import { mutate } from './mutate.js';
import { randomMessage, type DescriptorIndex, type RequestObject } from './proto-messages.js';
import { randomText } from './hostile-values.js';
import type { Prng } from './prng.js';

/** One RPC as the fuzzer drives it. */
export interface FuzzMethod {
  /** e.g. "DiskService/ReadRanges". */
  name: string;
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestType: string;
  serialize: (value: RequestObject) => Buffer;
  deserialize: (bytes: Buffer) => unknown;
}

/** How a call ended, as the fuzz loop counts it. */
export interface CallResult {
  code: string;
  details: string;
  ms: number;
}

/** gRPC status code names by number. */
export const CODE_NAMES = Object.fromEntries(
  Object.entries(grpc.status)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => [v as number, k]),
);

/** grpc-js answers a request it cannot decode with INTERNAL itself, before any agent code runs. */
const UNDECODABLE = /^Error deserializing request/;

/** A call on its way: where it goes, what it carries, and how its messages are made. */
interface OutgoingCall {
  readonly rng: Prng;
  readonly client: grpc.Client;
  readonly method: FuzzMethod;
  readonly metadata: grpc.Metadata;
  readonly options: grpc.CallOptions;
  /** Draws the call's next request message (or its mutated bytes). */
  readonly message: () => RequestObject | Buffer;
  readonly serialize: (value: RequestObject | Buffer) => Buffer;
  /** Files what a reply revealed for later calls. */
  readonly onReply: (reply: unknown) => void;
}

/** Ends a call with its result; remembers whether the fuzzer itself cancelled it. */
interface CallEnding {
  /** Cancels `call` on the fuzzer's behalf (its CANCELLED then counts as the fuzzer's). */
  cancel(call: { cancel(): void }): void;
  /** Resolves the call with the status it ended with (null: OK). */
  done(err: grpc.ServiceError | null | { code: number; details: string }): void;
}

function callEnding(started: number, resolve: (result: CallResult) => void): CallEnding {
  let cancelledByUs = false;
  return {
    cancel: (call) => {
      cancelledByUs = true;
      call.cancel();
    },
    done: (err) => {
      const details = err === null ? '' : err.details;
      let code = err === null ? 'OK' : (CODE_NAMES[err.code] ?? String(err.code));
      if (cancelledByUs && code === 'CANCELLED') code = 'CANCELLED(by fuzzer)';
      if (code === 'INTERNAL' && UNDECODABLE.test(details)) code = 'INTERNAL(undecodable request)';
      resolve({ code, details, ms: Date.now() - started });
    },
  };
}

/** A call's metadata: a transfer ticket (harvested, else made up) 40 % of the time, an oversized header 5 %. */
function fuzzMetadata(rng: Prng, world: FuzzWorld): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (rng.chance(0.4)) metadata.set(TICKET_METADATA, harvested(world, rng, 'ticket') ?? randomText(rng, 60).replace(/[^\x20-\x7e]/g, 'x'));
  if (rng.chance(0.05)) metadata.set(`x-fuzz-${rng.int(100)}`, 'y'.repeat(rng.int(8192)));
  return metadata;
}

/** Makes a call's request messages, each drawn when it is sent; `raw` sends them serialized and byte-mutated. */
function messageSource(rng: Prng, world: FuzzWorld, method: FuzzMethod, index: DescriptorIndex, plausible: boolean, raw: boolean): () => RequestObject | Buffer {
  let sent = 0;
  return () => {
    const m = randomMessage(rng, world, index, method.requestType, plausible, 0, sent++ === 0 ? 'first' : 'later');
    return raw ? mutate(rng, method.serialize(m)) : m;
  };
}

function sendUnary(c: OutgoingCall, ending: CallEnding): void {
  c.client.makeUnaryRequest(c.method.path, c.serialize, c.method.deserialize, c.message(), c.metadata, c.options, (err, reply) => {
    if (reply !== undefined) c.onReply(reply);
    ending.done(err);
  });
}

/** Long-lived streams (tickets, locks, views) are held a random while, then cancelled. */
function sendServerStream(c: OutgoingCall, ending: CallEnding): void {
  const call = c.client.makeServerStreamRequest(c.method.path, c.serialize, c.method.deserialize, c.message(), c.metadata, c.options);
  const holdMs = c.rng.int(1500);
  const limit = 1 + c.rng.int(64);
  let received = 0;
  const timer = setTimeout(() => ending.cancel(call), holdMs);
  call.on('data', (reply: unknown) => {
    c.onReply(reply);
    if (++received >= limit) ending.cancel(call);
  });
  call.on('error', () => undefined);
  call.on('status', (status: grpc.StatusObject) => {
    clearTimeout(timer);
    ending.done(status.code === grpc.status.OK ? null : status);
  });
}

/** Writes a random number of messages (none 10 % of the time), then ends the stream, or 10 % of the time cancels it a while later. */
function writeAll(c: OutgoingCall, ending: CallEnding, call: grpc.ClientWritableStream<RequestObject | Buffer>): void {
  const n = c.rng.chance(0.1) ? 0 : 1 + c.rng.int(8);
  for (let i = 0; i < n; i++) call.write(c.message());
  if (c.rng.chance(0.9)) call.end();
  else setTimeout(() => ending.cancel(call), c.rng.int(1000));
}

function sendClientStream(c: OutgoingCall, ending: CallEnding): void {
  const call = c.client.makeClientStreamRequest(c.method.path, c.serialize, c.method.deserialize, c.metadata, c.options, (err, reply) => {
    if (reply !== undefined) c.onReply(reply);
    ending.done(err);
  });
  writeAll(c, ending, call);
}

function sendBidiStream(c: OutgoingCall, ending: CallEnding): void {
  const call = c.client.makeBidiStreamRequest(c.method.path, c.serialize, c.method.deserialize, c.metadata, c.options);
  call.on('data', c.onReply);
  call.on('error', () => undefined);
  call.on('status', (status: grpc.StatusObject) => ending.done(status.code === grpc.status.OK ? null : status));
  writeAll(c, ending, call);
}

/** Sends one call and resolves with its status once it has one. */
export function sendOne(rng: Prng, world: FuzzWorld, client: grpc.Client, method: FuzzMethod, index: DescriptorIndex, deadlineMs: number, raw: boolean): Promise<CallResult> {
  const started = Date.now();
  const metadata = fuzzMetadata(rng, world);
  const options: grpc.CallOptions = { deadline: started + deadlineMs };
  const plausible = !raw && rng.chance(0.5);
  const c: OutgoingCall = {
    rng,
    client,
    method,
    metadata,
    options,
    message: messageSource(rng, world, method, index, plausible, raw),
    serialize: (value) => (Buffer.isBuffer(value) ? value : method.serialize(value)),
    onReply: (reply) => harvestReply(world, reply),
  };
  return new Promise<CallResult>((resolve) => {
    const ending = callEnding(started, resolve);
    if (!method.requestStream && !method.responseStream) sendUnary(c, ending);
    else if (!method.requestStream) sendServerStream(c, ending);
    else if (!method.responseStream) sendClientStream(c, ending);
    else sendBidiStream(c, ending);
  });
}
