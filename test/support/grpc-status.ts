/** Test helpers for gRPC status codes. */
import { status } from '@grpc/grpc-js';
import assert from 'node:assert/strict';

/** Name of a grpc-js status number (e.g. 7 → "PERMISSION_DENIED"). */
export function statusName(code: number): string {
  return status[code] ?? `code ${code}`;
}

/** Asserts that `promise` rejects with the gRPC status `name`; returns the error's details. */
export async function rejectsWithStatus(promise: Promise<unknown>, name: keyof typeof status): Promise<string> {
  try {
    await promise;
  } catch (err) {
    const e = err as { code?: number; details?: string; message?: string };
    assert.equal(statusName(e.code ?? -1), name, `expected ${name}, got ${statusName(e.code ?? -1)}: ${e.details ?? e.message}`);
    return e.details ?? '';
  }
  assert.fail(`expected ${name}, but the call succeeded`);
}
