/**
 * What the agent tells the kernel about its use of the page cache: keeping an
 * image copy out of the destination's cache, and asking for the data a hashing
 * thread reads next before it reads it.
 *
 * A clone writes gigabytes its host will not read again soon (the digest is
 * taken from the bytes on their way in, stream-digest.ts). Left in the page
 * cache, they push out what the host's running VMs and services had cached,
 * and every page of the copy needs a free page first. Advising the kernel
 * every few dozen MiB that the written bytes are not needed (posix_fadvise
 * DONTNEED: start writing them back, drop what is clean) keeps the copy's
 * footprint to a few windows and lets the kernel reuse the same pages.
 * Measured on the testbed, writing 3 GiB: 4.7–7.7 system CPU-seconds through
 * the page cache, 1.75 with this advice (GNU dd oflag=nocache, the same call).
 *
 * posix_fadvise comes from kvmclone's native addon (fd-calls.ts), which the
 * agent cannot start without; the hashing threads load it too.
 */
import { errnoCode } from '../../shared/errors.js';
import { fadvise, FADV } from '../native/fd-calls.js';

/** Bytes written between two drop-behind advices: a window of writeback in flight, a window being dropped. */
const DROP_BEHIND_BYTES = 64 * 1024 * 1024;

/** posix_fadvise, with a refusal by the kernel (a pipe, say) ignored: advice never changes what the file holds. */
function advise(fd: number, offset: number, length: number, advice: number): void {
  try {
    fadvise(fd, offset, length, advice);
  } catch (err) {
    if (errnoCode(err) === undefined) throw err;
  }
}

/**
 * Advises that [offset, offset + length) of `fd` (length 0: to the end) will
 * not be read soon: dirty pages are queued for writeback, clean ones dropped.
 */
export function adviseDontNeed(fd: number, offset: number, length: number): void {
  advise(fd, offset, length, FADV.DONTNEED);
}

/**
 * Drops a file's written bytes behind the writer: count the bytes written with
 * `wrote`; every DROP_BEHIND_BYTES it advises DONTNEED over the file, which
 * drops what the last advice queued for writeback and queues what came since.
 */
export class DropBehind {
  private sinceAdvice = 0;

  constructor(private readonly fd: number) {}

  wrote(bytes: number): void {
    this.sinceAdvice += bytes;
    if (this.sinceAdvice < DROP_BEHIND_BYTES) return;
    this.sinceAdvice = 0;
    adviseDontNeed(this.fd, 0, 0);
  }
}

/** Data bytes a DataPrefetch keeps asked for ahead of the reader. */
const PREFETCH_AHEAD_BYTES = 8 * 1024 * 1024;

/** Largest single WILLNEED advice. */
const PREFETCH_PIECE_BYTES = 2 * 1024 * 1024;

/**
 * Read-ahead for a reader that reads a file's data extents in order with
 * small synchronous reads (the hashing threads, hash-worker.ts): the kernel
 * is asked (WILLNEED, which starts the reads and returns) for the next
 * PREFETCH_AHEAD_BYTES of data, so a cold disk is kept busy with several
 * MiB in flight instead of one small read at a time. Holes are never
 * advised (that would fill the cache with zero pages).
 */
export class DataPrefetch {
  private extent = 0;
  /** Where the next advice starts (raised to the start of extent `extent` when behind it). */
  private position = 0;
  private advised = 0;

  /** `dataExtents`: (offset, length) pairs in file order. */
  constructor(
    private readonly fd: number,
    private readonly dataExtents: Float64Array,
  ) {}

  /** The reader has read `readBytes` data bytes so far: advise until PREFETCH_AHEAD_BYTES lie ahead of it. */
  keepAhead(readBytes: number): void {
    while (this.advised < readBytes + PREFETCH_AHEAD_BYTES && 2 * this.extent + 1 < this.dataExtents.length) {
      const start = this.dataExtents[2 * this.extent];
      const end = start + this.dataExtents[2 * this.extent + 1];
      this.position = Math.max(this.position, start);
      const length = Math.min(PREFETCH_PIECE_BYTES, end - this.position);
      if (length > 0) {
        advise(this.fd, this.position, length, FADV.WILLNEED);
        this.position += length;
        this.advised += length;
      }
      if (this.position >= end) this.extent += 1;
    }
  }
}
