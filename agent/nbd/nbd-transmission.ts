/**
 * The transmission phase of one NBD connection, under NbdClient's commands:
 * requests put on the socket (after backpressure) and their replies matched
 * by cookie, a cancelled request abandoned (or the connection dropped when
 * the socket holds its buffer), and how the connection fails and closes.
 * See nbd-client.ts's module comment.
 */
import { raceSignal } from '../../shared/race-signal.js';
import type { Socket } from 'node:net';
import { type KvmcloneError, unavailable } from '../../shared/errors.js';
import { NBD_CMD_DISC, NBD_CMD_WRITE, encodeRequest } from './nbd-protocol.js';
import { ReplyReader } from './nbd-reply-reader.js';
import { InFlight, describe, type Pending } from './nbd-in-flight.js';
import type { Wire } from './nbd-wire.js';

/** How long `close` waits for the server to finish outstanding requests and hang up. */
const CLOSE_TIMEOUT_MS = 10_000;

/** One connection's socket once negotiated: what NbdClient sends its requests through. */
export class NbdTransmission {
  private readonly inFlight = new InFlight();
  /** Frames the replies; the Wire hands it what the socket reads. */
  readonly reader = new ReplyReader(this.inFlight);
  private failure: KvmcloneError | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private drainWait: Promise<void> | undefined;
  private readonly gone: Promise<void>;

  constructor(
    private readonly socket: Socket,
    private readonly socketPath: string,
    private readonly wire: Wire,
  ) {
    this.gone = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', (err) => {
      this.failure ??= unavailable(`NBD connection to ${socketPath} failed: ${err.message}`);
    });
    socket.once('close', () => this.onClose());
  }

  /**
   * Ends the session: NBD_CMD_DISC (the server finishes what is in flight,
   * then hangs up), then waits for the socket to close, dropping it after
   * CLOSE_TIMEOUT_MS. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      if (!this.socket.destroyed && this.failure === undefined) {
        this.socket.end(encodeRequest({ flags: 0, type: NBD_CMD_DISC, cookie: 0, offset: 0, length: 0 }));
      }
      const timer = setTimeout(() => this.socket.destroy(), CLOSE_TIMEOUT_MS);
      await this.gone;
      clearTimeout(timer);
    })();
    return this.closing;
  }

  /** Throws what broke the connection, or UNAVAILABLE once it is closed. */
  checkOpen(): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.closed || this.socket.destroyed) throw unavailable(`the NBD connection to ${this.socketPath} is closed`);
  }

  /** Puts one request on the socket (after backpressure) and waits for its reply. */
  async send(p: Pending, flags: number, payload: Buffer | undefined, signal: AbortSignal | undefined): Promise<void> {
    this.checkOpen();
    signal?.throwIfAborted();
    while (this.socket.writableNeedDrain) {
      await raceSignal(this.drained(), signal);
      this.checkOpen();
    }
    const done = new Promise<void>((resolve, reject) => {
      p.resolve = resolve;
      p.reject = reject;
    });
    this.inFlight.add(p);
    const header = encodeRequest({ flags, type: p.type, cookie: p.cookie, offset: p.offset, length: p.length });
    if (payload === undefined) {
      this.socket.write(header);
    } else {
      this.socket.cork();
      this.socket.write(header);
      this.socket.write(payload, () => {
        p.payloadSent = true;
      });
      this.socket.uncork();
    }
    if (signal === undefined) return done;
    const onAbort = (): void => this.abandon(p, signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await done;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  private abandon(p: Pending, reason: unknown): void {
    if (p.abandoned || !this.inFlight.has(p.cookie)) return;
    p.abandoned = true;
    const held = (p.type === NBD_CMD_WRITE && !p.payloadSent) || (p.callerBuffer && this.wire.lentCookie === p.cookie);
    if (held) {
      this.fail(unavailable(`NBD connection to ${this.socketPath} dropped: a cancelled ${describe(p)} still had its buffer on the socket`));
    } else if (this.reader.dataCookie === p.cookie) {
      this.reader.dropData();
    }
    p.reject(reason);
  }

  private drained(): Promise<void> {
    this.drainWait ??= new Promise<void>((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        this.drainWait = undefined;
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
    return this.drainWait;
  }

  /** Drops the connection; every request in flight fails with `err`. */
  fail(err: KvmcloneError): void {
    this.failure ??= err;
    this.socket.destroy();
  }

  private onClose(): void {
    const err = this.failure ?? unavailable(`the NBD connection to ${this.socketPath} closed with ${this.inFlight.size} request(s) in flight`);
    this.failure ??= err;
    this.inFlight.failAll(err);
  }
}
