/**
 * Records one mutating call around its handler: admitted only while the
 * trail can be written, described by its request (or first message), and
 * recorded once, when it ends, with its status — written and fsynced before
 * the answer goes out, and logged through pino as well. The rpc wrappers
 * (agent/rpc/handlers.ts) call this for every call; read-only methods
 * (agent/rpc/method-roles.ts) are not recorded.
 */
import type { Metadata } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { callerOf } from '../server/caller.js';
import { isMutating } from '../rpc/method-roles.js';
import type { AuditLog } from './audit-log.js';
import { AUDIT_RECORD_VERSION, outcomeOf, statusName, type AuditRecord } from './audit-record.js';
import { auditSubjects } from './audit-subjects.js';

/** The parts of a grpc-js server call a record is built from. */
export interface AuditableCall {
  getPath(): string;
  getPeer(): string;
  readonly metadata: Metadata;
  /** Unary and server-streaming calls; a client stream's first message is given to `observe`. */
  readonly request?: unknown;
}

/** How a call ended, as sent to the caller: null for OK. */
export interface EndStatus {
  readonly code: number;
  readonly details?: string;
}

/** One call being audited. */
export interface AuditedCall {
  /** Resolves when the call may run; rejects (UNAVAILABLE) while the trail cannot be written. */
  admit(): Promise<void>;
  /** Sees each message of a client stream; the first one describes the call. */
  observe(message: unknown): void;
  /** Writes the record (and logs it). Resolves once it is on disk, or once its failure is logged; never rejects. */
  finish(status: EndStatus | null, response?: unknown): Promise<void>;
}

/** Builds the record of a call that ended with `status` (null = OK) after `startedAt`. */
export function buildAuditRecord(call: AuditableCall, request: unknown, status: EndStatus | null, response: unknown, startedAt: number, now = Date.now()): AuditRecord {
  const method = call.getPath();
  const code = status?.code ?? 0;
  return {
    v: AUDIT_RECORD_VERSION,
    time: new Date(now).toISOString(),
    method,
    caller: callerOf(call.getPeer()) ?? null,
    ...auditSubjects(method, request, status === null ? response : undefined, call.metadata),
    outcome: outcomeOf(code),
    code: statusName(code),
    message: code === 0 ? null : (status?.details ?? ''),
    durationMs: Math.max(0, now - startedAt),
  };
}

/** The audit of `call`, or undefined when it is read-only or the agent keeps no trail (tests). */
export function auditCall(trail: AuditLog | undefined, call: AuditableCall, log: Logger): AuditedCall | undefined {
  if (trail === undefined || !isMutating(call.getPath())) return undefined;
  const startedAt = Date.now();
  let request: unknown = call.request;
  let seen = false;
  let admitted = false;
  return {
    async admit() {
      await trail.admit();
      admitted = true;
    },
    observe(message) {
      if (seen) return;
      seen = true;
      request = message;
    },
    async finish(status, response) {
      const record = buildAuditRecord(call, request, status, response, startedAt);
      log.info({ audit: record }, 'audit');
      // A call refused because the trail is broken changed nothing: it is logged, not queued behind the failure.
      if (!admitted) return;
      try {
        await trail.append(record);
      } catch (err) {
        log.error({ err, audit: record }, 'audit record not written yet: kept in memory and written first once the file can be; calls that change anything are refused until then');
      }
    },
  };
}

/**
 * Records a call refused before any handler ran (the peer socket's ticket
 * check, its read-only refusals): written like any other record when the
 * trail can be written, else logged. Read-only methods leave nothing.
 */
export async function recordRefusal(trail: AuditLog | undefined, call: AuditableCall, status: EndStatus, log: Logger): Promise<void> {
  const audit = auditCall(trail, call, log);
  if (audit === undefined) return;
  // A broken trail: the refusal changed nothing, so it is logged without waiting for the file.
  await audit.admit().catch(() => undefined);
  await audit.finish(status);
}
