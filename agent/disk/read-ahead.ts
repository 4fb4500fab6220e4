/**
 * Ordered reads with a few in flight: the disk reads the next 1–4 MiB while
 * the caller hashes or sends the current piece. Measured here, one read at a
 * time leaves the disk idle while a chunk is hashed and framed; two to four
 * reads in flight keep it busy without holding much memory.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { failedPrecondition, type KvmcloneError } from '../../shared/errors.js';
import type { BufferPool } from './buffer-pool.js';

/** One step of a read plan: a span of the file, read or only passed through (a hole). */
export interface PlannedRead {
  readonly offset: number;
  readonly length: number;
  /** False for a span that is known to read as zeros and is not read. */
  readonly read: boolean;
}

/** A plan step with its bytes (null for steps that are not read). */
export interface ReadResult<T extends PlannedRead> {
  readonly item: T;
  readonly data: Buffer | null;
  /**
   * Gives `data` back to the pool it was read into (no-op without a pool).
   * After it the bytes may be overwritten by a later read, so call it only
   * once nothing refers to `data` any more; never calling it is safe.
   */
  readonly release: () => void;
}

const NO_RELEASE = (): void => undefined;

/** How many reads the agent keeps in flight on one file by default. */
export const READ_AHEAD_DEPTH = 3;

/** Most plan steps buffered ahead of the caller (bounds the queue when many holes or zero spans lie between reads). */
const MAX_QUEUED_STEPS = 256;

/** Runs `fn` on `path` opened read-only (a symlink is not followed) and closes it however `fn` ends. */
export async function withReadOnlyFile<T>(path: string, fn: (fh: FileHandle) => Promise<T>): Promise<T> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return await fn(fh);
  } finally {
    await fh.close();
  }
}

/**
 * The error of a read that came up short: the file ended at `position + filled`
 * while `length` bytes from `position` were being read, so it changed during the call.
 */
export function fileShrank(position: number, length: number, filled: number): KvmcloneError {
  return failedPrecondition(`the file ended at byte ${position + filled} while ${length} bytes from ${position} were being read: it changed during the call`);
}

/**
 * Reads exactly `length` bytes at `position` into a new buffer. A short read
 * means the file shrank under us: the bytes the caller planned for no longer
 * exist, which is refused rather than padded.
 */
export async function readExactly(fh: FileHandle, position: number, length: number, into?: Buffer): Promise<Buffer> {
  if (into !== undefined && into.length < length) throw new RangeError(`readExactly: a ${into.length}-byte buffer cannot take ${length} bytes`);
  const buffer = into === undefined ? Buffer.allocUnsafe(length) : into.subarray(0, length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await fh.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) throw fileShrank(position, length, filled);
    filled += bytesRead;
  }
  return buffer;
}

/** A read that has been started: its bytes to come, and how to give back the buffer they go into. */
export interface StartedRead {
  readonly data: Promise<Buffer>;
  /** As ReadResult.release; none when the buffer is the read's own. */
  readonly release?: () => void;
}

/**
 * Yields the plan's steps in order with their bytes, keeping up to `depth`
 * reads in flight ahead of the consumer (a function is read before each read
 * starts, for a depth that follows the agent's load: rpc/send-share.ts); `start` begins the read of one step
 * (a file's pread, an NBD request). When the consumer stops early (an error,
 * a cancel) the reads still in flight are awaited before returning, so the
 * caller may close what it reads from as soon as its loop ends.
 */
export async function* readAheadWith<T extends PlannedRead>(
  plan: AsyncIterable<T> | Iterable<T>,
  start: (item: T) => StartedRead,
  signal: AbortSignal,
  depth: number | (() => number),
): AsyncGenerator<ReadResult<T>> {
  const maxReads = typeof depth === 'number' ? () => depth : depth;
  const steps: AsyncIterator<T> | Iterator<T> = Symbol.asyncIterator in plan ? plan[Symbol.asyncIterator]() : plan[Symbol.iterator]();
  const queue: { item: T; read: StartedRead | null }[] = [];
  let reading = 0;
  let exhausted = false;

  const fill = async (): Promise<void> => {
    while (!exhausted && reading < maxReads() && queue.length < MAX_QUEUED_STEPS) {
      const next = await steps.next();
      if (next.done === true) {
        exhausted = true;
        return;
      }
      const item = next.value;
      if (!item.read) {
        queue.push({ item, read: null });
        continue;
      }
      const read = start(item);
      // Handled when it reaches the head of the queue; this only silences the early rejection.
      read.data.catch(() => undefined);
      queue.push({ item, read });
      reading += 1;
    }
  };

  try {
    for (;;) {
      signal.throwIfAborted();
      await fill();
      const head = queue.shift();
      if (head === undefined) return;
      if (head.read === null) {
        yield { item: head.item, data: null, release: NO_RELEASE };
        continue;
      }
      reading -= 1;
      yield { item: head.item, data: await head.read.data, release: head.read.release ?? NO_RELEASE };
    }
  } finally {
    await Promise.allSettled(queue.flatMap((entry) => (entry.read ? [entry.read.data] : [])));
    await steps.return?.();
  }
}

/**
 * readAheadWith over a file. With a `pool`, reads go into its buffers (no
 * step may be longer than pool.size) and each result's `release` hands its
 * buffer back; without one every read gets a buffer of its own.
 */
export function readAhead<T extends PlannedRead>(
  fh: FileHandle,
  plan: AsyncIterable<T> | Iterable<T>,
  signal: AbortSignal,
  depth: number | (() => number) = READ_AHEAD_DEPTH,
  pool?: BufferPool,
): AsyncGenerator<ReadResult<T>> {
  const start = (item: T): StartedRead => {
    const lent = pool?.acquire();
    return { data: readExactly(fh, item.offset, item.length, lent?.buffer), release: lent?.release };
  };
  return readAheadWith(plan, start, signal, depth);
}
