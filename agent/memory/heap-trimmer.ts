/**
 * Hands memory glibc keeps after `free` back to the kernel while the agent works.
 *
 * Transfers allocate and free megabyte buffers (grpc-js frames every message
 * into a new one) on several threads. glibc serves them from its heaps once
 * its dynamic mmap threshold has grown past a megabyte, and memory freed
 * between live smaller blocks stays in the process: measured, 64 MiB of
 * frames freed between live 256 KiB buffers left RSS unchanged;
 * `malloc_trim(0)` gave it back in 24 ms (1.3 ms when there is nothing to
 * give). Fixing the mmap threshold instead (one mapping per buffer) bounds
 * RSS too but cost the sending agent 4x its CPU under 8 concurrent clones
 * (scripts/bench load: 52-56 CPU-s against 13), the page faults and unmaps
 * of every frame. So: a trim every few seconds, only after RSS has grown.
 */
import type { Logger } from 'pino';
import { mallocTrim } from '../native/libc.js';

/** How often RSS is looked at. */
export const TRIM_INTERVAL_MS = 2_000;
/** Growth of RSS since the last trim (or start) that makes the next look trim. */
export const TRIM_GROWTH_BYTES = 8 * 1024 * 1024;

/** What the trimmer uses, replaceable in tests. */
export interface TrimDeps {
  rss(): number;
  trim(): boolean;
}

const SYSTEM: TrimDeps = { rss: () => process.memoryUsage.rss(), trim: mallocTrim };

/**
 * One look: trims when RSS grew by TRIM_GROWTH_BYTES over `baseline`;
 * returns the new baseline — RSS after the trim, or the lower of `baseline`
 * and RSS now (so growth after memory went back is seen from where it went).
 */
export function trimIfGrown(baseline: number, deps: TrimDeps = SYSTEM): number {
  const now = deps.rss();
  if (now < baseline + TRIM_GROWTH_BYTES) return Math.min(baseline, now);
  deps.trim();
  return deps.rss();
}

/**
 * Starts looking every TRIM_INTERVAL_MS (an unreferenced timer: it never
 * holds the agent up); returns the stop. Where glibc's malloc_trim is not
 * there (another libc) it logs that once and does nothing.
 */
export function startHeapTrimmer(log: Logger, deps: TrimDeps = SYSTEM): () => void {
  if (!deps.trim()) {
    log.debug('malloc_trim is not available: memory freed by transfers may stay with the process');
    return () => undefined;
  }
  let baseline = deps.rss();
  const timer = setInterval(() => {
    baseline = trimIfGrown(baseline, deps);
  }, TRIM_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
