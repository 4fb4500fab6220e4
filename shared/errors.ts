/**
 * The error vocabulary of kvmclone, shared by agent and controller.
 *
 * Every failure that crosses the gRPC boundary is one of these codes; the
 * agent maps errors to gRPC status codes in one place (agent/rpc/to-status.ts)
 * and the controller maps them back (controller/transport/from-status.ts).
 * The names are gRPC's, so the mapping is one-to-one and nothing is lost.
 */
import { inspect } from 'node:util';

export const ERROR_CODES = [
  'CANCELLED',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
] as const;

/** One of the gRPC status names that kvmclone uses. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * An error whose meaning is known: it carries the status code a client will
 * see and a message written for the person who reads it. Anything thrown that
 * is not a KvmcloneError (nor a mapped Node errno) is an internal error.
 */
export class KvmcloneError extends Error {
  readonly code: ErrorCode;
  /**
   * The lower layer's own words (e.g. grpc-js's "No connection established.
   * Last error: …"), kept out of the message a user reads: shown with
   * --verbose, and in --json results.
   */
  readonly detail?: string;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; detail?: string }) {
    super(message, options);
    this.name = 'KvmcloneError';
    this.code = code;
    if (options?.detail !== undefined) this.detail = options.detail;
  }
}

/** A request field, name or path is malformed. */
export const invalidArgument = (message: string): KvmcloneError => new KvmcloneError('INVALID_ARGUMENT', message);
/** The named thing does not exist. */
export const notFound = (message: string): KvmcloneError => new KvmcloneError('NOT_FOUND', message);
/** The thing to be created exists already. */
export const alreadyExists = (message: string): KvmcloneError => new KvmcloneError('ALREADY_EXISTS', message);
/** The path or action is outside what this agent may touch. */
export const permissionDenied = (message: string): KvmcloneError => new KvmcloneError('PERMISSION_DENIED', message);
/** The system is not in the state the operation needs (VM running, wrong version). */
export const failedPrecondition = (message: string): KvmcloneError => new KvmcloneError('FAILED_PRECONDITION', message);
/** Not enough space (or another quota) to do the work. */
export const resourceExhausted = (message: string): KvmcloneError => new KvmcloneError('RESOURCE_EXHAUSTED', message);
/** An offset or length past the declared end. */
export const outOfRange = (message: string): KvmcloneError => new KvmcloneError('OUT_OF_RANGE', message);
/** Bytes arrived damaged (hash mismatch). */
export const dataLoss = (message: string): KvmcloneError => new KvmcloneError('DATA_LOSS', message);
/** A dependency (libvirtd, a peer agent) cannot be reached right now. */
export const unavailable = (message: string): KvmcloneError => new KvmcloneError('UNAVAILABLE', message);
/** Another operation holds the lock. */
export const aborted = (message: string): KvmcloneError => new KvmcloneError('ABORTED', message);

/** True for the error an AbortSignal raises (DOMException 'AbortError' or Node's ABORT_ERR). */
/** What a caught value says, for a message: an Error's message, a string as it is, anything else inspected. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : inspect(err);
}

export function isAbortError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return err.name === 'AbortError' || (err as NodeJS.ErrnoException).code === 'ABORT_ERR';
}

/** The errno name of a Node system error (ENOSPC, EACCES, ...), or undefined. */
export function errnoCode(err: unknown): string | undefined {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return code;
  }
  return undefined;
}
