/**
 * The SSH transport behind one interface, so the controller's operations do
 * not care which engine carries them. Two engines implement it:
 * - openssh-engine.ts: the OpenSSH `ssh` client (default when the binary is
 *   present): one master connection per host, forwards added with `-O forward`.
 *   Bytes between forwards flow ssh → unix socket → ssh, never through Node.
 * - ssh2-engine.ts: pure JavaScript (`ssh2`) in a worker thread; forwarded
 *   bytes are relayed there as opaque channel bytes, never decoded as gRPC and
 *   never on the controller's main thread.
 *
 * Everything the controller needs from a host goes through unix sockets on
 * the controller's machine: `forwardToLocal` gives a local socket path that
 * reaches a socket on the host; `forwardToRemote` exposes a local socket on
 * the host at a fresh path. Nothing listens on TCP.
 */

/** Settings common to both engines (from flags and the controller's config). */
export interface SshSettings {
  /** ssh config file (default ~/.ssh/config; absent file = none). */
  configFile?: string;
  /** known_hosts file overriding what the ssh config says. */
  knownHostsFile?: string;
  /** An identity file tried in addition to ssh-agent and the config's IdentityFile. */
  identityFile?: string;
  /** Seconds to wait for the TCP connection and handshake. */
  connectTimeoutS: number;
  /** Seconds between keepalives (0 = off). */
  keepaliveS: number;
  /** Ciphers in order of preference, e.g. ["aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com"]. */
  ciphers: string[];
  /** Directory for the engine's local sockets and control files (private, 0700). */
  runtimeDir: string;
  /**
   * Seconds an OpenSSH master stays after its last client, for the next run
   * to reuse (ssh.persist; openssh-persist.ts). 0 or absent: each run's
   * masters end with it.
   */
  persistS?: number;
}

/** Why a connection was refused, for messages and exit codes. */
export type SshFailureKind = 'unknown-host-key' | 'changed-host-key' | 'auth' | 'unreachable' | 'forward' | 'config' | 'other';

/** An SSH failure: `kind` says which, the message names the host (and for host keys, the fingerprint). */
export class SshError extends Error {
  constructor(
    readonly kind: SshFailureKind,
    readonly host: string,
    message: string,
    readonly fingerprint?: string,
  ) {
    super(message);
    this.name = 'SshError';
  }
}

/** Result of a command run on a host. */
export interface RemoteExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of `SshConnection.exec`. */
export interface ExecOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Bytes for the command's stdin (e.g. a package to install); without it stdin is at EOF at once. */
  input?: Uint8Array;
}

/** Options of `SshConnection.forwardToRemote`. */
export interface RemoteForwardOptions {
  signal?: AbortSignal;
  /**
   * Something on the host removes the socket file after the forward is
   * cancelled (the agent, for sockets in its forward directory): the
   * connection then never runs `rm` for it — an unprivileged SSH account
   * may run no commands at all.
   */
  hostRemoves?: boolean;
}

/** Options of `SshConnection.forwardToLocal`. */
export interface LocalForwardOptions {
  signal?: AbortSignal;
  /**
   * Bind the local socket at this path (it must not exist) instead of a
   * fresh one under runtimeDir: a per-operation peer socket in the forward
   * directory of an agent on this machine, which dials only sockets there.
   */
  at?: string;
}

/** One authenticated connection to one host, reused by every call of an operation. */
export interface SshConnection {
  /** The HOST argument as the user gave it. */
  readonly host: string;
  /**
   * True when the host is the machine kvmctl runs on and the connection is
   * no SSH at all (local-connection.ts): its sockets are reached directly.
   */
  readonly onThisMachine?: boolean;
  /** The account this connection logged in as on the host (from the ssh config or HOST), when known. */
  loginUser(): string | undefined;
  /**
   * A fresh local unix socket (under runtimeDir, or `options.at`) that
   * reaches `remoteSocket` on the host. The socket is usable when the
   * promise resolves.
   */
  forwardToLocal(remoteSocket: string, options?: LocalForwardOptions): Promise<string>;
  /** Stops a local forward made by this connection and removes its socket file; any other path is left alone. */
  cancelLocalForward(localPath: string): Promise<void>;
  /**
   * Listens at `remotePath` on the host (must not exist: use a fresh
   * per-operation path) and connects each incoming connection to
   * `localSocket`. Resolves once the remote socket is bound; fails (kind
   * 'forward') if it cannot be bound.
   */
  forwardToRemote(remotePath: string, localSocket: string, options?: RemoteForwardOptions): Promise<void>;
  /** Stops listening at `remotePath` and removes the socket file on the host (unless the host removes it: RemoteForwardOptions.hostRemoves). */
  cancelRemoteForward(remotePath: string): Promise<void>;
  /** Runs argv on the host (each argument quoted for the remote shell). */
  exec(argv: readonly string[], options?: ExecOptions): Promise<RemoteExecResult>;
  /** Closes forwards and the connection; removes local sockets. Idempotent. */
  close(): Promise<void>;
}

/**
 * The arguments of SshConnection call `K`, as the interface declares them.
 * The engines take `...[remoteSocket, options = {}]: ConnectionCallArgs<'forwardToLocal'>`
 * where a call has an option type of its own, so that each call's
 * signature is written here once instead of restated (and imported) by
 * every engine.
 */
export type ConnectionCallArgs<K extends keyof SshConnection> = SshConnection[K] extends (...args: infer A) => unknown ? A : never;

/** A way to open SSH connections. */
export interface SshEngine {
  readonly name: 'openssh' | 'ssh2';
  /** Connects and authenticates, checking the host key strictly against known_hosts. */
  connect(host: string, options?: { signal?: AbortSignal }): Promise<SshConnection>;
}

/** Quotes one argument for a POSIX remote shell. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** argv as one command line for the host's shell (sshd runs every command through it). */
export function commandLine(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}
