/**
 * All the messages of a server-streaming call, for the tests that look at a
 * stream as a whole (pull progress, hashes, the audit trail) rather than as
 * it comes.
 */
import type { ClientReadableStream } from '@grpc/grpc-js';

/** Resolves with every message `call` sends (each also given to `onEvent` as it comes) once it ends; rejects with its error. */
export function streamEvents<T>(call: ClientReadableStream<T>, onEvent?: (event: T) => void): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const events: T[] = [];
    call.on('data', (e: T) => {
      events.push(e);
      onEvent?.(e);
    });
    call.on('error', reject);
    call.on('end', () => resolve(events));
  });
}
