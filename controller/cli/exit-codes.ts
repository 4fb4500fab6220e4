/**
 * Exit codes of kvmctl (the README's table), chosen from the error code so that
 * scripts can tell a refusal from a failure from an interruption.
 */
import type { ErrorCode } from '../../shared/errors.js';

export const EXIT_OK = 0;
/** Failed, and nothing was left half-made. */
export const EXIT_FAILED = 1;
/** Usage or config error. */
export const EXIT_USAGE = 2;
/** Refused by preflight: space, name taken, VM state, incompatible host. */
export const EXIT_REFUSED = 3;
/** Interrupted (Ctrl-C); reverted. */
export const EXIT_INTERRUPTED = 130;

/** Error codes that mean "preflight said no" rather than "something broke". */
const REFUSALS: ReadonlySet<ErrorCode> = new Set(['FAILED_PRECONDITION', 'ALREADY_EXISTS', 'RESOURCE_EXHAUSTED', 'PERMISSION_DENIED', 'NOT_FOUND', 'ABORTED']);

/** The exit code for an error code reached during `phase`. */
export function exitCodeFor(code: ErrorCode, phase: 'preflight' | 'run'): number {
  if (code === 'CANCELLED') return EXIT_INTERRUPTED;
  if (code === 'INVALID_ARGUMENT' && phase === 'preflight') return EXIT_USAGE;
  if (phase === 'preflight' && REFUSALS.has(code)) return EXIT_REFUSED;
  return EXIT_FAILED;
}
