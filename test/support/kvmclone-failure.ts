/**
 * `failure(promise)`: the KvmcloneError a call must fail with, for the tests
 * that then look at its code and message (the fake and the real libvirt alike).
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
