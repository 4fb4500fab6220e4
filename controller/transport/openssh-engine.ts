/**
 * The SshEngine over the OpenSSH `ssh` binary — the default engine: fastest
 * here, and it honours the user's ssh config, ssh-agent, certificates and
 * known_hosts natively. One master per host; every forward is added to it
 * with `ssh -O forward`, so forwarded bytes flow sshd → ssh → unix socket and
 * never through Node. Remote commands are mux sessions on the same master.
 */
import { accessSync, constants, existsSync, lstatSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { checkSocketPath, destinationArgs, execArgs, findOpenSsh, muxArgs } from './openssh-args.js';
import { muxRequestFailed, type SshStderrFacts } from './openssh-errors.js';
import { OpenSshMaster, type SshMaster } from './openssh-master.js';
import { PersistentMaster } from './openssh-persist.js';
import { ownPath, releasePath, runSsh, type SshRun } from './openssh-process.js';
import { SshError, commandLine, type ConnectionCallArgs, type ExecOptions, type RemoteExecResult, type SshConnection, type SshEngine, type SshSettings } from './ssh-engine.js';

export { findOpenSsh } from './openssh-args.js';

/** A mux request waits for the server's answer (for -R): allow a slow link. */
const MUX_TIMEOUT_MS = 30_000;
/** How long a local forward socket may take to appear after the master accepted it. */
const LOCAL_SOCKET_WAIT_MS = 2000;

let counter = 0;
const nextId = (): number => ++counter;

function isSocket(path: string): boolean {
  try {
    return lstatSync(path).isSocket();
  } catch {
    return false;
  }
}

/** Refuses a runtimeDir that others could plant sockets in (our control and forward sockets live there). */
function checkRuntimeDir(host: string, dir: string): void {
  let st;
  try {
    st = statSync(dir);
  } catch (err) {
    throw new SshError('config', host, `runtimeDir ${dir} is not usable: ${(err as Error).message}`);
  }
  if (!st.isDirectory() || (st.mode & 0o022) !== 0 || st.uid !== process.getuid?.()) {
    throw new SshError('config', host, `runtimeDir ${dir} must be a directory owned by this user and writable by no one else (mode 0700)`);
  }
}

/** The OpenSSH engine. Construct it with the settings every connection shares. */
export class OpenSshEngine implements SshEngine {
  readonly name = 'openssh' as const;
  /** The ssh binary this engine runs. */
  readonly sshPath: string;

  /** Throws if no `ssh` binary is given or found on PATH: pick the ssh2 engine then (see findOpenSsh). */
  constructor(
    private readonly settings: SshSettings,
    options: { sshPath?: string } = {},
  ) {
    const sshPath = options.sshPath ?? findOpenSsh();
    if (sshPath === undefined) throw new Error('no OpenSSH client (ssh) on PATH; use the ssh2 engine');
    this.sshPath = sshPath;
  }

  /** Starts a master connection to `host` (strict host-key checking, batch mode) and waits until it is up. */
  async connect(host: string, options: { signal?: AbortSignal } = {}): Promise<OpenSshConnection> {
    destinationArgs(host); // validates HOST before anything runs
    checkRuntimeDir(host, this.settings.runtimeDir);
    if (this.settings.identityFile !== undefined) {
      try {
        accessSync(this.settings.identityFile, constants.R_OK);
      } catch (err) {
        throw new SshError('config', host, `identity file ${this.settings.identityFile} is not readable: ${(err as Error).message}`);
      }
    }
    const { sshPath, settings } = this;
    const master: SshMaster =
      settings.persistS !== undefined && settings.persistS > 0
        ? await PersistentMaster.attach({ sshPath, settings, host, seconds: settings.persistS, signal: options.signal })
        : await OpenSshMaster.start({ sshPath, settings, host, controlPath: join(settings.runtimeDir, `cm-${nextId()}`), signal: options.signal });
    return new OpenSshConnection(sshPath, settings, host, master);
  }
}

/** One master connection and the forwards added to it. Created by OpenSshEngine.connect. */
export class OpenSshConnection implements SshConnection {
  /** local socket path → remote socket it reaches */
  private readonly localForwards = new Map<string, string>();
  /** remote listen path → local socket it reaches, and whether the host removes the socket file */
  private readonly remoteForwards = new Map<string, { local: string; hostRemoves: boolean }>();
  /** Forward requests in flight: close() waits for them, so none lands after the cleanup. */
  private readonly pending = new Set<Promise<unknown>>();
  private closing: Promise<void> | undefined;

  constructor(
    private readonly sshPath: string,
    private readonly settings: SshSettings,
    readonly host: string,
    private readonly master: SshMaster,
  ) {
    this.controlPath = master.controlPath;
  }

  private readonly controlPath: string;

  /** What the master learned: host key fingerprint, address, negotiated cipher, non-debug stderr lines. */
  facts(): SshStderrFacts {
    return this.master.facts();
  }

  loginUser(): string | undefined {
    return this.master.facts().user;
  }

  /** PID of the master process (tests check it is gone after close). */
  get masterPid(): number | undefined {
    return this.master.pid;
  }

  forwardToLocal(...[remoteSocket, options = {}]: ConnectionCallArgs<'forwardToLocal'>): Promise<string> {
    return this.tracked(() => this.addLocalForward(remoteSocket, options.signal, options.at));
  }

  private async addLocalForward(remoteSocket: string, signal: AbortSignal | undefined, at: string | undefined): Promise<string> {
    this.usable();
    checkSocketPath(this.host, 'remote socket', remoteSocket);
    const localPath = at ?? join(this.settings.runtimeDir, `fwd-${nextId()}.sock`);
    checkSocketPath(this.host, at === undefined ? 'local forward socket (under runtimeDir)' : 'local forward socket', localPath);
    // never take over (or, on failure, remove) a path someone else made
    if (at !== undefined && existsSync(at)) throw new SshError('forward', this.host, `cannot forward ${at} to ${this.host}:${remoteSocket}: ${at} exists already`);
    const spec = ['-L', `${localPath}:${remoteSocket}`];
    ownPath(localPath);
    this.localForwards.set(localPath, remoteSocket);
    try {
      const r = await this.mux('forward', spec, signal);
      if (r.code !== 0 || muxRequestFailed(r.stderr)) throw this.forwardError(`cannot forward ${localPath} to ${this.host}:${remoteSocket}`, r);
      // the master binds before it replies; poll briefly in case a future ssh does not
      const start = Date.now();
      while (!isSocket(localPath)) {
        if (Date.now() - start > LOCAL_SOCKET_WAIT_MS) throw new SshError('forward', this.host, `${this.host}: ssh accepted the forward but ${localPath} never appeared`);
        await sleep(10, undefined, { signal });
      }
      return localPath;
    } catch (err) {
      this.localForwards.delete(localPath);
      if (this.master.alive) await this.mux('cancel', spec).catch(() => undefined);
      releasePath(localPath);
      throw err;
    }
  }

  /** A path this connection does not forward is left alone. */
  async cancelLocalForward(localPath: string): Promise<void> {
    const remoteSocket = this.localForwards.get(localPath);
    if (remoteSocket === undefined) return;
    this.localForwards.delete(localPath);
    try {
      if (this.master.alive) {
        const r = await this.mux('cancel', ['-L', `${localPath}:${remoteSocket}`]);
        if (r.code !== 0 || muxRequestFailed(r.stderr)) throw this.forwardError(`cannot cancel the forward at ${localPath}`, r);
      }
    } finally {
      releasePath(localPath);
    }
  }

  /**
   * The mux reply to `-O forward -R` comes only after sshd answered the
   * global request (verified on OpenSSH 9.2: the socket exists when ssh
   * returns), so no extra round trip is needed to know it is bound. A path
   * that exists on the host is refused by sshd (StreamLocalBindUnlink no):
   * never a silent takeover.
   */
  forwardToRemote(...[remotePath, localSocket, options = {}]: ConnectionCallArgs<'forwardToRemote'>): Promise<void> {
    return this.tracked(() => this.addRemoteForward(remotePath, localSocket, options.signal, options.hostRemoves === true));
  }

  private async addRemoteForward(remotePath: string, localSocket: string, signal: AbortSignal | undefined, hostRemoves: boolean): Promise<void> {
    this.usable();
    checkSocketPath(this.host, 'remote listen path', remotePath);
    checkSocketPath(this.host, 'local socket', localSocket);
    // ssh itself answers "ok" to a repeated identical spec without asking the server
    if (this.remoteForwards.has(remotePath)) {
      throw new SshError('forward', this.host, `${this.host}:${remotePath} is already forwarded by this connection; use a fresh path per operation`);
    }
    if (!isSocket(localSocket)) throw new SshError('forward', this.host, `local socket ${localSocket} does not exist: nothing would answer at ${this.host}:${remotePath}`);
    const spec = ['-R', `${remotePath}:${localSocket}`];
    this.remoteForwards.set(remotePath, { local: localSocket, hostRemoves });
    try {
      const r = await this.mux('forward', spec, signal);
      if (r.code !== 0 || muxRequestFailed(r.stderr)) {
        throw this.forwardError(`cannot listen at ${this.host}:${remotePath} (it exists already, or its directory is missing or not writable by the login user)`, r);
      }
    } catch (err) {
      this.remoteForwards.delete(remotePath);
      // cancel only: the path may be someone else's live socket, never remove it
      if (this.master.alive) await this.mux('cancel', spec).catch(() => undefined);
      throw err;
    }
  }

  /** A path this connection does not forward is left alone: it may belong to someone else. */
  async cancelRemoteForward(remotePath: string): Promise<void> {
    const forward = this.remoteForwards.get(remotePath);
    if (forward === undefined) return;
    this.usable();
    this.remoteForwards.delete(remotePath);
    await this.removeRemote(remotePath, forward);
  }

  /**
   * Runs argv through a mux session. The command line is argv quoted for a
   * POSIX shell, since sshd always runs commands through the login shell.
   * Killing the ssh (timeout, abort) closes the session; a remote command
   * that never reads or writes again is not signalled (no tty).
   */
  async exec(...[argv, options = {}]: ConnectionCallArgs<'exec'>): Promise<RemoteExecResult> {
    this.usable();
    return this.run(argv, options);
  }

  /** Cancels every forward, removes remote sockets we bound, ends the master, removes local sockets. Never throws. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    await Promise.allSettled([...this.pending]);
    // Local forwards end with the master (their socket files are removed below); remote sockets outlive it.
    if (this.master.alive) await Promise.allSettled([...this.remoteForwards].map(([path, forward]) => this.removeRemote(path, forward)));
    this.remoteForwards.clear();
    // a persisted master outlives us: our local forwards would stay bound in it
    if (this.master.persistent && this.master.alive) await Promise.allSettled([...this.localForwards.keys()].map((path) => this.cancelLocalForward(path)));
    await this.master.stop();
    for (const path of this.localForwards.keys()) releasePath(path);
    this.localForwards.clear();
  }

  private tracked<T>(op: () => Promise<T>): Promise<T> {
    const p = op();
    this.pending.add(p);
    const forget = (): void => void this.pending.delete(p);
    p.then(forget, forget);
    return p;
  }

  private async removeRemote(remotePath: string, forward: { local: string; hostRemoves: boolean }): Promise<void> {
    const cancel = await this.mux('cancel', ['-R', `${remotePath}:${forward.local}`]);
    if (cancel.code !== 0 || muxRequestFailed(cancel.stderr)) throw this.forwardError(`cannot cancel the forward at ${this.host}:${remotePath}`, cancel);
    if (forward.hostRemoves) return;
    // sshd never unlinks a -R socket: remove it, or the next bind of this path fails
    const rm = await this.run(['rm', '-f', '--', remotePath], { timeoutMs: MUX_TIMEOUT_MS });
    if (rm.code !== 0) throw new SshError('other', this.host, `${this.host}: cannot remove ${remotePath}: ${rm.stderr.trim()}`);
  }

  private async run(argv: readonly string[], options: ExecOptions): Promise<RemoteExecResult> {
    const name = argv[0];
    if (name === undefined) throw new TypeError('exec needs a command');
    const command = commandLine(argv);
    const r = await runSsh(this.sshPath, execArgs(this.settings, this.host, this.controlPath, command, options.input !== undefined), options);
    if (r.timedOut) throw new SshError('other', this.host, `${this.host}: ${name} did not finish within ${options.timeoutMs} ms (killed)`);
    if (r.overflow) throw new SshError('other', this.host, `${this.host}: ${name} wrote more output than exec collects`);
    if (r.code === null) throw new SshError('other', this.host, `${this.host}: ssh running ${name} was killed by ${r.signal}`);
    if (r.code === 255 && !this.master.alive) throw this.master.lost();
    if (r.code === 255 && muxRequestFailed(r.stderr)) throw new SshError('other', this.host, `${this.host}: no session for ${name}: ${r.stderr.trim()}`);
    return { code: r.code, stdout: r.stdout, stderr: r.stderr };
  }

  private mux(command: 'forward' | 'cancel', spec: string[], signal?: AbortSignal): Promise<SshRun> {
    return runSsh(this.sshPath, muxArgs(this.host, this.controlPath, command, spec), { signal, timeoutMs: MUX_TIMEOUT_MS });
  }

  private forwardError(what: string, r: SshRun): SshError {
    if (!this.master.alive) return this.master.lost();
    const said = r.stderr
      .split(/\r?\n/)
      .filter((l) => l.trim() !== '' && !l.startsWith('debug'))
      .join(' | ');
    return new SshError('forward', this.host, `${this.host}: ${what}: ${said || `ssh exited with status ${r.code}`}`);
  }

  private usable(): void {
    if (this.closing) throw new SshError('other', this.host, `${this.host}: the SSH connection is closed`);
    if (!this.master.alive) throw this.master.lost();
  }
}
