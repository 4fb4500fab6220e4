/**
 * `--bwlimit`: the bytes of an operation leave the source agent at most at
 * the rate asked. The limit sits where the data leaves (ReadRanges), so it
 * holds for agent-to-agent pulls and relayed copies alike, and progress and
 * ETA, measured downstream, follow it.
 *
 * One token bucket per operation id on this agent, shared by every
 * ReadRanges stream of that operation (a clone reads several files at
 * once); a stream without an operation id gets its own. The bucket may go
 * into debt by one chunk and the sender then waits the debt off, so the
 * long-run rate is exact; idle time banks at most BURST_SECONDS of tokens,
 * so no 10 s window runs more than ~5 % over.
 */
import type { ReadRangesResponse } from '../../shared/generated/kvmclone/agent/v1/ReadRangesResponse.js';
import type { ChunkSink } from '../disk/range-reader.js';

/** Tokens an idle bucket keeps, in seconds of its rate. */
export const BURST_SECONDS = 0.5;

/** A token bucket in bytes; `now` and `sleep` replaceable in tests. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    public rate: number,
    private readonly now: () => number = () => performance.now(),
    private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void> = abortableSleep,
  ) {
    this.tokens = rate * BURST_SECONDS;
    this.last = now();
  }

  /** Takes `bytes`; resolves when the rate allows them to go (rejects when `signal` aborts). */
  async take(bytes: number, signal: AbortSignal): Promise<void> {
    const at = this.now();
    this.tokens = Math.min(this.rate * BURST_SECONDS, this.tokens + ((at - this.last) / 1000) * this.rate);
    this.last = at;
    this.tokens -= bytes;
    if (this.tokens < 0) await this.sleep((-this.tokens / this.rate) * 1000, signal);
  }
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** The buckets of the operations reading with a limit on this agent. */
export class RateLimits {
  private readonly buckets = new Map<string, { bucket: TokenBucket; users: number }>();

  /**
   * Runs `fn` with a sink that paces `send` at `rate` bytes per second
   * (shared with the operation's other streams; the lowest rate asked wins),
   * or with `send` itself when `rate` is 0.
   */
  async paced<T>(operationId: string | null, rate: number, send: ChunkSink, signal: AbortSignal, fn: (send: ChunkSink) => Promise<T>): Promise<T> {
    if (rate <= 0) return fn(send);
    if (operationId === null) return fn(pacedSink(new TokenBucket(rate), send, signal));
    let entry = this.buckets.get(operationId);
    if (entry === undefined) {
      entry = { bucket: new TokenBucket(rate), users: 0 };
      this.buckets.set(operationId, entry);
    }
    entry.bucket.rate = Math.min(entry.bucket.rate, rate);
    entry.users += 1;
    try {
      return await fn(pacedSink(entry.bucket, send, signal));
    } finally {
      entry.users -= 1;
      if (entry.users === 0) this.buckets.delete(operationId);
    }
  }

  /** Operations with a bucket now (for tests). */
  get size(): number {
    return this.buckets.size;
  }
}

/** Bytes of data a ReadRanges message carries (a batch's pieces together). */
function dataBytesOf(message: ReadRangesResponse): number {
  return message.batch ? (message.batch.pieces ?? []).reduce((sum, piece) => sum + dataBytesOf(piece), 0) : (message.data?.data?.length ?? 0);
}

/** `send` that takes each data chunk's (or batch's) bytes from `bucket` before sending it. */
export function pacedSink(bucket: TokenBucket, send: ChunkSink, signal: AbortSignal): ChunkSink {
  return async (message: ReadRangesResponse, written?: () => void) => {
    const bytes = dataBytesOf(message);
    if (bytes > 0) await bucket.take(bytes, signal);
    return send(message, written);
  };
}
