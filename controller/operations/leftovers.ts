/**
 * What kvmctl shows of an agent's leftovers (ListLeftovers, RemoveLeftovers):
 * the --older-than parser, the plain-object form of a leftover for --json,
 * and the text lines `kvmctl hosts check` and `kvmctl gc` print. Kept apart
 * from the commands so both print leftovers the same way.
 */
import type { Leftover__Output } from '../../shared/generated/kvmclone/agent/v1/Leftover.js';
import { durationMs } from '../../shared/config/config-file.js';
import { invalidArgument } from '../../shared/errors.js';
import { formatBytes } from '../cli/reporter.js';
import type { HostSession } from '../transport/host-session.js';

/** A leftover as kvmctl reports it (--json). */
export interface LeftoverReport {
  kind: string;
  path: string;
  operationId: string;
  ageSeconds: number;
  running: boolean;
  committed: boolean;
  sizeBytes: number;
  /** Why it stays (empty: gc removes it). */
  keepReason: string;
}

const DAY_S = 86_400;

/**
 * `--older-than`: a duration ("90s", "30m", "1h", "7d") in seconds;
 * INVALID_ARGUMENT (exit 2) for anything else, before any connection.
 */
export function parseOlderThan(text: string): number {
  const trimmed = text.trim();
  const days = /^(\d+(?:\.\d+)?)\s*d$/.exec(trimmed);
  const ms = days ? Number(days[1]) * DAY_S * 1000 : durationMs(trimmed);
  if (ms === undefined || !Number.isFinite(ms)) throw invalidArgument(`--older-than: ${JSON.stringify(text)} is not a duration (90s, 30m, 1h, 7d)`);
  return ms / 1000;
}

/** The wire kind without its prefix: "staging", "journal", "peer-socket", ... */
export function kindName(kind: string): string {
  return kind
    .replace(/^LEFTOVER_KIND_/, '')
    .toLowerCase()
    .replace(/_/g, '-');
}

/** The plain form of one leftover. */
export function leftoverReport(l: Leftover__Output): LeftoverReport {
  return {
    kind: kindName(l.kind),
    path: l.path,
    operationId: l.operationId,
    ageSeconds: Math.round(l.ageSeconds),
    running: l.running,
    committed: l.committed,
    sizeBytes: l.sizeBytes,
    keepReason: l.keepReason,
  };
}

/** "3 s", "12 min", "5 h", "2 d": an age as a person reads it. */
export function formatAge(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 2 * DAY_S) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / DAY_S)} d`;
}

/** One line: kind, operation, age, size, path — and why it stays, when it does. */
export function leftoverLine(l: LeftoverReport, withReason: boolean): string {
  const op = l.operationId === '' ? 'operation unknown' : `operation ${l.operationId}`;
  const size = l.sizeBytes > 0 ? `, ${formatBytes(l.sizeBytes)}` : '';
  const state = l.running ? ', running' : l.committed ? ', committed' : '';
  const why = withReason && l.keepReason !== '' ? ` — kept: ${l.keepReason}` : '';
  return `${l.kind.padEnd(13)} ${op}, ${formatAge(l.ageSeconds)} old${size}${state}: ${l.path}${why}`;
}

/** ListLeftovers of one host (read-only; needs the agent's transfer.leftovers capability). */
export async function fetchLeftovers(session: HostSession, signal: AbortSignal): Promise<LeftoverReport[]> {
  const res = await session.call(session.clients.transfer, session.clients.transfer.listLeftovers, {}, signal);
  return res.leftovers.map(leftoverReport);
}

/** RemoveLeftovers of one host (admin). */
export async function collectLeftovers(
  session: HostSession,
  minAgeSeconds: number,
  dryRun: boolean,
  signal: AbortSignal,
): Promise<{ removed: LeftoverReport[]; kept: LeftoverReport[] }> {
  const res = await session.call(session.clients.transfer, session.clients.transfer.removeLeftovers, { minAgeSeconds, dryRun }, signal);
  return { removed: res.removed.map(leftoverReport), kept: res.kept.map(leftoverReport) };
}
