/**
 * The agent's pool of hashing threads (hash-worker.ts): started on first
 * use, kept while idle (unreferenced, so they never hold the agent up at
 * exit), one job each at a time, and never more than MAX_THREADS of them.
 * Each thread is a V8 isolate of its own (about 10 MiB resident): with one
 * per call, eight concurrent syncs of two-disk VMs took the destination
 * agent past 240 MiB RSS on the testbed. Hashing is CPU-bound, so threads
 * beyond the cores do not hash faster; calls waiting for a thread are served
 * in turn. Above the agent's memory soft limit (memory-pressure.ts) the pool
 * shrinks to one thread — a thread beyond it ends when its job does, and one
 * idle for TIGHT_IDLE_MS ends too — and grows again below it.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { memoryTight, whileMemoryTight } from '../memory/memory-pressure.js';

/** Idle threads kept for the next job; more are ended when their job is done. */
const KEEP_IDLE = 2;
/** Threads hashing at once, whatever the number of calls: the cores, from 2 to 4. */
export const MAX_THREADS = Math.max(2, Math.min(4, availableParallelism()));
/**
 * Above the memory soft limit, an idle thread is ended once it has been idle
 * this long: its ~10 MiB go back, and starting one again costs ~70 ms. A sync's
 * threads otherwise sit idle through its whole transfer, between the
 * hashing of the plan and that of the apply (scripts/bench scale: the
 * destination's peak came in that transfer).
 */
export const TIGHT_IDLE_MS = 1_000;

const idle: Worker[] = [];
/** When each idle thread became idle (Date.now()). */
const idleSince = new Map<Worker, number>();
/** Every thread started and not yet exited (busy, idle, or ending). */
const live = new Set<Worker>();
/** Threads told to end that have not exited yet. */
const ending = new Set<Worker>();
/** Calls waiting for a thread, first come first served. */
const waiting: ((worker: Worker) => void)[] = [];

/** Threads that may run now: MAX_THREADS, or one while the agent is above its memory soft limit. */
function allowedThreads(): number {
  return memoryTight() ? 1 : MAX_THREADS;
}

function end(worker: Worker): void {
  ending.add(worker);
  void worker.terminate();
}

function spawn(): Worker {
  const worker = new Worker(new URL('./hash-worker.js', import.meta.url));
  live.add(worker);
  // A thread that exits (ended, or died: a busy one's job sees the error itself) leaves room for the calls waiting.
  const forget = (): void => {
    const at = idle.indexOf(worker);
    if (at >= 0) idle.splice(at, 1);
    idleSince.delete(worker);
    ending.delete(worker);
    if (live.delete(worker)) dispatch();
  };
  worker.on('error', forget).on('exit', forget);
  return worker;
}

/**
 * Hands threads to the calls waiting, as far as the limit allows: an idle
 * thread first, else a new one. Then ends idle threads beyond what is kept:
 * KEEP_IDLE, or — above the memory soft limit — only as many as may run.
 */
function dispatch(): void {
  const allowed = allowedThreads();
  while (waiting.length > 0) {
    const running = live.size - ending.size;
    if (running - idle.length >= allowed) break;
    const worker = idle.pop() ?? (running < allowed ? spawn() : undefined);
    if (worker === undefined) break;
    idleSince.delete(worker);
    (waiting.shift() as (w: Worker) => void)(worker);
  }
  const keep = memoryTight() ? Math.max(0, allowed - (live.size - ending.size - idle.length)) : KEEP_IDLE;
  for (const extra of idle.splice(keep)) end(extra);
}

/** Ends the threads idle for TIGHT_IDLE_MS or longer (run while the agent is above its memory soft limit). */
function endLongIdle(): void {
  const now = Date.now();
  for (const worker of idle.filter((w) => now - (idleSince.get(w) ?? now) >= TIGHT_IDLE_MS)) {
    idle.splice(idle.indexOf(worker), 1);
    end(worker);
  }
}
whileMemoryTight(endLongIdle);

/** Hashing threads alive now (busy or idle): never more than MAX_THREADS. */
export function hashingThreads(): number {
  return live.size;
}

/** A thread for one job: an idle one, a new one while fewer than the limit run, else the next one let go. */
export function acquire(signal: AbortSignal): Promise<Worker> {
  return new Promise<Worker>((resolve, reject) => {
    const take = (worker: Worker): void => {
      signal.removeEventListener('abort', onAbort);
      resolve(worker);
    };
    const onAbort = (): void => {
      const at = waiting.indexOf(take);
      if (at >= 0) waiting.splice(at, 1);
      reject(signal.reason);
    };
    if (signal.aborted) return reject(signal.reason);
    waiting.push(take);
    signal.addEventListener('abort', onAbort, { once: true });
    dispatch();
  });
}

/** Gives a thread back after its job: to the next call waiting, else idle (or ended). A crashed one is ended. */
export function release(worker: Worker, crashed: boolean): void {
  // Above the memory soft limit the pool shrinks to what may run: a thread beyond it ends instead of going back.
  if (crashed || live.size - ending.size > allowedThreads()) end(worker);
  else {
    worker.unref();
    idle.push(worker);
    idleSince.set(worker, Date.now());
  }
  dispatch();
}
