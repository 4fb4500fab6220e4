/**
 * The memory governor collects only above the soft limit and only after
 * ArrayBuffer memory grew a step since the last collection; it follows the
 * baseline down, and does nothing when turned off or without a gc function.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { GOVERNOR_INTERVAL_MS, GOVERNOR_STEP_BYTES, shouldCollect, startMemoryGovernor, type GovernorDeps, type MemoryReading } from '../../agent/memory/memory-governor.js';

const MiB = 1024 * 1024;
const LIMIT = 176 * MiB;

test('below the soft limit nothing is collected, however much ArrayBuffers grew', () => {
  assert.deepEqual(shouldCollect(10 * MiB, { rss: LIMIT, arrayBuffers: 90 * MiB }, LIMIT), { collect: false, baseline: 10 * MiB });
});

test('above the limit, a collection once ArrayBuffers grew one step since the baseline, not before', () => {
  assert.equal(shouldCollect(10 * MiB, { rss: LIMIT + 1, arrayBuffers: 10 * MiB + GOVERNOR_STEP_BYTES - 1 }, LIMIT).collect, false);
  assert.equal(shouldCollect(10 * MiB, { rss: LIMIT + 1, arrayBuffers: 10 * MiB + GOVERNOR_STEP_BYTES }, LIMIT).collect, true);
});

test('the baseline follows ArrayBuffer memory down', () => {
  assert.deepEqual(shouldCollect(40 * MiB, { rss: LIMIT + 1, arrayBuffers: 25 * MiB }, LIMIT), { collect: false, baseline: 25 * MiB });
});

/** Memory that a collection brings down to `live`; counts collections and trims. */
function fakeMemory(reading: MemoryReading, live: number): GovernorDeps & { collections: number; trims: number; now: MemoryReading } {
  const d = {
    collections: 0,
    trims: 0,
    now: { ...reading },
    read: () => ({ ...d.now }),
    collect: () => {
      d.collections += 1;
      d.now = { rss: d.now.rss - (d.now.arrayBuffers - live), arrayBuffers: live };
    },
    trim: () => {
      d.trims += 1;
      return true;
    },
  };
  return d;
}

const quiet = pino({ level: 'silent' });

test('started: collects and trims when over the limit, stops with its counters', async () => {
  const d = fakeMemory({ rss: 150 * MiB, arrayBuffers: 20 * MiB }, 20 * MiB);
  const stop = startMemoryGovernor(quiet, LIMIT, d);
  d.now = { rss: 200 * MiB, arrayBuffers: 60 * MiB };
  await new Promise((r) => setTimeout(r, GOVERNOR_INTERVAL_MS * 3));
  const stats = stop();
  assert.equal(d.collections, 1, 'one collection brought it below the limit');
  assert.equal(d.trims, 1);
  assert.equal(stats.collections, 1);
  assert.deepEqual(d.now, { rss: 160 * MiB, arrayBuffers: 20 * MiB });
});

test('off (limit 0) or without a gc function it never collects', async () => {
  const off = fakeMemory({ rss: 300 * MiB, arrayBuffers: 100 * MiB }, 10 * MiB);
  const stopOff = startMemoryGovernor(quiet, 0, off);
  const noGc = { ...fakeMemory({ rss: 300 * MiB, arrayBuffers: 100 * MiB }, 10 * MiB), collect: undefined };
  const stopNoGc = startMemoryGovernor(quiet, LIMIT, noGc);
  await new Promise((r) => setTimeout(r, GOVERNOR_INTERVAL_MS * 3));
  assert.equal(stopOff().collections, 0);
  assert.equal(stopNoGc().collections, 0);
  assert.equal(off.collections, 0);
});
