/**
 * The one place that decides whether a failure during a run is worth a
 * reconnect: transient (the SSH connection dropped, an agent restarted, a
 * lock or staging file still held by the attempt that just died) or
 * permanent (a refusal, bad input, no space, a host key, data that does not
 * match). A permanent failure is never retried: retrying it would only
 * delay the revert and the clear error the user needs.
 */
import { status } from '@grpc/grpc-js';
import { errnoCode, isAbortError, KvmcloneError } from '../../../shared/errors.js';
import { SshError, type SshFailureKind } from '../../transport/ssh-engine.js';

/** What the classifier knows about the run. */
export interface FailureContext {
  /** The running operation: its own lock or staging file, still held by the attempt that failed, is transient. */
  operationId: string;
  /** The source and destination hosts, to say which connection was lost. */
  source: string;
  dest: string;
}

/** A classified failure. */
export interface FailureClass {
  transient: boolean;
  /** The host whose connection or agent failed, when it can be told. */
  host: string | undefined;
  /** One line saying what happened (the error's message). */
  reason: string;
}

/** SSH failures that a new connection may cure: the network or the server went away. */
const TRANSIENT_SSH: ReadonlySet<SshFailureKind> = new Set(['unreachable', 'other']);

/** Node errno codes of a connection that broke, as opposed to a disk or permission problem. */
const TRANSIENT_ERRNO: ReadonlySet<string> = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'ECONNABORTED']);

/** How grpc-js words a connection (not a call) that ended under a stream. */
const BROKEN_CONNECTION = /Connection dropped|RST_STREAM|Session closed|ECONNRESET|EPIPE|socket hang up|No connection established/i;

/** ABORTED because the failed attempt of this same operation still holds a staging file or the VM lock (released a moment later). */
function heldByThisRun(err: KvmcloneError, operationId: string): boolean {
  if (/is in use by another call/.test(err.message)) return true;
  return operationId !== '' && err.message.includes(`locked by operation ${operationId} `);
}

function grpcCode(err: unknown): status | undefined {
  const code = (err as { code?: unknown }).code;
  return err instanceof Error && typeof code === 'number' && 'details' in err ? code : undefined;
}

function transientCode(err: KvmcloneError, operationId: string): boolean {
  switch (err.code) {
    case 'UNAVAILABLE':
      return true;
    case 'ABORTED':
      return heldByThisRun(err, operationId);
    case 'INTERNAL':
      return BROKEN_CONNECTION.test(err.message);
    default:
      // CANCELLED (the user), DEADLINE_EXCEEDED (a call or a stalled transfer), RESOURCE_EXHAUSTED (ENOSPC),
      // INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED, FAILED_PRECONDITION, OUT_OF_RANGE,
      // UNIMPLEMENTED, DATA_LOSS: the same request would fail the same way.
      return false;
  }
}

/** The host a message is about: "hostb: …" names the destination; "source agent: …" (said by the destination) the source. */
function hostOf(message: string, ctx: FailureContext): string | undefined {
  if (message.startsWith(`${ctx.dest}: `) && /source agent/.test(message)) return ctx.source;
  for (const host of [ctx.dest, ctx.source]) if (message.startsWith(`${host}: `)) return host;
  return /source agent/.test(message) ? ctx.source : undefined;
}

/** Transient or permanent, with the host it concerns and a one-line reason. */
export function classifyFailure(err: unknown, ctx: FailureContext): FailureClass {
  const reason = err instanceof Error ? err.message : String(err);
  if (isAbortError(err)) return { transient: false, host: undefined, reason };
  if (err instanceof SshError) return { transient: TRANSIENT_SSH.has(err.kind), host: err.host, reason };
  const host = hostOf(reason, ctx);
  if (err instanceof KvmcloneError) {
    const cause = err.cause;
    // An SshError wrapped by normalizeSshError keeps its kind.
    if (cause instanceof SshError) return { transient: TRANSIENT_SSH.has(cause.kind), host: cause.host, reason };
    return { transient: transientCode(err, ctx.operationId), host, reason };
  }
  const code = grpcCode(err);
  if (code !== undefined) return { transient: code === status.UNAVAILABLE || (code === status.INTERNAL && BROKEN_CONNECTION.test(reason)), host, reason };
  const errno = errnoCode(err);
  return { transient: errno !== undefined && TRANSIENT_ERRNO.has(errno), host, reason };
}
