/**
 * The fault matrix's only source of randomness. Every choice a trial makes —
 * the moment of its fault, which host an SSH cut or a libvirtd restart hits,
 * an agent's restart delay, which blocks a sync changes — comes from a
 * {@link Rng} seeded by {@link trialSeed}, so one trial can be replayed alone
 * (`--only op:fault:i --seed S`) and make the same choices.
 */
import { createHash } from 'node:crypto';

/** mulberry32: a small, fast 32-bit generator; good enough to spread fault moments, and exactly reproducible. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A float in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }
}

/**
 * The seed of one trial, derived from the run's seed and the trial's name
 * only: a trial's choices do not depend on which other trials ran before it.
 */
export function trialSeed(seed: number, op: string, fault: string, index: number): number {
  return createHash('sha256').update(`${seed}:${op}:${fault}:${index}`).digest().readUInt32LE(0);
}
