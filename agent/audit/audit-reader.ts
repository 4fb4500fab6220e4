/**
 * Reads the audit trail back for ReadAudit: the rotated files (oldest first,
 * skipping those rotated before `since`) and then the live file, line by
 * line, keeping the newest `limit` records that pass every filter. Each line
 * is checked against the record schema; a line that fails (a torn last line
 * after a crash, a foreign edit) is counted, never returned as a record.
 */
import { constants, createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { invalidArgument } from '../../shared/errors.js';
import { checkId, checkVmName } from '../../shared/validation.js';
import { parseRecordLine, type AuditRecord } from './audit-record.js';
import { rotatedAt, rotatedFiles } from './audit-files.js';

/** Records returned when a request sets no limit. */
export const DEFAULT_AUDIT_LIMIT = 1000;
/** Most records one ReadAudit returns. */
export const MAX_AUDIT_LIMIT = 100_000;

/** What to read back. */
export interface AuditQuery {
  /** Calls that ended at or after this time. */
  readonly since?: Date | undefined;
  readonly vm?: string | undefined;
  readonly operationId?: string | undefined;
  /** The newest this many matches. */
  readonly limit: number;
}

/** A ReadAudit request's raw fields. */
export interface RawAuditQuery {
  readonly since: string;
  readonly vm: string;
  readonly operationId: string;
  readonly limit: number;
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;

/** Validates a request's filters: INVALID_ARGUMENT naming the field otherwise. */
export function checkAuditQuery(raw: RawAuditQuery): AuditQuery {
  let since: Date | undefined;
  if (raw.since !== '') {
    since = new Date(raw.since);
    if (!ISO_TIME.test(raw.since) || Number.isNaN(since.getTime())) {
      throw invalidArgument(`since: ${JSON.stringify(raw.since.slice(0, 80))} is not an ISO 8601 time with a zone (e.g. 2026-12-02T09:00:00Z)`);
    }
  }
  if (!Number.isInteger(raw.limit) || raw.limit < 0 || raw.limit > MAX_AUDIT_LIMIT)
    throw invalidArgument(`limit: must be 0 (meaning ${DEFAULT_AUDIT_LIMIT}) to ${MAX_AUDIT_LIMIT}`);
  return {
    since,
    vm: raw.vm === '' ? undefined : checkVmName(raw.vm, 'vm'),
    operationId: raw.operationId === '' ? undefined : checkId(raw.operationId, 'operation_id'),
    limit: raw.limit === 0 ? DEFAULT_AUDIT_LIMIT : raw.limit,
  };
}

/** True when `record` passes every filter of `query`. */
export function matchesQuery(record: AuditRecord, query: AuditQuery): boolean {
  if (query.since !== undefined && Date.parse(record.time) < query.since.getTime()) return false;
  if (query.vm !== undefined && record.vm !== query.vm) return false;
  if (query.operationId !== undefined && record.operationId !== query.operationId) return false;
  return true;
}

/** The matching records of the trail at `file`, oldest first, and how many lines could not be read as records. */
export async function readAudit(file: string, query: AuditQuery, signal?: AbortSignal): Promise<{ records: AuditRecord[]; unreadable: number }> {
  const rotated = (await rotatedFiles(file)).filter((f) => {
    const at = rotatedAt(f);
    return query.since === undefined || at === undefined || at.getTime() >= query.since.getTime();
  });
  // A line can match a vm or operation filter only if it holds the value as JSON writes it: lines without it
  // are passed over before the (much dearer) parse and schema check. Lines of another writer's escaping are ours to miss.
  const needles = [query.vm, query.operationId].filter((v): v is string => v !== undefined).map((v) => JSON.stringify(v));
  const kept: AuditRecord[] = [];
  let unreadable = 0;
  for (const path of [...rotated, file]) {
    signal?.throwIfAborted();
    let fh;
    try {
      fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      // A rotated file pruned meanwhile, or no record written yet.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    const lines = createInterface({ input: createReadStream('', { fd: fh, signal }), crlfDelay: Infinity });
    for await (const line of lines) {
      if (line === '' || !needles.every((n) => line.includes(n))) continue;
      const record = parseRecordLine(line);
      if (record === undefined) {
        unreadable++;
        continue;
      }
      if (!matchesQuery(record, query)) continue;
      kept.push(record);
      // Keep the newest `limit`: trim in blocks so the work stays linear.
      if (kept.length >= query.limit * 2) kept.splice(0, kept.length - query.limit);
    }
  }
  return { records: kept.slice(Math.max(0, kept.length - query.limit)), unreadable };
}
