/**
 * The SshConnection of a host that is the machine kvmctl runs on
 * (local-host.ts): no SSH at all. The agent's sockets are used where they
 * are; a socket that must appear elsewhere on this machine (a peer socket
 * in an agent's forward directory, when both hosts of an operation are this
 * machine) is a small relay in this process; commands run here.
 */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, chmod, lstat, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { userInfo } from 'node:os';
import { errnoCode } from '../../shared/errors.js';
import { listenAt } from './listen-at.js';
import { relay } from './socket-relay.js';
import { SshError, type ExecOptions, type LocalForwardOptions, type RemoteExecResult, type RemoteForwardOptions, type SshConnection } from './ssh-engine.js';

/** Output kept from a command (as the SSH engines keep). */
const MAX_EXEC_OUTPUT = 4 * 1024 * 1024;

/** This machine as a host: sockets directly, relays for the rare socket that must move. */
export class LocalConnection implements SshConnection {
  readonly onThisMachine = true;
  /** Relay listeners this connection made: path → server, and whether something else removes the file. */
  private readonly relays = new Map<string, { server: Server; othersRemove: boolean }>();
  private readonly sockets = new Set<Socket>();
  private closed = false;

  constructor(readonly host: string) {}

  loginUser(): string {
    return userInfo().username;
  }

  /** The socket itself (checked reachable), or a relay at `options.at` to it. */
  async forwardToLocal(remoteSocket: string, options: LocalForwardOptions = {}): Promise<string> {
    this.usable();
    try {
      await access(remoteSocket, constants.R_OK | constants.W_OK);
      if (!(await lstat(remoteSocket)).isSocket()) throw new Error('not a socket');
    } catch (err) {
      throw new SshError('forward', this.host, `${this.host} (this machine): cannot reach ${remoteSocket}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (options.at === undefined) return remoteSocket;
    await this.listen(options.at, remoteSocket, false);
    return options.at;
  }

  async cancelLocalForward(localPath: string): Promise<void> {
    await this.stop(localPath);
  }

  /** A relay listening at `remotePath` (which must not exist) to `localSocket`. */
  async forwardToRemote(remotePath: string, localSocket: string, options: RemoteForwardOptions = {}): Promise<void> {
    this.usable();
    await this.listen(remotePath, localSocket, options.hostRemoves === true);
  }

  async cancelRemoteForward(remotePath: string): Promise<void> {
    await this.stop(remotePath);
  }

  /** Runs argv here (no shell), output collected like a remote command's. */
  async exec(argv: readonly string[], options: ExecOptions = {}): Promise<RemoteExecResult> {
    this.usable();
    const [file, ...args] = argv;
    if (file === undefined) throw new SshError('other', this.host, `${this.host}: exec needs a command`);
    return new Promise((resolve, reject) => {
      const child = execFile(file, args, { signal: options.signal, timeout: options.timeoutMs, maxBuffer: MAX_EXEC_OUTPUT, encoding: 'utf8' }, (err, stdout, stderr) => {
        if (err === null) return resolve({ code: 0, stdout, stderr });
        const code = (err as { code?: unknown }).code;
        if (typeof code === 'number') return resolve({ code, stdout, stderr });
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- an ExecFileException is an Error; its Omit<> type hides that from the rule
        if (err.name === 'AbortError') return reject(err);
        if ((err as { killed?: boolean }).killed === true)
          return reject(new SshError('other', this.host, `${this.host}: ${file} did not finish within ${options.timeoutMs} ms (killed)`));
        reject(new SshError('other', this.host, `${this.host}: cannot run ${file}: ${err.message}`));
      });
      child.stdin?.on('error', () => undefined); // a command that exits without reading all of it
      child.stdin?.end(options.input);
    });
  }

  /** Stops every relay and removes the sockets it made. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    for (const sock of this.sockets) sock.destroy();
    await Promise.all([...this.relays.keys()].map((p) => this.stop(p)));
  }

  private async listen(path: string, target: string, othersRemove: boolean): Promise<void> {
    if (this.relays.has(path)) throw new SshError('forward', this.host, `${this.host}: ${path} is already forwarded by this connection; use a fresh path per operation`);
    const server = createServer((sock) => {
      const to = connect(target);
      for (const s of [sock, to]) {
        this.sockets.add(s);
        s.once('close', () => this.sockets.delete(s));
      }
      relay(sock, to);
    });
    await listenAt(server, path).catch((err: unknown) => {
      // EADDRINUSE: someone's socket (or a leftover) is there — never taken over
      throw new SshError('forward', this.host, `${this.host} (this machine): cannot listen at ${path}: ${errnoCode(err) ?? String(err)}`);
    });
    this.relays.set(path, { server, othersRemove });
    await chmod(path, 0o600);
  }

  private async stop(path: string): Promise<void> {
    const relay = this.relays.get(path);
    if (relay === undefined) return; // not ours: left alone
    this.relays.delete(path);
    await new Promise<void>((resolve) => relay.server.close(() => resolve()));
    if (!relay.othersRemove) await rm(path, { force: true });
  }

  private usable(): void {
    if (this.closed) throw new SshError('other', this.host, `${this.host}: the connection is closed`);
  }
}
