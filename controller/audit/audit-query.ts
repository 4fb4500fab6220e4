/**
 * Reading an agent's audit trail from kvmctl: the `--since` argument (a
 * duration back from now, or a time), and ReadAudit over a host session as
 * a list of entries, cancelled with the signal.
 */
import { durationMs } from '../../shared/config/config-file.js';
import { invalidArgument } from '../../shared/errors.js';
import { fromStatus } from '../../shared/from-status.js';
import type { AuditEntry__Output } from '../../shared/generated/kvmclone/agent/v1/AuditEntry.js';
import type { ReadAuditRequest } from '../../shared/generated/kvmclone/agent/v1/ReadAuditRequest.js';
import type { HostSession } from '../transport/host-session.js';

/** Filters of `kvmctl audit`, as the agent takes them. */
export interface AuditFilters {
  /** ISO time, or "" for no bound. */
  since: string;
  vm: string;
  operationId: string;
  limit: number;
}

const DAY_MS = 86_400_000;

/**
 * `--since`: a duration back from `now` ("90s", "30m", "12h", "7d") or a time
 * ("2026-12-02T09:00:00Z"; a date or a time without a zone is local time).
 * Returns an ISO time in UTC; INVALID_ARGUMENT (exit 2) otherwise.
 */
export function parseSince(text: string, now: Date = new Date()): string {
  const trimmed = text.trim();
  const days = /^(\d+(?:\.\d+)?)\s*d$/.exec(trimmed);
  const ms = days ? Math.round(Number(days[1]) * DAY_MS) : /^\d/.test(trimmed) && !/^\d{4}-/.test(trimmed) ? durationMs(trimmed) : undefined;
  if (ms !== undefined) return new Date(now.getTime() - ms).toISOString();
  if (/^\d{4}-\d{2}-\d{2}$/.test(trimmed)) return checkedTime(new Date(`${trimmed}T00:00`), text);
  if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(trimmed)) return checkedTime(new Date(trimmed.replace(' ', 'T')), text);
  throw invalidArgument(`--since: ${JSON.stringify(text)} is neither a duration (90s, 30m, 12h, 7d) nor a time (2026-12-02T09:00:00Z, 2026-12-02)`);
}

function checkedTime(at: Date, text: string): string {
  if (Number.isNaN(at.getTime())) throw invalidArgument(`--since: ${JSON.stringify(text)} is not a valid time`);
  return at.toISOString();
}

/** The matching records of `session`'s agent, oldest first. */
export async function fetchAudit(session: HostSession, filters: AuditFilters, signal: AbortSignal): Promise<AuditEntry__Output[]> {
  const request: ReadAuditRequest = { since: filters.since, vm: filters.vm, operationId: filters.operationId, limit: filters.limit };
  const call = session.clients.info.readAudit(request);
  const onAbort = (): void => call.cancel();
  signal.addEventListener('abort', onAbort, { once: true });
  const entries: AuditEntry__Output[] = [];
  try {
    for await (const entry of call as AsyncIterable<AuditEntry__Output>) entries.push(entry);
    return entries;
  } catch (err) {
    throw fromStatus(err, session.host);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
