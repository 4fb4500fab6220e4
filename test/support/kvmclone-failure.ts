/**
 * `failure(promise)`: the KvmcloneError a call must fail with, for the tests
 * that then look at its code and message (the fake and the real libvirt alike);
 * `throwsInvalidArgument(fn, pattern)`: the same check, at once, for a parser
 * or builder that must refuse its input.
 */
import assert from 'node:assert/strict';
import { KvmcloneError } from '../../shared/errors.js';

/** Awaits `promise`, which must reject with a KvmcloneError; resolves with it. */
export async function failure(promise: Promise<unknown>): Promise<KvmcloneError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof KvmcloneError, `not a KvmcloneError: ${String(err)}`);
    return err;
  }
  assert.fail('it succeeded');
}

/** Runs `fn`, which must throw a KvmcloneError INVALID_ARGUMENT whose message matches `pattern`. */
export function throwsInvalidArgument(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof KvmcloneError, `not a KvmcloneError: ${String(err)}`);
    assert.equal(err.code, 'INVALID_ARGUMENT');
    assert.match(err.message, pattern);
    return true;
  });
}
