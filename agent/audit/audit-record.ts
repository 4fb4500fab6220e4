/**
 * One audit record: what a mutating call asked for, who asked, and how it
 * ended. The shape is versioned (`v`) and checked by a zod schema on the way
 * back in (ReadAudit), so a reader never trusts a line just because it sits
 * in the file: a line that does not parse as a known version is reported as
 * unreadable, never guessed at.
 */
import { status as GrpcStatus } from '@grpc/grpc-js';
import { z } from 'zod';

/** The version written by this build. A new field that old readers may ignore keeps it; a changed meaning bumps it. */
export const AUDIT_RECORD_VERSION = 1;

/** How a call ended: `ok`, refused or failed (`error`), or abandoned by its caller or the agent's shutdown (`cancelled`). */
export const AUDIT_OUTCOMES = ['ok', 'error', 'cancelled'] as const;

/** One of AUDIT_OUTCOMES. */
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

const callerSchema = z.strictObject({
  uid: z.number().int().nonnegative(),
  gid: z.number().int().nonnegative(),
  pid: z.number().int(),
  role: z.enum(['admin', 'read-only']),
});

/** Schema of a version-1 record (one JSON line of the audit file). */
export const auditRecordSchema = z.strictObject({
  v: z.literal(AUDIT_RECORD_VERSION),
  /** When the call ended (ISO 8601, UTC, milliseconds). */
  time: z.iso.datetime({ offset: false, precision: 3 }),
  /** Full gRPC method path, e.g. "/kvmclone.agent.v1.DiskService/RemoveImage". */
  method: z.string().min(1),
  /** Kernel-reported peer (SO_PEERCRED) of the connection; null when the agent did not accept the connection itself. */
  caller: callerSchema.nullable(),
  /** The operation the call said it belongs to (request field or `kvmclone-operation-id` metadata); null when none. */
  operationId: z.string().nullable(),
  /** The VM the call is about; null when none (disk calls) or not readable from a refused request. */
  vm: z.string().nullable(),
  /** Files the call named or touched (requested paths first, then paths from the answer), each once. */
  paths: z.array(z.string()),
  outcome: z.enum(AUDIT_OUTCOMES),
  /** gRPC status name ("OK", "INVALID_ARGUMENT", ...). */
  code: z.string().regex(/^[A-Z_]+$/),
  /** The status message the caller was sent; null on OK. */
  message: z.string().nullable(),
  durationMs: z.number().nonnegative(),
});

/** A version-1 audit record. */
export type AuditRecord = z.infer<typeof auditRecordSchema>;

/** The status name of a grpc-js numeric code ("OK", "NOT_FOUND", ...). */
export function statusName(code: number): string {
  const name = (GrpcStatus as unknown as Record<number, string | undefined>)[code];
  return typeof name === 'string' ? name : 'UNKNOWN';
}

/** The outcome a status code stands for. */
export function outcomeOf(code: number): AuditOutcome {
  const status: GrpcStatus = code;
  if (status === GrpcStatus.OK) return 'ok';
  return status === GrpcStatus.CANCELLED ? 'cancelled' : 'error';
}

/** Serializes a record as exactly one line (JSON escapes every newline inside strings). */
export function recordLine(record: AuditRecord): string {
  return `${JSON.stringify(record)}\n`;
}

/** Parses one line of an audit file; undefined for a line that is not a valid record of a known version. */
export function parseRecordLine(line: string): AuditRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  const parsed = auditRecordSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}
