/**
 * The agent's hashing threads (hash-worker.ts): started on first use, kept
 * while idle (unreferenced, so they never hold the agent up at exit), one job
 * each at a time. A sync hashes one image per side and a clone a few at once,
 * so a handful of threads is all that is ever busy.
 */
import { Worker } from 'node:worker_threads';
import { KvmcloneError, type ErrorCode, ERROR_CODES } from '../../shared/errors.js';
import type { HashBatch } from './block-hasher.js';
import { fileExtents } from './extent-map.js';
import type { HashJob, HashJobFailure, HashJobMessage } from './hash-job.js';

/** Idle threads kept for the next job; more are ended when their job is done. */
const KEEP_IDLE = 2;

const idle: Worker[] = [];

function spawn(): Worker {
  const worker = new Worker(new URL('./hash-worker.js', import.meta.url));
  // An idle thread that dies is simply forgotten (a busy one's job sees the error itself).
  const forget = (): void => {
    const at = idle.indexOf(worker);
    if (at >= 0) idle.splice(at, 1);
  };
  worker.on('error', forget).on('exit', forget);
  return worker;
}

/** The error a job's failure stands for, rebuilt on this side of the thread boundary. */
function rebuild(failure: HashJobFailure): Error {
  if (failure.kvmclone && (ERROR_CODES as readonly string[]).includes(failure.code ?? '')) return new KvmcloneError(failure.code as ErrorCode, failure.message);
  return Object.assign(new Error(failure.message), failure.code === undefined ? {} : { code: failure.code });
}

/**
 * Hashes the blocks of [start, end) of the open descriptor `fd` on a worker
 * thread and yields them in batches of `batchBlocks`. The caller keeps `fd`
 * open until the generator has finished: on an abort or an early return the
 * thread is told to stop and this waits until it has, so no read outlives it.
 */
export async function* hashOnWorker(fd: number, start: number, end: number, blockSize: number, batchBlocks: number, signal: AbortSignal): AsyncGenerator<HashBatch> {
  signal.throwIfAborted();
  // The extent walk (SEEK_DATA/SEEK_HOLE, microseconds each) happens here; the thread reads and hashes.
  const extents: number[] = [];
  for await (const e of fileExtents(fd, start, end)) if (e.kind === 'data') extents.push(e.offset, e.length);
  const dataExtents = new Float64Array(extents);
  const worker = idle.pop() ?? spawn();
  worker.ref();
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const queue: HashBatch[] = [];
  let ended: { failure: Error | undefined } | undefined;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    wake?.();
    wake = undefined;
  };
  const onMessage = (m: HashJobMessage): void => {
    if (m.type === 'batch') queue.push({ offset: m.offset, blockCount: m.blockCount, hashes: Buffer.from(m.hashes.buffer, m.hashes.byteOffset, m.hashes.byteLength) });
    else ended = { failure: m.failure === undefined ? undefined : rebuild(m.failure) };
    notify();
  };
  // A thread that dies (out of memory, a bug) ends the job with its error and is not reused.
  let crashed = false;
  const onError = (err: Error): void => {
    crashed = true;
    ended = { failure: err };
    notify();
  };
  const onExit = (code: number): void => onError(new Error(`the hashing thread exited (code ${code})`));
  const onAbort = (): void => {
    Atomics.store(stop, 0, 1);
    notify();
  };
  worker.on('message', onMessage).on('error', onError).on('exit', onExit);
  signal.addEventListener('abort', onAbort, { once: true });
  const job: HashJob = { type: 'hash', fd, start, end, dataExtents, blockSize, batchBlocks, stop: stop.buffer as SharedArrayBuffer };
  worker.postMessage(job, [dataExtents.buffer]);
  try {
    for (;;) {
      // Checked before every batch too: nothing is handed out after an abort, even what had already come.
      signal.throwIfAborted();
      const next = queue.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (ended !== undefined) {
        if (ended.failure !== undefined) throw ended.failure;
        break;
      }
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    if (ended === undefined) {
      // Stopped early (abort, an error downstream, the consumer returned): wait for the thread to let go of fd.
      Atomics.store(stop, 0, 1);
      while (ended === undefined) await new Promise<void>((resolve) => (wake = resolve));
    }
    worker.off('message', onMessage).off('error', onError).off('exit', onExit);
    if (crashed) void worker.terminate();
    else if (idle.length < KEEP_IDLE) {
      worker.unref();
      idle.push(worker);
    } else void worker.terminate();
  }
}
