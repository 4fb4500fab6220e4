/**
 * A grpc-js Server whose HTTP/2 windows are 16 MiB.
 *
 * grpc-js 1.14 ignores `grpc-node.flow_control_window` on the server side, and
 * a receiver's small window throttles every client stream (WriteRanges) to a
 * few MB/s through an SSH tunnel. Both windows must be raised: the stream
 * window (`updateSettings({ initialWindowSize })`) and the connection window
 * (`session.setLocalWindowSize`); either alone stays at 3–6 MB/s. grpc-js
 * builds its http2 server in the private `createHttp2Server`, so we wrap that
 * method. The grpc-js version is pinned in package.json and this wrapper is
 * checked at construction: a grpc-js without the method fails loudly instead
 * of silently serving slow. The same hook keeps a dying session's streams
 * from crashing the agent (see the 'error' listener below).
 */
import * as grpc from '@grpc/grpc-js';
import type * as http2 from 'node:http2';
import { FLOW_CONTROL_WINDOW_BYTES, SERVER_OPTIONS } from '../../shared/grpc-tuning.js';

type Http2ServerFactory = (credentials: grpc.ServerCredentials) => http2.Http2Server;

/** Listener for a stream's error whose consequence (the stream ending) is handled where 'close' is. */
const ignore = (): void => undefined;

/** grpc.Server with wide HTTP/2 windows; `widenedSessions` counts sessions it tuned. */
export class WideWindowServer extends grpc.Server {
  /** Number of HTTP/2 sessions whose connection window was raised (for tests and diagnostics). */
  widenedSessions = 0;

  constructor(options: grpc.ServerOptions = {}) {
    super({ ...SERVER_OPTIONS, ...options });
    const internals = this as unknown as { createHttp2Server?: Http2ServerFactory };
    const original = internals.createHttp2Server;
    if (typeof original !== 'function') {
      throw new Error('this @grpc/grpc-js has no Server.createHttp2Server: the window tuning needs the pinned grpc-js version');
    }
    internals.createHttp2Server = (credentials) => {
      const server = original.call(this, credentials);
      server.updateSettings({ initialWindowSize: FLOW_CONTROL_WINDOW_BYTES });
      // A peer that ends its connection with an error code (GOAWAY with PROTOCOL_ERROR, COMPRESSION_ERROR, …)
      // makes Node destroy the session, and every stream still open on it, with ERR_HTTP2_SESSION_ERROR. The
      // session's error goes to the server's 'sessionError', but each stream emits its own 'error', which
      // grpc-js listens for only once a stream is a call: so one misbehaving client crashed the whole agent
      // (found by the fuzzer). The streams end either way, as for a dropped connection.
      server.on('stream', (stream: http2.ServerHttp2Stream) => stream.on('error', ignore));
      server.on('session', (session: http2.ServerHttp2Session) => {
        const widen = (): void => {
          try {
            session.setLocalWindowSize(FLOW_CONTROL_WINDOW_BYTES);
            this.widenedSessions += 1;
          } catch {
            // A session that closed before it connected needs no window.
          }
        };
        if (session.connecting) session.once('connect', widen);
        else widen();
      });
      return server;
    };
  }
}
