/**
 * Whether the agent is above its memory soft limit right now, as the memory
 * governor last saw it (memory-governor.ts). Parts that can trade speed for
 * memory read it: the hashing threads run one at a time while it is set
 * (each thread is a V8 isolate of ~10 MiB), so the agent's resident memory
 * under many operations at once stays under the limit instead of growing
 * with every thread it may start.
 */
let tight = false;

/** True while the last look found RSS above the soft limit. */
export function memoryTight(): boolean {
  return tight;
}

/** Set by the governor at each look; tests set it directly. */
export function setMemoryTight(value: boolean): void {
  tight = value;
}
