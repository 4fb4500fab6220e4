/**
 * When a replica runs: every `every` seconds counted from the start of its
 * last successful run (the point in time its copy holds), at once when it
 * never succeeded, and after a failure on a backoff of 1, 2, 4 … minutes
 * capped at 60, so a host that is down is not hammered every minute by the
 * timer while the failures are still counted.
 */
import { durationMs } from '../../shared/config/config-file.js';
import { invalidArgument } from '../../shared/errors.js';

/** The shortest interval: short enough for tests and tight RPOs, long enough that a run can finish. */
export const MIN_EVERY_S = 10;
/** The longest interval: a week. */
export const MAX_EVERY_S = 7 * 86_400;
/** Backoff cap, in minutes. */
export const MAX_BACKOFF_MIN = 60;

/** Parses an interval ("15m", "1h", "30s", or a number of seconds) into whole seconds; INVALID_ARGUMENT outside 10 s … 7 d. */
export function parseEvery(value: string | number, field = '--every'): number {
  const ms = durationMs(value);
  if (ms === undefined) throw invalidArgument(`${field}: ${JSON.stringify(value)} is not an interval (e.g. 15m, 1h, 30s)`);
  const seconds = Math.round(ms / 1000);
  if (seconds < MIN_EVERY_S || seconds > MAX_EVERY_S) throw invalidArgument(`${field}: ${JSON.stringify(value)} is outside ${MIN_EVERY_S}s … 7d`);
  return seconds;
}

/** Seconds as the flags write them: 45s, 15m, 1h30m, 2d. */
export function formatSeconds(total: number): string {
  const s = Math.max(0, Math.round(total));
  if (s < 60) return `${s}s`;
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return [d && `${d}d`, h && `${h}h`, m && `${m}m`, rest && `${rest}s`].filter(Boolean).join('');
}

/** Wait after the `failures`-th consecutive failure (1 → 1 min, 2 → 2 min, 3 → 4 min, … capped at 60 min), in seconds. */
export function backoffSeconds(failures: number): number {
  if (failures < 1) return 0;
  return 60 * Math.min(MAX_BACKOFF_MIN, 2 ** Math.min(failures - 1, 16));
}

/** What the schedule needs to know of a replica. */
export interface ScheduleFacts {
  everySeconds: number;
  paused: boolean;
  lifecycle: 'active' | 'failed-over';
  createdAt: string;
  consecutiveFailures: number;
  /** Set after a failure: not before this. */
  nextAttemptAt: string | null;
  /** Start of the last successful run, if any. */
  lastSuccessAt: string | undefined;
}

/**
 * When the replica should run next (ms since the epoch), or undefined when it
 * does not run on its own (paused, or failed over: the copy is the VM now).
 */
export function nextRunAt(r: ScheduleFacts): number | undefined {
  if (r.paused || r.lifecycle !== 'active') return undefined;
  if (r.consecutiveFailures > 0 && r.nextAttemptAt !== null) return Date.parse(r.nextAttemptAt);
  if (r.lastSuccessAt === undefined) return Date.parse(r.createdAt);
  return Date.parse(r.lastSuccessAt) + r.everySeconds * 1000;
}

/** True when the replica should run at `now`. */
export function isDue(r: ScheduleFacts, now: number): boolean {
  const next = nextRunAt(r);
  return next !== undefined && next <= now;
}
