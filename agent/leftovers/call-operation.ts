/**
 * The operation the current RPC belongs to, for code deep below a handler
 * that creates files (staging files, journals) and records their operation
 * (operation-xattr.ts). The rpc wrappers (agent/rpc/handlers.ts) run each
 * handler inside `withCallOperation`; the id is the request's operation_id
 * or, for requests without that field (WriteRanges), the call's
 * `kvmclone-operation-id` metadata — the same id the audit trail records.
 * Carried in AsyncLocalStorage rather than through every signature between
 * the handler and the file's creation, since it only labels files and never
 * changes what a call does.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Metadata } from '@grpc/grpc-js';
import { OPERATION_ID_METADATA } from '../../shared/operation-metadata.js';

const current = new AsyncLocalStorage<string>();

/** Runs `fn` with `operationId` as the current call's operation (none: runs it as is). */
export function withCallOperation<T>(operationId: string | null, fn: () => T): T {
  return operationId === null ? fn() : current.run(operationId, fn);
}

/** The operation of the call being served, or null outside one. */
export function currentOperationId(): string | null {
  return current.getStore() ?? null;
}

/** The operation id of a call: the request's operation_id, else its metadata; null when neither names one. */
export function operationIdOfCall(request: unknown, metadata: Metadata | undefined): string | null {
  const field = typeof request === 'object' && request !== null ? (request as { operationId?: unknown }).operationId : undefined;
  if (typeof field === 'string' && field !== '' && field.length <= 128) return field;
  const meta = metadata?.get(OPERATION_ID_METADATA)[0];
  return typeof meta === 'string' && meta !== '' && meta.length <= 128 ? meta : null;
}
