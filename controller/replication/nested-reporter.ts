/**
 * The reporter an operation run inside another one (a failback's syncs, a
 * test failover's clone) reports through: everything it says reaches the
 * command's reporter as it happens, except its result line, which is kept
 * for the outer operation to read (its id, bytes on the wire, delta) —
 * the command prints one result, the outer one's.
 */
import { ERROR_CODES, KvmcloneError, type ErrorCode } from '../../shared/errors.js';
import type { Reporter } from '../cli/reporter.js';

/** A reporter that passes through to `outer` and keeps the result line in `captured`. */
export interface NestedReporter extends Reporter {
  captured: Record<string, unknown> | undefined;
}

/** Wraps `outer`; `close` is the outer command's business and does nothing here. */
export function nestedReporter(outer: Reporter): NestedReporter {
  const reporter: NestedReporter = {
    captured: undefined,
    phase: (name, detail) => outer.phase(name, detail),
    progress: (item, done, total) => outer.progress(item, done, total),
    itemDone: (item, summary) => outer.itemDone(item, summary),
    info: (message, data) => outer.info(message, data),
    warn: (message) => outer.warn(message),
    retry: (notice) => outer.retry(notice),
    debug: (message) => outer.debug(message),
    result: (result) => {
      reporter.captured = result;
    },
    close: () => undefined,
  };
  return reporter;
}

/** The error a nested operation's result line carried (its code kept, so a refusal stays a refusal). */
export function nestedError(result: Record<string, unknown> | undefined, fallback: string): KvmcloneError {
  const error = result?.error as { code?: unknown; message?: unknown } | undefined;
  const code = ERROR_CODES.find((c) => c === error?.code) ?? ('INTERNAL' satisfies ErrorCode);
  return new KvmcloneError(code, typeof error?.message === 'string' ? error.message : fallback);
}
