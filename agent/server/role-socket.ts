/**
 * One of the agent's sockets, accepted by the agent itself rather than by
 * grpc-js: a `net.Server` on the unix path asks the kernel who connected
 * (SO_PEERCRED, once per connection, as recorded at connect()) and hands the
 * connection to grpc-js through a connection injector, with `remoteAddress`
 * set to the caller and the socket's role. Handlers and the role guard read
 * that back with `callerOf(call.getPeer())`.
 *
 * Everything the plain bind did is kept: the directory is made safe and a
 * stale socket cleared (socket-file.ts), mode and group are applied after
 * bind, and `close` stops accepting and removes the file. Calls on accepted
 * connections end with the gRPC server's shutdown.
 */
import * as grpc from '@grpc/grpc-js';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { peerCredentials } from '../native/libc.js';
import type { SocketRole } from '../rpc/method-roles.js';
import { callerAddress } from './caller.js';
import { prepareSocketPath, removeSocket, secureSocket } from './socket-file.js';

/** Where and how one role's socket is served. */
export interface RoleSocketSpec {
  readonly path: string;
  readonly role: SocketRole;
  readonly mode: number;
  /** Numeric group id given the socket, or undefined to keep the agent's. */
  readonly group: number | undefined;
}

/** A listening role socket. */
export interface RoleSocket {
  readonly path: string;
  readonly role: SocketRole;
  /** Stops accepting new connections and removes the socket file (idempotent). */
  close(): Promise<void>;
}

/** The file descriptor of an accepted unix connection (libuv's pipe handle). */
function descriptorOf(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/**
 * Gives an accepted connection its caller identity, or destroys it when the
 * kernel cannot say who it is (the agent never serves an anonymous caller).
 */
function admit(socket: Socket, spec: RoleSocketSpec, injector: grpc.ConnectionInjector, log: Logger): void {
  const fd = descriptorOf(socket);
  let address: string;
  try {
    if (fd === undefined) throw new Error('the accepted connection has no file descriptor');
    address = callerAddress({ ...peerCredentials(fd), role: spec.role });
  } catch (err) {
    log.error({ err, socket: spec.path }, 'cannot read the credentials of a connection: closing it');
    socket.destroy();
    return;
  }
  // grpc-js reads remoteAddress for call.getPeer(); an own property shadows the prototype's getter.
  Object.defineProperty(socket, 'remoteAddress', { value: address, enumerable: true });
  injector.injectConnection(socket);
}

/** Binds `spec.path`, applies mode and group, and feeds each connection to `server`. */
export async function listenRoleSocket(server: grpc.Server, spec: RoleSocketSpec, log: Logger): Promise<RoleSocket> {
  await prepareSocketPath(spec.path);
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const listener: Server = createServer((socket) => admit(socket, spec, injector, log));
  try {
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(spec.path, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    listener.on('error', (err) => log.error({ err, socket: spec.path }, 'socket listener error'));
    await secureSocket(spec.path, spec.mode, spec.group);
  } catch (err) {
    listener.close();
    await removeSocket(spec.path).catch(() => undefined);
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    path: spec.path,
    role: spec.role,
    close: () =>
      (closing ??= (async () => {
        // Closes the listening handle at once; connections already accepted belong to the gRPC server,
        // which ends them at its shutdown (waiting for them here would wait for that shutdown).
        listener.close();
        await removeSocket(spec.path);
      })()),
  };
}
