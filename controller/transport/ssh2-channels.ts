/**
 * (Worker side.) Everything done over one established ssh2 connection:
 * local unix sockets relayed to remote sockets (`direct-streamlocal`),
 * remote sockets relayed back to local ones (`streamlocal-forward`), and
 * commands. Bytes are piped as opaque channel data with stream
 * backpressure in both directions — never parsed, never on the main thread.
 */
import { chmod, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Client as Ssh2Client } from 'ssh2';
import { RemoteCommands } from './ssh2-exec.js';
import { listenAt } from './listen-at.js';
import { relay } from './socket-relay.js';
import { SshError, shellQuote, type RemoteExecResult } from './ssh-engine.js';

/** Longest unix socket path Linux accepts (sun_path is 108 bytes with the NUL). */
const MAX_SOCKET_PATH = 107;

/** Forwards, commands and their cleanup on one connection (the last of a ProxyJump chain). */
export class ChannelSession {
  private readonly servers = new Map<string, Server>();
  private readonly sockets = new Set<Socket>();
  private readonly remote = new Map<string, string>();
  /** Remote forwards whose socket file the host removes itself (no `rm` is run for them). */
  private readonly hostRemoves = new Set<string>();
  private readonly commands: RemoteCommands;
  private seq = 0;

  constructor(
    private readonly client: Ssh2Client,
    private readonly host: string,
    private readonly socketDir: string,
  ) {
    this.commands = new RemoteCommands(client, host);
    client.on('unix connection', (info, accept, reject) => {
      const local = this.remote.get(info.socketPath);
      if (local === undefined) return void reject();
      const sock = connect(local);
      this.track(sock);
      relay(sock, accept());
    });
  }

  private track(sock: Socket): void {
    this.sockets.add(sock);
    sock.once('close', () => this.sockets.delete(sock));
  }

  /**
   * A fresh socket in the connection's private directory (or at `at`, which
   * must not exist), relayed to `remoteSocket` for every connection made to it.
   */
  async forwardToLocal(remoteSocket: string, at?: string): Promise<string> {
    this.seq += 1;
    const path = at ?? join(this.socketDir, `fwd-${this.seq}.sock`);
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
      throw new SshError('config', this.host, `local socket path ${path} is longer than ${MAX_SOCKET_PATH} bytes: use a shorter runtime directory`);
    }
    const server = createServer((sock) => {
      this.track(sock);
      this.client.openssh_forwardOutStreamLocal(remoteSocket, (err, channel) => {
        if (err || sock.destroyed) {
          sock.destroy();
          channel?.close();
          return;
        }
        relay(sock, channel);
      });
    });
    await listenAt(server, path);
    await chmod(path, 0o600);
    this.servers.set(path, server);
    return path;
  }

  /** Stops accepting on a local forward and removes its socket file; relays already open run on until they end. */
  async closeLocal(path: string): Promise<void> {
    const server = this.servers.get(path);
    if (server === undefined) return; // not ours: never removed
    server.close();
    this.servers.delete(path);
    await rm(path, { force: true });
  }

  /**
   * Asks sshd to listen at `remotePath`; its connections are relayed to
   * `localSocket`. `hostRemoves`: something on the host (the agent) removes
   * the socket file, so cancelling runs no command.
   */
  async forwardToRemote(remotePath: string, localSocket: string, hostRemoves = false): Promise<void> {
    if (this.remote.has(remotePath)) throw new SshError('forward', this.host, `${this.host}: ${remotePath} is already forwarded on this connection`);
    this.remote.set(remotePath, localSocket);
    if (hostRemoves) this.hostRemoves.add(remotePath);
    try {
      await new Promise<void>((resolve, reject) => this.client.openssh_forwardInStreamLocal(remotePath, (err) => (err ? reject(err) : resolve())));
    } catch (err) {
      this.remote.delete(remotePath);
      this.hostRemoves.delete(remotePath);
      throw new SshError(
        'forward',
        this.host,
        `${this.host}: sshd refused to listen at ${remotePath}: ${(err as Error).message} (the path must not exist yet and its directory must; sshd needs AllowStreamLocalForwarding)`,
      );
    }
  }

  /**
   * Stops listening at `remotePath` and removes the socket file, which sshd
   * leaves behind — with `rm`, unless the host removes it (hostRemoves). Idempotent.
   */
  async cancelRemoteForward(remotePath: string): Promise<void> {
    if (this.remote.has(remotePath)) {
      await new Promise<void>((resolve, reject) => this.client.openssh_unforwardInStreamLocal(remotePath, (err) => (err ? reject(err) : resolve()))).catch((err: Error) => {
        throw new SshError('forward', this.host, `${this.host}: could not stop the forward at ${remotePath}: ${err.message}`);
      });
      this.remote.delete(remotePath);
    }
    if (this.hostRemoves.delete(remotePath)) return;
    const rmResult = await this.commands.run(0, `rm -f -- ${shellQuote(remotePath)}`);
    if (rmResult.code !== 0) throw new SshError('forward', this.host, `${this.host}: could not remove ${remotePath}: ${rmResult.stderr.trim()}`);
  }

  /** Runs a command line (already quoted) with `input` on its stdin (else stdin at EOF); `id` makes it cancellable. */
  exec(id: number, command: string, input?: Uint8Array): Promise<RemoteExecResult> {
    return this.commands.run(id, command, input);
  }

  /** Kills a running command (see ssh2-exec.ts). */
  cancelExec(id: number): Promise<void> {
    return this.commands.cancel(id);
  }

  /** Removes remote forwards (best effort), stops local ones, drops every relayed socket and command. */
  async close(): Promise<void> {
    const remote = [...this.remote.keys()];
    await Promise.race([Promise.allSettled(remote.map((p) => this.cancelRemoteForward(p))), new Promise((resolve) => setTimeout(resolve, 3_000).unref())]);
    await this.commands.cancelAll();
    for (const sock of this.sockets) sock.destroy();
    await Promise.all([...this.servers.keys()].map((p) => this.closeLocal(p)));
  }
}
