/**
 * The fuzz loop: random and mutated requests to every RPC of the agent's v1
 * services, on every socket the target exposes, a few at a time, each with a
 * deadline; after every batch the agent must still be alive and answer its
 * health check. Counts go per RPC, per socket and per status code; anything
 * that breaks a rule (agent gone, unhealthy, a call without a status in time)
 * is a failure with the seed and call number to replay it.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { loadAgentProto } from '../../../shared/proto.js';
import { TICKET_METADATA } from '../../../agent/transfer/pull-image.js';
import { harvested, harvestReply, type FuzzWorld } from './fuzz-world.js';
import { mutate } from './mutate.js';
import { DescriptorIndex, randomMessage, type RequestObject } from './proto-messages.js';
import { randomText } from './hostile-values.js';
import { Prng } from './prng.js';

/** One RPC as the fuzzer drives it. */
interface FuzzMethod {
  /** e.g. "DiskService/ReadRanges". */
  name: string;
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestType: string;
  serialize: (value: RequestObject) => Buffer;
  deserialize: (bytes: Buffer) => unknown;
}

/** Every RPC of the agent's v1 services, from the loaded package definition. */
export function agentMethods(): FuzzMethod[] {
  const { definition } = loadAgentProto();
  const out: FuzzMethod[] = [];
  for (const [name, def] of Object.entries(definition)) {
    if (!name.startsWith('kvmclone.agent.v1.') || !name.endsWith('Service')) continue;
    for (const [method, m] of Object.entries(def as grpc.ServiceDefinition)) {
      const requestType = (m as unknown as { requestType: { type: { name: string } } }).requestType.type.name;
      out.push({
        name: `${name.slice('kvmclone.agent.v1.'.length)}/${method}`,
        path: m.path,
        requestStream: m.requestStream,
        responseStream: m.responseStream,
        requestType,
        serialize: m.requestSerialize as (value: RequestObject) => Buffer,
        deserialize: m.responseDeserialize as (bytes: Buffer) => unknown,
      });
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Options of one run. */
export interface FuzzOptions {
  seed: number;
  count: number;
  /** Calls in flight at once. */
  concurrency?: number;
  /** Deadline of each call. */
  deadlineMs?: number;
  /** Calls between health checks. */
  batchSize?: number;
  /** Called after each batch (cleanup, progress). */
  afterBatch?: (done: number) => Promise<void>;
}

/** Counts of one run and the rules it broke. */
export interface FuzzReport {
  seed: number;
  calls: number;
  mutated: number;
  seconds: number;
  byMethod: Record<string, Record<string, number>>;
  bySocket: Record<string, number>;
  byCode: Record<string, number>;
  /** The first status message seen per RPC and code (what the refusals say). */
  examples: Record<string, Record<string, string>>;
  healthChecks: number;
  slowestMs: number;
  failures: string[];
}

const CODE_NAMES = Object.fromEntries(
  Object.entries(grpc.status)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => [v as number, k]),
);

/** The health client of a socket. */
function healthCheck(socket: string, deadlineMs: number): Promise<string> {
  const def = protoLoader.loadSync(healthProtoPath, { enums: String });
  const Health = (grpc.loadPackageDefinition(def) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } }).grpc.health.v1.Health;
  const client = new Health(`unix:${socket}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    check(r: object, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: { status: string }) => void): void;
  };
  return new Promise<string>((resolve) => {
    client.check({ service: '' }, { deadline: Date.now() + deadlineMs }, (err, reply) => {
      client.close();
      resolve(err ? `error ${CODE_NAMES[err.code] ?? err.code}: ${err.details}` : (reply?.status ?? 'no reply'));
    });
  });
}

interface CallResult {
  code: string;
  details: string;
  ms: number;
}

/** grpc-js answers a request it cannot decode with INTERNAL itself, before any agent code runs. */
const UNDECODABLE = /^Error deserializing request/;

/** Sends one call and resolves with its status once it has one. */
function sendOne(rng: Prng, world: FuzzWorld, client: grpc.Client, method: FuzzMethod, index: DescriptorIndex, deadlineMs: number, raw: boolean): Promise<CallResult> {
  const started = Date.now();
  const metadata = new grpc.Metadata();
  if (rng.chance(0.4)) metadata.set(TICKET_METADATA, harvested(world, rng, 'ticket') ?? randomText(rng, 60).replace(/[^\x20-\x7e]/g, 'x'));
  if (rng.chance(0.05)) metadata.set(`x-fuzz-${rng.int(100)}`, 'y'.repeat(rng.int(8192)));
  const options: grpc.CallOptions = { deadline: started + deadlineMs };
  const plausible = !raw && rng.chance(0.5);
  let sent = 0;
  const message = (): RequestObject | Buffer => {
    const m = randomMessage(rng, world, index, method.requestType, plausible, 0, sent++ === 0 ? 'first' : 'later');
    return raw ? mutate(rng, method.serialize(m)) : m;
  };
  const serialize = (value: RequestObject | Buffer): Buffer => (Buffer.isBuffer(value) ? value : method.serialize(value));
  return new Promise<CallResult>((resolve) => {
    let cancelledByUs = false;
    const done = (err: grpc.ServiceError | null | { code: number; details: string }): void => {
      const details = err === null ? '' : err.details;
      let code = err === null ? 'OK' : (CODE_NAMES[err.code] ?? String(err.code));
      if (cancelledByUs && code === 'CANCELLED') code = 'CANCELLED(by fuzzer)';
      if (code === 'INTERNAL' && UNDECODABLE.test(details)) code = 'INTERNAL(undecodable request)';
      resolve({ code, details, ms: Date.now() - started });
    };
    const onReply = (reply: unknown): void => harvestReply(world, reply);
    if (!method.requestStream && !method.responseStream) {
      client.makeUnaryRequest(method.path, serialize, method.deserialize, message(), metadata, options, (err, reply) => {
        if (reply !== undefined) onReply(reply);
        done(err);
      });
      return;
    }
    if (!method.requestStream) {
      const call = client.makeServerStreamRequest(method.path, serialize, method.deserialize, message(), metadata, options);
      // Long-lived streams (tickets, locks, views) are held a random while, then cancelled.
      const holdMs = rng.int(1500);
      const limit = 1 + rng.int(64);
      let received = 0;
      const timer = setTimeout(() => {
        cancelledByUs = true;
        call.cancel();
      }, holdMs);
      call.on('data', (reply: unknown) => {
        onReply(reply);
        if (++received >= limit) {
          cancelledByUs = true;
          call.cancel();
        }
      });
      call.on('error', () => undefined);
      call.on('status', (status: grpc.StatusObject) => {
        clearTimeout(timer);
        done(status.code === grpc.status.OK ? null : status);
      });
      return;
    }
    const writeAll = (call: grpc.ClientWritableStream<RequestObject | Buffer>): void => {
      const n = rng.chance(0.1) ? 0 : 1 + rng.int(8);
      for (let i = 0; i < n; i++) call.write(message());
      if (rng.chance(0.9)) call.end();
      else
        setTimeout(() => {
          cancelledByUs = true;
          call.cancel();
        }, rng.int(1000));
    };
    if (!method.responseStream) {
      const call = client.makeClientStreamRequest(method.path, serialize, method.deserialize, metadata, options, (err, reply) => {
        if (reply !== undefined) onReply(reply);
        done(err);
      });
      writeAll(call);
      return;
    }
    const call = client.makeBidiStreamRequest(method.path, serialize, method.deserialize, metadata, options);
    call.on('data', onReply);
    call.on('error', () => undefined);
    call.on('status', (status: grpc.StatusObject) => done(status.code === grpc.status.OK ? null : status));
    writeAll(call);
  });
}

/**
 * Runs `options.count` calls against the sockets of `world`. `alive` tells
 * whether the agent process still runs.
 */
export async function runFuzz(world: FuzzWorld, alive: () => boolean, options: FuzzOptions): Promise<FuzzReport> {
  const { seed, count } = options;
  const concurrency = options.concurrency ?? 8;
  const deadlineMs = options.deadlineMs ?? 10_000;
  const batchSize = options.batchSize ?? 250;
  const methods = agentMethods();
  const index = new DescriptorIndex(loadAgentProto().definition);
  const clients = new Map(
    world.sockets.map((s) => [s, new grpc.Client(`unix:${s}`, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 })]),
  );
  const admin = world.sockets.find((s) => s.endsWith('/agent.sock')) ?? world.sockets[0] ?? '';
  const report: FuzzReport = { seed, calls: 0, mutated: 0, seconds: 0, byMethod: {}, bySocket: {}, byCode: {}, examples: {}, healthChecks: 0, slowestMs: 0, failures: [] };
  for (const m of methods) report.byMethod[m.name] = {};
  const started = Date.now();
  try {
    for (let batchStart = 0; batchStart < count; batchStart += batchSize) {
      const batchEnd = Math.min(count, batchStart + batchSize);
      let next = batchStart;
      const worker = async (): Promise<void> => {
        while (next < batchEnd) {
          const n = next++;
          // Call n draws from its own stream, so it is the same call whichever worker sends it.
          const rng = new Prng((Math.imul(seed, 0x9e3779b1) ^ Math.imul(n + 1, 0x85ebca6b)) >>> 0);
          const method = methods[n % methods.length] ?? methods[0];
          if (!method) return;
          const socket = rng.pick(world.sockets);
          const raw = rng.chance(0.3);
          const client = clients.get(socket);
          if (!client) return;
          const result = await sendOne(rng, world, client, method, index, deadlineMs, raw);
          report.calls++;
          if (raw) report.mutated++;
          const perMethod = report.byMethod[method.name] ?? (report.byMethod[method.name] = {});
          perMethod[result.code] = (perMethod[result.code] ?? 0) + 1;
          report.byCode[result.code] = (report.byCode[result.code] ?? 0) + 1;
          const examples = report.examples[method.name] ?? (report.examples[method.name] = {});
          examples[result.code] ??= result.details.slice(0, 200);
          const socketName = socket.slice(socket.lastIndexOf('/') + 1);
          report.bySocket[socketName] = (report.bySocket[socketName] ?? 0) + 1;
          report.slowestMs = Math.max(report.slowestMs, result.ms);
          if (result.ms > deadlineMs + 5000)
            report.failures.push(`call ${n} (${method.name} on ${socketName}) took ${result.ms} ms, past its ${deadlineMs} ms deadline (seed ${seed})`);
          // DEADLINE_EXCEEDED is a status too (counted; on a loaded machine a qemu-img run can take seconds);
          // a call that outlives its deadline, INTERNAL and UNKNOWN are not acceptable answers.
          if (result.code === 'INTERNAL' || result.code === 'UNKNOWN')
            report.failures.push(`call ${n} (${method.name} on ${socketName}) ended ${result.code}: ${result.details} (seed ${seed})`);
        }
      };
      await Promise.all(Array.from({ length: concurrency }, () => worker()));
      if (!alive()) {
        report.failures.push(`the agent exited during calls ${batchStart}-${batchEnd - 1} (seed ${seed})`);
        break;
      }
      const health = await healthCheck(admin, 10_000);
      report.healthChecks++;
      if (health !== 'SERVING') report.failures.push(`health check after call ${batchEnd - 1}: ${health} (seed ${seed})`);
      await options.afterBatch?.(batchEnd);
    }
  } finally {
    for (const c of clients.values()) c.close();
    report.seconds = (Date.now() - started) / 1000;
  }
  return report;
}
