/**
 * How a failback finds what to send: the copy's dirty bitmap, or hashes of
 * both sides. The bitmap only sees what the copy wrote since its checkpoint,
 * so it is sound only when the original is still exactly what the copy was
 * at that checkpoint:
 * - the failover made the checkpoint at the copy's first instant, after a
 *   final sync made the copy equal to a cleanly shut-off original
 *   (failover-checkpoint.ts) — a crashed or unreachable original may hold
 *   writes the copy never saw, and a copy brought to an older point is not
 *   the original;
 * - the copy runs (a shut-off copy is synced offline, by hashes);
 * - the reverse pair (copy -> original) still has a confirmed checkpoint in
 *   the live-replica store (each bitmap failback confirms the next one);
 * - every image of the original has the identity recorded with that
 *   checkpoint (a start, a write, a replaced file change it).
 * Otherwise hashes, with the reason in one line.
 */
import type { ImageIdentity, LiveReplicaState } from '../history/live-replica-store.js';
import { sameIdentities } from '../operations/live/live-confirm.js';
import type { FailoverRecord } from './failover-store.js';

/** What decides the delta. */
export interface FailbackDeltaInput {
  failover: FailoverRecord | undefined;
  /** The copy is running (or paused): a live sync; otherwise an offline one. */
  copyRuns: boolean;
  /** The live-replica state of the reverse pair (copy on its host -> original on its host). */
  reverse: LiveReplicaState | undefined;
  /** The identities of the original's images now; undefined when not read (the copy is shut off). */
  originalNow: readonly ImageIdentity[] | undefined;
}

/** The decision: the delta and why. */
export interface FailbackDelta {
  delta: 'bitmap' | 'hash';
  /** One line: why the bitmap can be used, or why it cannot. */
  why: string;
}

/** Decides between the copy's dirty bitmap and hashes for the sync back. */
export function decideFailbackDelta(input: FailbackDeltaInput): FailbackDelta {
  const { failover, copyRuns, reverse, originalNow } = input;
  const hash = (why: string): FailbackDelta => ({ delta: 'hash', why });
  if (failover === undefined) return hash('how the failover left the original is not recorded');
  if (failover.source === 'crashed') return hash(`the original had crashed at the failover (${failover.at}): it may hold writes the copy never saw`);
  if (failover.source === 'unreachable') return hash(`the original's host could not be reached at the failover (${failover.at}): it may hold writes the copy never saw`);
  if (failover.checkpoint === null) return hash(failover.noCheckpoint !== '' ? failover.noCheckpoint : 'the failover made no checkpoint of the copy');
  if (!copyRuns) return hash('the copy is shut off: the sync back is offline and compares the image files');
  if (reverse === undefined || reverse.checkpoint === '')
    return hash(`no checkpoint of the copy is confirmed any more (the failover made ${failover.checkpoint}; a sync back since did not keep one)`);
  if (originalNow === undefined) return hash("the original's images were not checked");
  const same = sameIdentities(reverse.images, originalNow);
  if (!same.same) return hash(`the original changed since the failover: ${same.why.replace('on the destination ', '')}`);
  return { delta: 'bitmap', why: `the copy's dirty bitmap since checkpoint ${reverse.checkpoint}: the original is unchanged since the copy was equal to it` };
}
