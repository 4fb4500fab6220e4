/**
 * The fuzz loop: random and mutated requests to every RPC of the agent's v1
 * services, on every socket the target exposes, a few at a time, each with a
 * deadline; after every batch the agent must still be alive and answer its
 * health check. Counts go per RPC, per socket and per status code; anything
 * that breaks a rule (agent gone, unhealthy, a call without a status in time)
 * is a failure with the seed and call number to replay it. How one call is
 * made and sent is in fuzz-call.ts.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { loadAgentProto } from '../../../shared/proto.js';
import { CODE_NAMES, sendOne, type CallResult, type FuzzMethod } from './fuzz-call.js';
import type { FuzzWorld } from './fuzz-world.js';
import { DescriptorIndex, type RequestObject } from './proto-messages.js';
import { Prng } from './prng.js';

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

/** What every call of a run shares. */
interface FuzzRunState {
  readonly seed: number;
  readonly world: FuzzWorld;
  readonly methods: FuzzMethod[];
  readonly index: DescriptorIndex;
  readonly clients: Map<string, grpc.Client>;
  readonly deadlineMs: number;
  readonly report: FuzzReport;
}

/** What call n is, before it is sent. */
interface DrawnCall {
  rng: Prng;
  method: FuzzMethod;
  socket: string;
  raw: boolean;
  client: grpc.Client;
}

/** Draws what call n sends where; undefined when there is no method or client for it. */
function drawCall(run: FuzzRunState, n: number): DrawnCall | undefined {
  // Call n draws from its own stream, so it is the same call whichever worker sends it.
  const rng = new Prng((Math.imul(run.seed, 0x9e3779b1) ^ Math.imul(n + 1, 0x85ebca6b)) >>> 0);
  const method = run.methods[n % run.methods.length] ?? run.methods[0];
  if (!method) return undefined;
  const socket = rng.pick(run.world.sockets);
  const raw = rng.chance(0.3);
  const client = run.clients.get(socket);
  if (!client) return undefined;
  return { rng, method, socket, raw, client };
}

/** Counts call n's result and records the rules it broke. */
function tally(run: FuzzRunState, n: number, call: DrawnCall, result: CallResult): void {
  const { report, seed, deadlineMs } = run;
  const { method, socket } = call;
  report.calls++;
  if (call.raw) report.mutated++;
  const perMethod = report.byMethod[method.name] ?? (report.byMethod[method.name] = {});
  perMethod[result.code] = (perMethod[result.code] ?? 0) + 1;
  report.byCode[result.code] = (report.byCode[result.code] ?? 0) + 1;
  const examples = report.examples[method.name] ?? (report.examples[method.name] = {});
  examples[result.code] ??= result.details.slice(0, 200);
  const socketName = socket.slice(socket.lastIndexOf('/') + 1);
  report.bySocket[socketName] = (report.bySocket[socketName] ?? 0) + 1;
  report.slowestMs = Math.max(report.slowestMs, result.ms);
  if (result.ms > deadlineMs + 5000) report.failures.push(`call ${n} (${method.name} on ${socketName}) took ${result.ms} ms, past its ${deadlineMs} ms deadline (seed ${seed})`);
  // DEADLINE_EXCEEDED is a status too (counted; on a loaded machine a qemu-img run can take seconds);
  // a call that outlives its deadline, INTERNAL and UNKNOWN are not acceptable answers.
  if (result.code === 'INTERNAL' || result.code === 'UNKNOWN')
    report.failures.push(`call ${n} (${method.name} on ${socketName}) ended ${result.code}: ${result.details} (seed ${seed})`);
}

/** Sends calls batchStart to batchEnd - 1, `concurrency` at a time; resolves when all have their status. */
function sendBatch(run: FuzzRunState, batchStart: number, batchEnd: number, concurrency: number): Promise<void[]> {
  let next = batchStart;
  const worker = async (): Promise<void> => {
    while (next < batchEnd) {
      const n = next++;
      const call = drawCall(run, n);
      if (!call) return;
      const result = await sendOne(call.rng, run.world, call.client, call.method, run.index, run.deadlineMs, call.raw);
      tally(run, n, call, result);
    }
  };
  return Promise.all(Array.from({ length: concurrency }, () => worker()));
}

/** The run's state before its first call: the RPCs, a client per socket, an empty report. */
function startRun(world: FuzzWorld, seed: number, deadlineMs: number): FuzzRunState {
  const methods = agentMethods();
  const index = new DescriptorIndex(loadAgentProto().definition);
  const clients = new Map(
    world.sockets.map((s) => [s, new grpc.Client(`unix:${s}`, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 })]),
  );
  const report: FuzzReport = { seed, calls: 0, mutated: 0, seconds: 0, byMethod: {}, bySocket: {}, byCode: {}, examples: {}, healthChecks: 0, slowestMs: 0, failures: [] };
  for (const m of methods) report.byMethod[m.name] = {};
  return { seed, world, methods, index, clients, deadlineMs, report };
}

/** Asks the admin socket's health service after a batch; anything but SERVING is a failure. */
async function checkHealth(run: FuzzRunState, admin: string, batchEnd: number): Promise<void> {
  const health = await healthCheck(admin, 10_000);
  run.report.healthChecks++;
  if (health !== 'SERVING') run.report.failures.push(`health check after call ${batchEnd - 1}: ${health} (seed ${run.seed})`);
}

/**
 * Runs `options.count` calls against the sockets of `world`. `alive` tells
 * whether the agent process still runs.
 */
export async function runFuzz(world: FuzzWorld, alive: () => boolean, options: FuzzOptions): Promise<FuzzReport> {
  const { seed, count } = options;
  const concurrency = options.concurrency ?? 8;
  const batchSize = options.batchSize ?? 250;
  const run = startRun(world, seed, options.deadlineMs ?? 10_000);
  const { report } = run;
  const admin = world.sockets.find((s) => s.endsWith('/agent.sock')) ?? world.sockets[0] ?? '';
  const started = Date.now();
  try {
    for (let batchStart = 0; batchStart < count; batchStart += batchSize) {
      const batchEnd = Math.min(count, batchStart + batchSize);
      await sendBatch(run, batchStart, batchEnd, concurrency);
      if (!alive()) {
        report.failures.push(`the agent exited during calls ${batchStart}-${batchEnd - 1} (seed ${seed})`);
        break;
      }
      await checkHealth(run, admin, batchEnd);
      await options.afterBatch?.(batchEnd);
    }
  } finally {
    for (const c of run.clients.values()) c.close();
    report.seconds = (Date.now() - started) / 1000;
  }
  return report;
}
