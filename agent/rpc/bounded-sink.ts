/**
 * The `send` of a server stream, with backpressure counted in messages not
 * yet written to HTTP/2 instead of grpc-js's own queue.
 *
 * A grpc-js server call is an object-mode Writable: `write` reports "full"
 * only once 16 messages wait in it. For ReadRanges that is 16 MiB of chunks
 * (up to 64 MiB at the largest chunk size) held per call while a slow peer
 * drains, on top of the reads in flight; measured on the testbed, eight
 * concurrent clones took the source agent to ~300 MiB RSS (one alone ~175).
 * Waiting once a few messages are unwritten keeps the same throughput — the
 * HTTP/2 window and the socket keep the pipe full — and holds a few chunks
 * per call, whatever the number of calls.
 */
import { once, type EventEmitter } from 'node:events';
import { MAX_UNWRITTEN } from './send-share.js';

/** Sends one message; `written` runs once grpc-js wrote it to HTTP/2 (or failed to). */
export type BoundedSink<T> = (message: T, written?: () => void) => Promise<void>;

/** The part of a grpc-js server call (a Writable) the sink uses. */
export interface WritableCall<T> extends EventEmitter {
  write(message: T, callback: (error?: Error | null) => void): boolean;
}

/**
 * A `send` for `call` that resolves once fewer than `max` of its messages are
 * unwritten (and grpc-js's queue has room); `max` may be a function, read per
 * message, when the limit follows the agent's other streams (send-share.ts).
 * Waits end with the signal's reason when `signal` aborts: after a cancel
 * grpc-js neither writes nor emits 'drain' again.
 */
export function boundedSink<T>(call: WritableCall<T>, signal: AbortSignal, max: number | (() => number) = MAX_UNWRITTEN): BoundedSink<T> {
  const limit = typeof max === 'number' ? () => max : max;
  let unwritten = 0;
  let wake: (() => void) | undefined;
  const oneWritten = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      wake = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
    });
  return async (message, written) => {
    signal.throwIfAborted();
    unwritten += 1;
    const room = call.write(message, () => {
      unwritten -= 1;
      written?.();
      const w = wake;
      wake = undefined;
      w?.();
    });
    if (!room) await once(call, 'drain', { signal });
    while (unwritten >= limit()) await oneWritten();
  };
}
