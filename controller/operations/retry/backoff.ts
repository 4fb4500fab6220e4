/**
 * When to try again: exponential backoff with "equal jitter" — attempt n
 * waits between half and all of min(max, base·2^(n-1)). The floor keeps the
 * schedule long enough to ride out an outage of known length (the defaults
 * wait at least 35 s in all before the last of 6 attempts); the random half
 * keeps several kvmctl runs that lost the same host from reconnecting in
 * lockstep.
 */

/** The `retry:` section of kvmctl.yaml, compiled. */
export interface RetryPolicy {
  /** Reconnects in a row (without progress in between) before the run gives up. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** A source of uniform numbers in [0, 1): Math.random in kvmctl, a seeded generator in tests. */
export type Random = () => number;

/** The wait before attempt `attempt` (1-based), in milliseconds. */
export function backoffDelayMs(attempt: number, policy: RetryPolicy, random: Random = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** The least total wait before the last attempt: what the policy is sure to ride out. */
export function guaranteedWaitMs(policy: RetryPolicy): number {
  let total = 0;
  for (let n = 1; n <= policy.attempts; n += 1) total += backoffDelayMs(n, policy, () => 0);
  return total;
}
