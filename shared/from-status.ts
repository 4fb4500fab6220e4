/**
 * The client side's one error mapper (kvmctl, and an agent pulling from a peer):
 * a gRPC ServiceError from an agent
 * becomes a KvmcloneError with the same code name and the agent's message,
 * prefixed with the host, so every failure reads "hostb: ...".
 */
import { status, type ServiceError } from '@grpc/grpc-js';
import { ERROR_CODES, KvmcloneError, isAbortError, type ErrorCode } from './errors.js';

function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as Partial<ServiceError>).code === 'number' && 'details' in err;
}

/**
 * What a failed connection to an agent's socket means, in a user's words
 * (grpc-js says "No connection established. Last error: connect ENOENT …").
 */
export function unreachableWhy(details: string): string {
  if (/ENOENT|no such file/i.test(details)) return 'its socket is missing: kvmclone-agent is not running there (or not installed, or --agent-socket names another path)';
  if (/ECONNREFUSED|connection refused/i.test(details)) return 'nothing answers on its socket: kvmclone-agent is not running there (stopped, or restarting)';
  if (/EACCES|EPERM|permission denied/i.test(details)) return "permission denied on its socket: the SSH account is not in the agent socket's group (agent.yaml socket_group)";
  return 'the connection to its socket failed: is kvmclone-agent running there?';
}

/** Converts anything an agent call threw into a KvmcloneError naming the host. */
export function fromStatus(err: unknown, host: string): KvmcloneError {
  if (err instanceof KvmcloneError) return err;
  if (isAbortError(err)) return new KvmcloneError('CANCELLED', 'interrupted', { cause: err });
  if (isServiceError(err)) {
    const name = status[err.code] as string | undefined;
    const code: ErrorCode = (ERROR_CODES as readonly string[]).includes(name ?? '') ? (name as ErrorCode) : 'INTERNAL';
    const details = err.details || name || 'unknown error';
    if (err.code === status.UNAVAILABLE && /No connection established|connect|ECONNREFUSED|ENOENT|EACCES/i.test(details)) {
      return new KvmcloneError('UNAVAILABLE', `${host}: the agent cannot be reached: ${unreachableWhy(details)}`, { cause: err, detail: details });
    }
    return new KvmcloneError(code, `${host}: ${details}`, { cause: err });
  }
  return new KvmcloneError('INTERNAL', `${host}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}
