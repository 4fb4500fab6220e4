/**
 * Runs a phase of an operation (TRANSFER, a sync's hashing) so that a
 * transient failure costs a reconnect instead of the run: wait (backoff with
 * jitter), reconnect what broke, and call the phase again — which resumes
 * from what it already has (staging files, verified files, hashes). A
 * permanent failure, the user's interrupt, or more than `attempts` failures
 * in a row without progress in between end the phase with the last error.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { KvmcloneError } from '../../../shared/errors.js';
import type { RetryNotice } from '../../cli/retry-notice.js';
import { backoffDelayMs, type Random, type RetryPolicy } from './backoff.js';
import { classifyFailure, type FailureContext } from './failure-class.js';

/** What a reconnecting phase needs. */
export interface ReconnectOptions {
  /** The phase's name, for the notices. */
  phase: string;
  policy: RetryPolicy;
  context: FailureContext;
  /** Re-establishes what the failure may have broken (SSH connections, agent clients, locks). */
  reconnect: (signal: AbortSignal) => Promise<void>;
  /** Told before each wait. */
  notify: (notice: RetryNotice) => void;
  /** Whether the phase moved forward since the last call (bytes or hashes arrived): the count of failures in a row then starts again. */
  progressed: () => boolean;
  signal: AbortSignal;
  random?: Random;
  /** Waits `ms` (tests pass a fake clock). */
  wait?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** The error a run gives up with: the last failure, saying how many reconnects were tried. */
function gaveUp(err: unknown, attempts: number): unknown {
  if (!(err instanceof KvmcloneError)) return err;
  return new KvmcloneError(err.code, `${err.message} (gave up after ${attempts} reconnect attempt${attempts === 1 ? '' : 's'})`, { cause: err });
}

/**
 * Calls `work(attempt)` (attempt 0 first) until it succeeds, reconnecting
 * between calls after transient failures.
 */
export async function withReconnect<T>(work: (attempt: number) => Promise<T>, options: ReconnectOptions): Promise<T> {
  const { policy, signal } = options;
  const wait = options.wait ?? ((ms: number, s: AbortSignal) => sleep(ms, undefined, { signal: s }));
  let failures = 0;
  let attempt = 0;
  /** Throws unless `err` is worth another attempt; then waits for it. */
  const afterFailure = async (err: unknown): Promise<void> => {
    signal.throwIfAborted();
    const c = classifyFailure(err, options.context);
    if (!c.transient) throw err;
    if (options.progressed()) failures = 0;
    failures += 1;
    if (failures > policy.attempts) throw gaveUp(err, policy.attempts);
    const delayMs = backoffDelayMs(failures, policy, options.random);
    options.notify({ phase: options.phase, host: c.host, attempt: failures, attempts: policy.attempts, delayMs, reason: c.reason });
    await wait(delayMs, signal);
  };
  for (;;) {
    try {
      return await work(attempt);
    } catch (err) {
      await afterFailure(err);
    }
    attempt += 1;
    for (;;) {
      try {
        await options.reconnect(signal);
        break;
      } catch (err) {
        await afterFailure(err);
      }
    }
  }
}
