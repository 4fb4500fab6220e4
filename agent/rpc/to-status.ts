/**
 * The agent's one error mapper: every error a handler throws becomes a gRPC
 * status here and nowhere else.
 *
 * Known errors keep their code and message. Node system errors are mapped by
 * errno explicitly (grpc-js would turn a string `err.code` into UNKNOWN).
 * Anything else is INTERNAL: logged in full with a reference, and only the
 * reference goes on the wire. Nothing reaches a client as UNKNOWN.
 */
import { status as Status, Metadata, type StatusObject } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { KvmcloneError, errnoCode, isAbortError, type ErrorCode } from '../../shared/errors.js';

const ERRNO_TO_CODE: Readonly<Record<string, ErrorCode>> = {
  ENOENT: 'NOT_FOUND',
  EEXIST: 'ALREADY_EXISTS',
  ENOTEMPTY: 'FAILED_PRECONDITION',
  EACCES: 'PERMISSION_DENIED',
  EPERM: 'PERMISSION_DENIED',
  EROFS: 'FAILED_PRECONDITION',
  ENOSPC: 'RESOURCE_EXHAUSTED',
  EDQUOT: 'RESOURCE_EXHAUSTED',
  EFBIG: 'RESOURCE_EXHAUSTED',
  EMFILE: 'RESOURCE_EXHAUSTED',
  ENFILE: 'RESOURCE_EXHAUSTED',
  ENOMEM: 'RESOURCE_EXHAUSTED',
  ENOTDIR: 'INVALID_ARGUMENT',
  EISDIR: 'INVALID_ARGUMENT',
  ENAMETOOLONG: 'INVALID_ARGUMENT',
  ELOOP: 'INVALID_ARGUMENT',
  EXDEV: 'FAILED_PRECONDITION',
  EBUSY: 'FAILED_PRECONDITION',
  EIO: 'DATA_LOSS',
  ETIMEDOUT: 'DEADLINE_EXCEEDED',
  ECONNREFUSED: 'UNAVAILABLE',
  ECONNRESET: 'UNAVAILABLE',
};

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  EEXIST: 'file exists',
  EROFS: 'read-only file system',
  EIO: 'input/output error',
};

/** Maps a code name to the grpc-js numeric status. */
export function grpcStatusOf(code: ErrorCode): Status {
  return Status[code];
}

/** A status object ready for `callback(err)` or `call.emit('error', err)`. */
export type RpcStatus = Partial<StatusObject> & { code: Status; details: string; metadata: Metadata };

function make(code: ErrorCode, details: string): RpcStatus {
  const metadata = new Metadata();
  metadata.set('kvmclone-error-code', code);
  return { code: grpcStatusOf(code), details, metadata };
}

/**
 * Turns anything thrown by a handler into the status the client sees.
 * @param method the RPC path, for the log line of internal errors
 */
export function toStatus(err: unknown, log: Logger, method: string): RpcStatus {
  if (err instanceof KvmcloneError) return make(err.code, err.message);
  if (err instanceof Error && err.name === 'TimeoutError') return make('DEADLINE_EXCEEDED', 'the call deadline passed');
  if (isAbortError(err)) {
    // Node's once()/pipeline() wrap the signal's reason as `cause`.
    const cause = (err as Error).cause;
    if (cause instanceof KvmcloneError || (cause instanceof Error && cause.name === 'TimeoutError')) return toStatus(cause, log, method);
    return make('CANCELLED', 'the call was cancelled');
  }
  const errno = errnoCode(err);
  if (errno !== undefined && ERRNO_TO_CODE[errno] !== undefined) {
    const e = err as NodeJS.ErrnoException;
    const text = ERRNO_TEXT[errno] ?? errno;
    const where = e.path !== undefined ? `: ${e.path}` : '';
    return make(ERRNO_TO_CODE[errno], `${e.syscall ?? 'io'} failed, ${text} (${errno})${where}`);
  }
  const ref = randomUUID();
  log.error({ err, method, ref }, 'internal error');
  return make('INTERNAL', `internal error in ${method} (agent log reference ${ref})`);
}
