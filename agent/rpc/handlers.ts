/**
 * Adapters from grpc-js call objects to plain async functions.
 *
 * Service code is written as `async (request, ctx) => response` and never
 * touches a call object: these wrappers give it an AbortSignal (client
 * cancel, call deadline and agent shutdown combined), send what it returns,
 * honour backpressure on server streams, and route every error through
 * `toStatus` — always exactly once. A mutating call (not in
 * READ_ONLY_METHODS) runs only while the audit trail can be written, and its
 * record is on disk before its answer is sent.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { boundedSink } from './bounded-sink.js';
import { SEND_SHARE, type SendSlot } from './send-share.js';
import { toStatus } from './to-status.js';
import type { AuditLog } from '../audit/audit-log.js';
import { auditCall, type AuditableCall } from '../audit/audited-call.js';
import { operationIdOfCall, withCallOperation } from '../leftovers/call-operation.js';
import type { RunningOperations } from '../leftovers/running-operations.js';

/** What every handler gets besides its request. */
export interface CallContext {
  /** Aborts on client cancel, deadline or agent shutdown. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** Of a server stream: how many reads it may keep ahead of what it sends now (send-share.ts). */
  readonly readDepth?: () => number;
}

/** Process-wide things the wrappers need. */
export interface RpcDeps {
  readonly log: Logger;
  /** Aborted when the agent begins shutting down. */
  readonly shutdown: AbortSignal;
  /** The audit trail mutating calls are recorded in; tests that do not look at it leave it out. */
  readonly audit?: AuditLog | undefined;
  /** Registers the open calls that hold an operation (leftovers are never an operation's while it runs); tests may leave it out. */
  readonly operations?: RunningOperations | undefined;
}

/**
 * Sends one message of a server stream, waiting while the client is slow.
 * `written`, when given, runs once grpc-js has serialized the message and
 * handed it to HTTP/2 (or failed to): only then may buffers the message refers
 * to be reused, since a queued message is serialized later than `send` resolves.
 */
export type StreamSink<T> = (message: T, written?: () => void) => Promise<void>;

/** The part of every grpc-js server call the wrappers use. */
interface AnyCall {
  on(event: 'cancelled', listener: () => void): unknown;
  removeListener(event: 'cancelled', listener: () => void): unknown;
  getDeadline(): grpc.Deadline;
}

function callSignal(call: AnyCall, deps: RpcDeps): { signal: AbortSignal; dispose: () => void } {
  const cancelled = new AbortController();
  const onCancel = (): void => cancelled.abort(new DOMException('call cancelled by client', 'AbortError'));
  call.on('cancelled', onCancel);
  const signals = [cancelled.signal, deps.shutdown];
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() - Date.now() : Number.isFinite(deadline) ? deadline - Date.now() : Infinity;
  if (Number.isFinite(ms)) signals.push(AbortSignal.timeout(Math.max(0, ms)));
  return { signal: AbortSignal.any(signals), dispose: () => call.removeListener('cancelled', onCancel) };
}

function context(method: string, deps: RpcDeps, signal: AbortSignal, slot?: SendSlot): CallContext {
  return { signal, log: deps.log.child({ method }), ...(slot !== undefined && { readDepth: slot.readDepth }) };
}

/**
 * Runs `fn` as part of the call's operation: registered as running while it
 * runs (when the method holds an operation), and with the operation id at
 * hand for the files it creates (agent/leftovers/call-operation.ts).
 */
function asOperation<T>(call: AuditableCall, deps: RpcDeps, request: unknown, fn: () => Promise<T>): Promise<T> {
  const operationId = operationIdOfCall(request, call.metadata);
  const leave = deps.operations?.enter(call.getPath(), operationId) ?? ((): void => undefined);
  return withCallOperation(operationId, fn).finally(leave);
}

/** Wraps a unary handler. */
export function unary<Req, Res>(method: string, deps: RpcDeps, fn: (request: Req, ctx: CallContext) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const { signal, dispose } = callSignal(call, deps);
    const audit = auditCall(deps.audit, call, deps.log);
    Promise.resolve()
      .then(() => audit?.admit())
      .then(() => asOperation(call as AuditableCall, deps, call.request, () => fn(call.request, context(method, deps, signal))))
      .then(
        async (response) => {
          dispose();
          await audit?.finish(null, response);
          callback(null, response);
        },
        async (err: unknown) => {
          dispose();
          const status = toStatus(err, deps.log, method);
          await audit?.finish(status);
          callback(status);
        },
      );
  };
}

/**
 * Wraps a server-streaming handler; `send` resolves while few of its messages
 * are unwritten (bounded-sink.ts), how few depending on how many streams the
 * agent is sending at once (send-share.ts).
 */
export function serverStream<Req, Res>(
  method: string,
  deps: RpcDeps,
  fn: (request: Req, send: StreamSink<Res>, ctx: CallContext) => Promise<void>,
): grpc.handleServerStreamingCall<Req, Res> {
  return (call) => {
    const { signal, dispose: disposeSignal } = callSignal(call, deps);
    const slot = SEND_SHARE.join();
    const dispose = (): void => {
      slot.leave();
      disposeSignal();
    };
    const audit = auditCall(deps.audit, call, deps.log);
    const send: StreamSink<Res> = boundedSink(call, signal, slot.unwritten);
    // A stream is recorded once, at its end, with how it ended.
    Promise.resolve()
      .then(() => audit?.admit())
      .then(() => asOperation(call as AuditableCall, deps, call.request, () => fn(call.request, send, context(method, deps, signal, slot))))
      .then(
        async () => {
          dispose();
          await audit?.finish(null);
          call.end();
        },
        async (err: unknown) => {
          dispose();
          const status = toStatus(err, deps.log, method);
          await audit?.finish(status);
          call.emit('error', status);
        },
      );
  };
}

/** Wraps a client-streaming handler; the messages arrive as an async iterable that stops on abort. */
export function clientStream<Req, Res>(
  method: string,
  deps: RpcDeps,
  fn: (messages: AsyncIterable<Req>, ctx: CallContext) => Promise<Res>,
): grpc.handleClientStreamingCall<Req, Res> {
  return (call, callback) => {
    const { signal, dispose } = callSignal(call, deps);
    const audit = auditCall(deps.audit, call, deps.log);
    const onAbort = (): void => {
      call.destroy(signal.reason instanceof Error ? signal.reason : new DOMException('aborted', 'AbortError'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    async function* messages(): AsyncGenerator<Req> {
      for await (const message of call as AsyncIterable<Req>) {
        signal.throwIfAborted();
        audit?.observe(message);
        yield message;
      }
      // grpc-js delivers a client's cancel a few ticks after the end of its stream:
      // let it arrive before the end is taken as a normal one.
      await new Promise((resolve) => setImmediate(resolve));
      signal.throwIfAborted();
    }
    Promise.resolve()
      .then(() => audit?.admit())
      .then(() => asOperation(call as AuditableCall, deps, undefined, () => fn(messages(), context(method, deps, signal))))
      .then(
        async (response) => {
          signal.removeEventListener('abort', onAbort);
          dispose();
          await audit?.finish(null, response);
          callback(null, response);
        },
        async (err: unknown) => {
          signal.removeEventListener('abort', onAbort);
          dispose();
          const status = toStatus(signal.aborted ? (signal.reason ?? err) : err, deps.log, method);
          await audit?.finish(status);
          callback(status);
        },
      );
  };
}
