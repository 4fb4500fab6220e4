/**
 * Two byte streams piped into each other — a local socket and an SSH channel
 * (ssh2 engine), or two local sockets (a relay on this machine,
 * local-connection.ts). A clean end in one direction ends the other side's
 * writer after its buffered bytes are flushed (no destroy, which would drop
 * them); an error tears both down.
 */
import type { Duplex } from 'node:stream';

/** Pipes `a` and `b` into each other until either ends or fails. */
export function relay(a: Duplex, b: Duplex): void {
  a.pipe(b);
  b.pipe(a);
  const fail = (): void => {
    a.destroy();
    b.destroy();
  };
  a.on('error', fail);
  b.on('error', fail);
  b.on('close', () => {
    if (!a.writableEnded) a.end();
  });
  a.on('close', () => {
    if (!b.writableEnded) b.end();
  });
}
