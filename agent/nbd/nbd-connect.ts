/**
 * Opening an NBD connection: the unix socket, its reads routed through a
 * Wire to the handshake's Inbox, the handshake (nbd-handshake.ts) bounded by
 * the caller's signal and time limit, then the socket handed to the
 * transmission phase (nbd-transmission.ts) — or, on any failure, let go.
 */
import { connect } from 'node:net';
import { KvmcloneError, unavailable } from '../../shared/errors.js';
import type { NbdConnectOptions } from './nbd-client.js';
import { Inbox, negotiate, type ExportInfo } from './nbd-handshake.js';
import { NBD_OPT_ABORT, encodeOption } from './nbd-protocol.js';
import { NbdTransmission } from './nbd-transmission.js';
import { Wire } from './nbd-wire.js';

const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;

/**
 * Connects to the NBD server on `socketPath`, negotiates `options.exportName`
 * and hands the connection to `start` (NbdClient's constructor), so that a
 * client exists only for a negotiated export. Errors as NbdClient.connect.
 */
export async function connectExport<T>(socketPath: string, options: NbdConnectOptions, start: (transmission: NbdTransmission, info: ExportInfo) => T): Promise<T> {
  const { exportName, metaContexts = [], signal, timeoutMs = DEFAULT_CONNECT_TIMEOUT_MS } = options;
  signal?.throwIfAborted();
  const inbox = new Inbox();
  const wire = new Wire();
  wire.sink = (bytes) => inbox.push(bytes);
  const socket = connect({ path: socketPath, onread: { buffer: () => wire.nextBuffer(), callback: (n, buf) => wire.received(n, buf) } });
  const onError = (err: Error): void => inbox.fail(unavailable(`cannot reach the NBD server at ${socketPath}: ${err.message}`));
  const onClose = (): void => inbox.fail(unavailable(`the NBD server at ${socketPath} closed the connection during the handshake`));
  const onAbort = (): void => inbox.fail(signal?.reason);
  socket.on('error', onError);
  socket.once('close', onClose);
  signal?.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => inbox.fail(new KvmcloneError('DEADLINE_EXCEEDED', `NBD handshake with ${socketPath} took longer than ${timeoutMs} ms`)), timeoutMs);
  try {
    const info = await negotiate(socket, inbox, socketPath, exportName, metaContexts);
    socket.off('error', onError);
    socket.off('close', onClose);
    const transmission = new NbdTransmission(socket, socketPath, wire);
    const client = start(transmission, info);
    wire.reader = transmission.reader;
    wire.onFailure = (err) => transmission.fail(err);
    const rest = inbox.rest();
    if (rest.length > 0) transmission.reader.push(rest);
    return client;
  } catch (err) {
    // A soft disconnect (harmless where the session is not that far), then hang up.
    if (!socket.destroyed) socket.end(encodeOption(NBD_OPT_ABORT));
    setTimeout(() => socket.destroy(), 1000).unref();
    throw err;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}
