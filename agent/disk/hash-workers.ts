/**
 * Block hashing on the agent's hashing threads (hash-thread-pool.ts): a
 * call's range is hashed in segments, each a job of its own on whichever
 * thread is free, so one call alone keeps every core busy and every call
 * keeps moving however many share the threads.
 */
import { KvmcloneError, type ErrorCode, ERROR_CODES } from '../../shared/errors.js';
import type { HashBatch } from './block-hasher.js';
import { fileExtents } from './extent-map.js';
import type { HashJob, HashJobFailure, HashJobMessage } from './hash-job.js';
import { acquire, MAX_THREADS, release } from './hash-thread-pool.js';
import type { Worker } from 'node:worker_threads';

/**
 * About how much of a range one job hashes before its thread is handed to the next call in line; also how
 * often a call's batches come (~25–60 ms of one core's hashing).
 */
const SEGMENT_BYTES = 64 * 1024 * 1024;

/** The error a job's failure stands for, rebuilt on this side of the thread boundary. */
function rebuild(failure: HashJobFailure): Error {
  if (failure.kvmclone && (ERROR_CODES as readonly string[]).includes(failure.code ?? '')) return new KvmcloneError(failure.code as ErrorCode, failure.message);
  return Object.assign(new Error(failure.message), failure.code === undefined ? {} : { code: failure.code });
}

/**
 * Hashes the blocks of [start, end) of the open descriptor `fd` on worker
 * threads and yields them in batches of `batchBlocks` (the last may be
 * smaller), in order. The range goes in segments of whole batches, up to
 * MAX_THREADS of them hashed at once, each on whichever thread is free: one
 * call alone keeps every core busy (a sync's source hashes its whole image
 * while the destination recalls its hashes from memory), and calls waiting
 * for a thread still get one as each segment ends. A segment's batches are
 * handed out once it has ended, in range order. The caller keeps `fd` open
 * until the generator has finished: on an abort or an early return every
 * thread is told to stop and this waits until all have, so no read outlives
 * it. `segmentBytes` (about 64 MiB) is for tests.
 */
export async function* hashOnWorker(
  fd: number,
  start: number,
  end: number,
  blockSize: number,
  batchBlocks: number,
  signal: AbortSignal,
  segmentBytes: number = SEGMENT_BYTES,
): AsyncGenerator<HashBatch> {
  signal.throwIfAborted();
  const batchBytes = blockSize * batchBlocks;
  const step = Math.max(1, Math.floor(segmentBytes / batchBytes)) * batchBytes;
  // Stops the segments still running when the caller leaves early; the caller's own abort stops them too.
  const leave = new AbortController();
  const jobSignal = AbortSignal.any([signal, leave.signal]);
  const running: Promise<HashBatch[]>[] = [];
  let next = start;
  const startNext = (): void => {
    const job = collectSegment(fd, next, Math.min(end, next + step), blockSize, batchBlocks, jobSignal);
    job.catch(() => undefined); // its failure is thrown when its turn comes (or dropped when the call has left)
    running.push(job);
    next += step;
  };
  try {
    while (running.length < MAX_THREADS && next < end) startNext();
    for (let job = running.shift(); job !== undefined; job = running.shift()) {
      const batches = await job;
      if (next < end) startNext();
      for (const batch of batches) {
        // Checked before every batch: nothing is handed out after an abort, even what had already come.
        signal.throwIfAborted();
        yield batch;
      }
    }
  } finally {
    leave.abort();
    await Promise.allSettled(running);
  }
}

/** One segment's batches, all of them, once its job has ended and its thread has been let go. */
async function collectSegment(fd: number, start: number, end: number, blockSize: number, batchBlocks: number, signal: AbortSignal): Promise<HashBatch[]> {
  const batches: HashBatch[] = [];
  for await (const batch of hashSegment(fd, start, end, blockSize, batchBlocks, signal)) batches.push(batch);
  return batches;
}

/**
 * One job's side of its thread: the batches it has sent, how it ended, and
 * the wake-up of the generator waiting for either. Listens to the thread
 * from construction until letGo, which gives the thread back.
 */
class SegmentJob {
  readonly queue: HashBatch[] = [];
  ended: { failure: Error | undefined } | undefined;
  /** Set to 1 to tell the thread to stop (it checks between reads). */
  readonly stop = new Int32Array(new SharedArrayBuffer(4));
  private wake: (() => void) | undefined;
  // A thread that dies (out of memory, a bug) ends the job with its error and is not reused.
  private crashed = false;
  // The thread goes back as soon as its job ends, not when the batches have been consumed: a caller reading
  // two ranges in step (source and destination on one host) must never hold a thread while it waits for one.
  private released = false;

  constructor(private readonly worker: Worker) {
    worker.on('message', this.onMessage).on('error', this.onError).on('exit', this.onExit);
  }

  /** Resolves at the thread's next message, its end, or an abort. */
  nextEvent(): Promise<void> {
    return new Promise<void>((resolve) => (this.wake = resolve));
  }

  readonly letGo = (): void => {
    if (this.released) return;
    this.released = true;
    this.worker.off('message', this.onMessage).off('error', this.onError).off('exit', this.onExit);
    release(this.worker, this.crashed);
  };

  readonly onAbort = (): void => {
    Atomics.store(this.stop, 0, 1);
    this.notify();
  };

  private notify(): void {
    this.wake?.();
    this.wake = undefined;
  }

  private readonly onMessage = (m: HashJobMessage): void => {
    if (m.type === 'batch') this.queue.push({ offset: m.offset, blockCount: m.blockCount, hashes: Buffer.from(m.hashes.buffer, m.hashes.byteOffset, m.hashes.byteLength) });
    else {
      this.ended = { failure: m.failure === undefined ? undefined : rebuild(m.failure) };
      this.letGo();
    }
    this.notify();
  };

  private readonly onError = (err: Error): void => {
    this.crashed = true;
    this.ended = { failure: err };
    this.letGo();
    this.notify();
  };

  private readonly onExit = (code: number): void => {
    this.onError(new Error(`the hashing thread exited (code ${code})`));
  };
}

/** One job: [start, end) on one thread. */
async function* hashSegment(fd: number, start: number, end: number, blockSize: number, batchBlocks: number, signal: AbortSignal): AsyncGenerator<HashBatch> {
  // The extent walk (SEEK_DATA/SEEK_HOLE, microseconds each) happens here; the thread reads and hashes.
  const extents: number[] = [];
  for await (const e of fileExtents(fd, start, end)) if (e.kind === 'data') extents.push(e.offset, e.length);
  const dataExtents = new Float64Array(extents);
  const worker = await acquire(signal);
  worker.ref();
  const segment = new SegmentJob(worker);
  signal.addEventListener('abort', segment.onAbort, { once: true });
  const job: HashJob = { type: 'hash', fd, start, end, dataExtents, blockSize, batchBlocks, stop: segment.stop.buffer };
  worker.postMessage(job, [dataExtents.buffer]);
  try {
    for (;;) {
      // Checked before every batch too: nothing is handed out after an abort, even what had already come.
      signal.throwIfAborted();
      const next = segment.queue.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (segment.ended !== undefined) {
        if (segment.ended.failure !== undefined) throw segment.ended.failure;
        break;
      }
      await segment.nextEvent();
    }
  } finally {
    signal.removeEventListener('abort', segment.onAbort);
    if (segment.ended === undefined) {
      // Stopped early (abort, an error downstream, the consumer returned): wait for the thread to let go of fd.
      Atomics.store(segment.stop, 0, 1);
      while (segment.ended === undefined) await segment.nextEvent();
    }
    segment.letGo();
  }
}
