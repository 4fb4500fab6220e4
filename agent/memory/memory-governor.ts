/**
 * Keeps the agent's resident memory under a soft limit while many transfers
 * run at once, by collecting dead Buffers before V8 would.
 *
 * Transfer Buffers (grpc-js message frames, protobuf copies) live for a few
 * hundred milliseconds while a stream waits on its socket or disk, long
 * enough to be promoted to V8's old generation; dead there, their memory
 * waits for a mark-compact. V8 starts one on external memory only once it has
 * grown 64 MiB past the level of the last one (Heap's external allocation
 * soft limit; no flag changes it). Measured in the concurrent-load e2e
 * (8 operations): the destination agent held 67 MiB of ArrayBuffers of which
 * 21–25 MiB were live (a heap snapshot's collection left that much), and its
 * peak RSS was 208–238 MiB. A lower `--initial-old-space-size` moves the
 * collections earlier but does not bound them (40: 193 MiB, 32: 215–238).
 *
 * So: above the soft limit, every 16 MiB of ArrayBuffer growth since the last
 * collection triggers a full one, followed by `malloc_trim` so the freed
 * memory leaves the process. Below the limit nothing happens — one transfer
 * alone peaks well below it and pays nothing. A forced collection costs the
 * main thread tens of milliseconds (~100 ms under 8 operations on the
 * two-core testbed), which is why it is only a safety net near the limit.
 * The limit sits above what the agent holds after a collection under load,
 * or it would collect without end: with 4 MiB semi-spaces that was up to
 * 177 MiB, and 176 gave destination peaks of 186–199 MiB in the e2e's eight
 * operations (160 collected all the time: 199–201 and a slower agent). With
 * 1 MiB semi-spaces (node-options.ts) a collection under load leaves
 * 120–157 MiB; `scripts/bench load` (8 clones, same run, session 26): 152
 * MiB doubled the agents' CPU (26.5 / 53.7 s against 12.0 / 31.0) for peaks
 * of 155 / 168; 164 kept the CPU (12.0 / 28.4 s) for peaks of 165 / 171
 * against 174 / 186. 164 it is.
 */
import type { Logger } from 'pino';
import { mallocTrim } from '../native/libc.js';
import { setMemoryTight } from './memory-pressure.js';

/** How often memory is looked at. */
export const GOVERNOR_INTERVAL_MS = 100;
/** ArrayBuffer growth since the last collection that makes the next look collect (above the soft limit). */
export const GOVERNOR_STEP_BYTES = 16 * 1024 * 1024;
/** Default soft limit on the agent's RSS (agent.yaml `memory.soft_limit`). */
export const DEFAULT_SOFT_LIMIT_BYTES = 164 * 1024 * 1024;

/** What one look reads. */
export interface MemoryReading {
  rss: number;
  arrayBuffers: number;
}

/** What the governor uses, replaceable in tests. */
export interface GovernorDeps {
  read(): MemoryReading;
  /** A full garbage collection; undefined where the agent runs without `--expose-gc`. */
  collect: (() => void) | undefined;
  trim(): boolean;
}

/** Counters of what the governor did, for the log at stop. */
export interface GovernorStats {
  collections: number;
  collectMs: number;
}

/**
 * One look: returns the new ArrayBuffer baseline and whether to collect now.
 * The baseline follows ArrayBuffer memory down (so growth is measured from
 * the lowest level since the last collection).
 */
export function shouldCollect(baseline: number, reading: MemoryReading, softLimit: number): { collect: boolean; baseline: number } {
  if (reading.rss > softLimit && reading.arrayBuffers >= baseline + GOVERNOR_STEP_BYTES) return { collect: true, baseline };
  return { collect: false, baseline: Math.min(baseline, reading.arrayBuffers) };
}

function systemDeps(): GovernorDeps {
  const gc = (globalThis as { gc?: () => void }).gc;
  return {
    read: () => {
      const m = process.memoryUsage();
      return { rss: m.rss, arrayBuffers: m.arrayBuffers };
    },
    collect: typeof gc === 'function' ? () => gc() : undefined,
    trim: mallocTrim,
  };
}

/**
 * Starts looking every GOVERNOR_INTERVAL_MS (an unreferenced timer); returns
 * the stop, which gives the counters. `softLimit` 0 turns it off. Without
 * a `gc` function (node started without `--expose-gc`) it warns once and
 * does nothing.
 */
export function startMemoryGovernor(log: Logger, softLimit: number, deps: GovernorDeps = systemDeps()): () => GovernorStats {
  const stats: GovernorStats = { collections: 0, collectMs: 0 };
  if (softLimit === 0) return () => stats;
  const collect = deps.collect;
  if (collect === undefined) {
    log.warn('node was started without --expose-gc: memory is not held under memory.soft_limit when many transfers run');
    return () => stats;
  }
  let baseline = deps.read().arrayBuffers;
  const timer = setInterval(() => {
    const reading = deps.read();
    setMemoryTight(reading.rss > softLimit);
    const look = shouldCollect(baseline, reading, softLimit);
    baseline = look.baseline;
    if (!look.collect) return;
    const started = performance.now();
    collect();
    deps.trim();
    stats.collections += 1;
    stats.collectMs += performance.now() - started;
    baseline = deps.read().arrayBuffers;
  }, GOVERNOR_INTERVAL_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    return stats;
  };
}
