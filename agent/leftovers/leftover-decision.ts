/**
 * The decision table of `kvmctl gc`: whether one leftover may be removed.
 * Pure, so every row is a unit test. In order:
 *
 * | leftover                                   | decision                                           |
 * |--------------------------------------------|----------------------------------------------------|
 * | a lock                                     | keep: it ends with its HoldLock call               |
 * | its operation runs here, or it is in use   | keep: never anything of a running operation        |
 * | a committed journal                        | keep: rolled forward at the next sync or agent start |
 * | younger than the age limit                 | keep                                               |
 * | anything else                              | remove                                             |
 */
import type { LeftoverKind } from './leftover-names.js';

/** What the decision looks at. */
export interface LeftoverFacts {
  readonly kind: LeftoverKind;
  readonly operationId: string;
  readonly ageSeconds: number;
  /** Its operation runs on this agent, or the file is in use (locked, listened on, an open view's). */
  readonly running: boolean;
  /** Journals: committed (complete), waiting to be applied. */
  readonly committed: boolean;
}

/** Remove, or keep with the reason (shown to the operator as is). */
export type LeftoverDecision = { readonly remove: true } | { readonly remove: false; readonly reason: string };

/** The reason printed for a committed journal, also in the README. */
export const COMMITTED_JOURNAL_REASON = 'a committed sync journal: it will be applied at the next sync or agent start, never deleted';

/** Decides for one leftover, given the minimum age asked for (0: any age). */
export function decideLeftover(facts: LeftoverFacts, minAgeSeconds: number): LeftoverDecision {
  if (facts.kind === 'lock') return { remove: false, reason: 'a lock held by an open HoldLock call: it is released when that call (its controller) ends' };
  if (facts.running) {
    const who =
      facts.operationId === ''
        ? 'it is in use by a running operation'
        : `operation ${facts.operationId} is still running (a call of it is open on this agent, or its file is in use)`;
    return { remove: false, reason: who };
  }
  if (facts.kind === 'journal' && facts.committed) return { remove: false, reason: COMMITTED_JOURNAL_REASON };
  if (facts.ageSeconds < minAgeSeconds)
    return { remove: false, reason: `younger than the age limit (${Math.floor(facts.ageSeconds)} s old, limit ${Math.floor(minAgeSeconds)} s)` };
  return { remove: true };
}
