/**
 * A forward's local end starts listening at its unix socket path: the ssh2
 * engine's forwards (ssh2-channels.ts) and local-connection.ts's relays both
 * wait for it, and both want a failed listen (EADDRINUSE: a socket or a
 * leftover is there already) as a rejection rather than an 'error' event.
 */
import type { Server } from 'node:net';

/** Resolves once `server` listens at `path`; rejects with the listen error. */
export function listenAt(server: Server, path: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
}
