/**
 * The agent's heap trimmer trims only after RSS grew by the threshold, and
 * measures later growth from where RSS went back to.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TRIM_GROWTH_BYTES, trimIfGrown, type TrimDeps } from '../../agent/memory/heap-trimmer.js';

const MiB = 1024 * 1024;

/** RSS that a trim brings down by `gives` bytes; counts trims. */
function fake(rss: number, gives: number): TrimDeps & { trims: number; set(v: number): void } {
  let now = rss;
  const d = {
    trims: 0,
    rss: () => now,
    trim: () => {
      d.trims += 1;
      now -= gives;
      return true;
    },
    set: (v: number) => {
      now = v;
    },
  };
  return d;
}

test('no trim while RSS stays within the growth threshold', () => {
  const d = fake(100 * MiB + TRIM_GROWTH_BYTES - 1, 10 * MiB);
  assert.equal(trimIfGrown(100 * MiB, d), 100 * MiB);
  assert.equal(d.trims, 0);
});

test('a trim once RSS grew by the threshold; the new baseline is RSS after it', () => {
  const d = fake(100 * MiB + TRIM_GROWTH_BYTES, 20 * MiB);
  assert.equal(trimIfGrown(100 * MiB, d), 100 * MiB + TRIM_GROWTH_BYTES - 20 * MiB);
  assert.equal(d.trims, 1);
});

test('after RSS went down, growth is measured from the lower level', () => {
  const d = fake(60 * MiB, 0);
  const base = trimIfGrown(100 * MiB, d);
  assert.equal(base, 60 * MiB);
  d.set(60 * MiB + TRIM_GROWTH_BYTES);
  trimIfGrown(base, d);
  assert.equal(d.trims, 1, 'growth from 60 MiB trims although RSS is below the old 100 MiB');
});
