/**
 * A reconnect within a run, as the user sees it: one NDJSON `retry` event
 * with --json, one line on a terminal — `connection to hostb lost (…);
 * retry 2/6 in 3.1 s` — and an event in the operation's history.
 */

/** One scheduled reconnect. */
export interface RetryNotice {
  /** The phase that was interrupted (TRANSFER, PLAN). */
  phase: string;
  /** The host whose connection or agent failed, when it is known. */
  host: string | undefined;
  /** This attempt (1-based) and how many are allowed in a row. */
  attempt: number;
  attempts: number;
  /** Wait before it, in milliseconds. */
  delayMs: number;
  /** What failed (the error's message). */
  reason: string;
}

/** The longest reason shown on a terminal line (the event carries it whole). */
const REASON_CHARS = 160;

/** The terminal line of a retry. */
export function formatRetryLine(n: RetryNotice): string {
  const reason = n.reason.length > REASON_CHARS ? `${n.reason.slice(0, REASON_CHARS - 1)}…` : n.reason;
  const what = n.host === undefined ? 'connection lost' : `connection to ${n.host} lost`;
  return `${what} (${reason}); retry ${n.attempt}/${n.attempts} in ${(n.delayMs / 1000).toFixed(1)} s`;
}

/** The NDJSON event of a retry (without the timestamp the reporter adds). */
export function retryEvent(n: RetryNotice): Record<string, unknown> {
  return { type: 'retry', phase: n.phase, ...(n.host !== undefined && { host: n.host }), attempt: n.attempt, attempts: n.attempts, delayMs: n.delayMs, reason: n.reason };
}
