/**
 * Whether the agent is above its memory soft limit right now, as the memory
 * governor last saw it (memory-governor.ts). Parts that can trade speed for
 * memory read it: the hashing threads run one at a time while it is set
 * (each thread is a V8 isolate of ~10 MiB), so the agent's resident memory
 * under many operations at once stays under the limit instead of growing
 * with every thread it may start.
 */
let tight = false;
const whileTightListeners: (() => void)[] = [];

/** True while the last look found RSS above the soft limit. */
export function memoryTight(): boolean {
  return tight;
}

/**
 * Set by the governor at each look (every ~100 ms); tests set it directly.
 * A look that finds the agent above its soft limit also runs the listeners
 * given to whileMemoryTight.
 */
export function setMemoryTight(value: boolean): void {
  tight = value;
  if (value) for (const listener of whileTightListeners) listener();
}

/**
 * Runs `listener` at every look that finds the agent above its soft limit:
 * for memory that is kept only to save time later (idle hashing threads),
 * given back while the agent is short of it.
 */
export function whileMemoryTight(listener: () => void): void {
  whileTightListeners.push(listener);
}
