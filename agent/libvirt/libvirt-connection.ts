/**
 * LibvirtAdapter's connection to libvirtd through `@unraid/libvirt`: opened
 * on first use, dropped once a call finds it dead (libvirtd restarted), and
 * opened anew for the call's retry, which waits for a libvirtd still coming
 * back (libvirtd-wait.ts). See libvirt-adapter.ts's module comment.
 */
import { Hypervisor } from '@unraid/libvirt';
import type { Logger } from 'pino';
import { raceSignal } from '../../shared/race-signal.js';
import { isConnectionError, libvirtFailure } from './libvirt-errors.js';
import type { PortCallOptions } from './libvirt-port.js';
import { whileLibvirtdRestarts } from './libvirtd-wait.js';

/** Thrown by a connection that was closed between being handed out and being used: the call takes a fresh one. */
class ConnectionClosed extends Error {}

/** One open connection and the calls running on it; closed once dropped and idle. */
class Connection {
  private inflight = 0;
  private dropped = false;
  private closed = false;

  constructor(readonly hypervisor: Hypervisor) {}

  async use<T>(fn: (h: Hypervisor) => Promise<T>): Promise<T> {
    // checked and counted in the same tick, so it cannot be closed under the call
    if (this.closed) throw new ConnectionClosed('libvirt connection already closed');
    this.inflight += 1;
    try {
      return await fn(this.hypervisor);
    } finally {
      this.inflight -= 1;
      this.closeIfIdle();
    }
  }

  /** Marks the connection dead; it is closed when its last call returns (virConnectClose under a running call is unsafe). */
  drop(): void {
    this.dropped = true;
    this.closeIfIdle();
  }

  private closeIfIdle(): void {
    if (this.dropped && this.inflight === 0 && !this.closed) {
      this.closed = true;
      this.hypervisor.connectClose().catch(() => undefined);
    }
  }
}

/**
 * The binding's calls on one libvirtd, kept apart from the adapter's domain
 * logic so that a call there is just what it asks of the Hypervisor: this
 * connects, reconnects after a restart, and maps failures (libvirtFailure).
 */
export class LibvirtConnection {
  private current: Connection | undefined;
  private connecting: Promise<Connection> | undefined;

  /**
   * @param log the adapter's logger
   * @param libvirtdWaitMs how long a call waits for a restarting libvirtd before it fails UNAVAILABLE
   */
  constructor(
    private readonly uri: string,
    private readonly log: Logger,
    private readonly libvirtdWaitMs: number,
  ) {}

  private connection(): Promise<Connection> {
    if (this.current) return Promise.resolve(this.current);
    this.connecting ??= (async () => {
      const hypervisor = new Hypervisor({ uri: this.uri });
      try {
        await hypervisor.connectOpen();
      } catch (err) {
        throw libvirtFailure(err, `connect to ${this.uri}`);
      } finally {
        this.connecting = undefined;
      }
      this.current = new Connection(hypervisor);
      this.log.info({ uri: this.uri }, 'connected to libvirtd');
      return this.current;
    })();
    return this.connecting;
  }

  /** Runs a binding call, reconnecting once if the connection turns out to be dead. */
  async call<T>(doing: string, options: PortCallOptions | undefined, fn: (h: Hypervisor) => Promise<T>): Promise<T> {
    const attempt = async (): Promise<T> => {
      const connection = await this.connection();
      try {
        return await connection.use(fn);
      } catch (err) {
        if (isConnectionError(err) && this.current === connection) {
          this.current = undefined;
          connection.drop();
        }
        throw err;
      }
    };
    const once = async (): Promise<T> => {
      try {
        return await attempt();
      } catch (err) {
        if (err instanceof ConnectionClosed) return await attempt();
        throw err;
      }
    };
    const run = whileLibvirtdRestarts(once, {
      waitMs: this.libvirtdWaitMs,
      signal: options?.signal,
      onRetry: (err, pauseMs, tries) => this.log.warn({ err: String(err), doing, pauseMs, tries }, 'libvirt connection lost: reconnecting'),
    });
    try {
      return await raceSignal(run, options?.signal);
    } catch (err) {
      throw libvirtFailure(err, doing);
    }
  }

  /** Drops the connection (closed once its calls have returned); the next call connects anew. */
  close(): void {
    const connection = this.current;
    this.current = undefined;
    connection?.drop();
  }
}
