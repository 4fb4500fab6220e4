/**
 * One OpenSSH master connection (`ControlMaster=yes`, `-N`): it authenticates
 * once and then carries every forward and remote command of an operation as
 * mux requests on its control socket. It stays our child process (no
 * ControlPersist), so the controller owns its lifetime.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, lstatSync } from 'node:fs';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { checkControlPath, masterCommand, muxArgs } from './openssh-args.js';
import { SshStderrCollector, sshFailure, stderrSummary, type SshStderrFacts } from './openssh-errors.js';
import { ownPath, releasePath, runSsh, spawnTracked, terminate } from './openssh-process.js';
import { SshError, type SshSettings } from './ssh-engine.js';

/** What starting a master needs. */
export interface MasterOptions {
  sshPath: string;
  settings: SshSettings;
  host: string;
  controlPath: string;
  signal?: AbortSignal;
}

/**
 * What a connection needs from its master, whether our child (OpenSshMaster)
 * or a persisted one shared between runs (PersistentMaster, ssh.persist).
 */
export interface SshMaster {
  /** Its control socket: every mux request and remote command goes there. */
  readonly controlPath: string;
  /** True when it outlives this process: our forwards must then be cancelled one by one. */
  readonly persistent: boolean;
  readonly alive: boolean;
  readonly pid: number | undefined;
  facts(): SshStderrFacts;
  lost(): SshError;
  stop(): Promise<void>;
}

const POLL_MS = 25;
/** Time a mux `exit` gets before the master is signalled. */
const EXIT_GRACE_MS = 3000;

function isSocket(path: string): boolean {
  try {
    return lstatSync(path).isSocket();
  } catch {
    return false;
  }
}

/** A running master; created by `OpenSshMaster.start`. */
export class OpenSshMaster implements SshMaster {
  readonly persistent = false;
  private ended: { code: number | null; signal: NodeJS.Signals | null; error?: Error } | undefined;
  /** Settles once the process has exited and its stderr is drained. */
  private readonly closed: Promise<void>;

  private constructor(
    private readonly options: MasterOptions,
    private readonly child: ChildProcess,
    private readonly stderr: SshStderrCollector,
  ) {
    this.closed = new Promise((resolve) => {
      child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
        this.ended ??= { code, signal };
        resolve();
      });
      child.once('error', (error: Error) => {
        this.ended ??= { code: null, signal: null, error };
        resolve();
      });
    });
  }

  /**
   * Starts the master and resolves once it answers `ssh -O check` on its
   * control socket, i.e. after the host key was accepted and authentication
   * succeeded. Failures become SshErrors classified from ssh's stderr.
   * Gives up after twice the connect timeout plus 10 s (ConnectTimeout
   * covers TCP and the banner, not a server that stalls authentication).
   */
  static async start(options: MasterOptions): Promise<OpenSshMaster> {
    const { host, controlPath, settings, signal } = options;
    signal?.throwIfAborted();
    checkControlPath(host, controlPath);
    if (existsSync(controlPath)) {
      // ssh would print "ControlSocket … already exists, disabling multiplexing" and carry on unmultiplexed
      throw new SshError('config', host, `${host}: control socket ${controlPath} already exists; runtimeDir must be private to this process`);
    }
    const command = masterCommand(options.sshPath, settings, host, controlPath);
    ownPath(controlPath);
    // setpriv (when present) execs ssh in place: the child's PID is the master's.
    const child = spawnTracked(command.file, command.args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const stderr = new SshStderrCollector();
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
    const master = new OpenSshMaster(options, child, stderr);
    const limitS = Math.max(1, Math.ceil(settings.connectTimeoutS)) * 2 + 10;
    try {
      await master.waitUntilUp(limitS, signal);
    } catch (err) {
      await terminate(child);
      releasePath(controlPath);
      throw err;
    }
    // The connection is a resource, not work: it must not keep the event
    // loop alive. The process exit hook reaps it if close() is never called.
    child.unref();
    (child.stderr as Socket | null)?.unref();
    (child.stdin as Socket | null)?.unref();
    return master;
  }

  get controlPath(): string {
    return this.options.controlPath;
  }

  private async waitUntilUp(limitS: number, signal: AbortSignal | undefined): Promise<void> {
    const { host, controlPath, sshPath } = this.options;
    const deadline = Date.now() + limitS * 1000;
    for (;;) {
      await this.closedOrSleep(POLL_MS);
      if (this.ended) throw this.failure();
      signal?.throwIfAborted();
      if (Date.now() > deadline) {
        throw new SshError('unreachable', host, `${host}: no SSH connection after ${limitS}s: ${stderrSummary(this.stderr.facts()) || 'ssh said nothing'}`);
      }
      if (isSocket(controlPath)) {
        const check = await runSsh(sshPath, muxArgs(host, controlPath, 'check'), { timeoutMs: 5000, signal });
        if (check.code === 0) return;
      }
    }
  }

  /** The SshError describing why the master ended (or failed to start). */
  failure(): SshError {
    const { host } = this.options;
    if (this.ended?.error) return new SshError('config', host, `${host}: cannot run ${this.options.sshPath}: ${this.ended.error.message}`);
    return sshFailure(host, this.stderr.facts(), this.howEnded());
  }

  private howEnded(): string {
    if (!this.ended) return 'ssh ended';
    return this.ended.signal ? `ssh was killed by ${this.ended.signal}` : `ssh exited with status ${this.ended.code}`;
  }

  /** Whether the master process is still running. */
  get alive(): boolean {
    return this.ended === undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Facts from the master's stderr: host key, address, negotiated cipher, non-debug lines. */
  facts(): SshStderrFacts {
    return this.stderr.facts();
  }

  /** The error for an operation on a master that has died (network drop, killed). */
  lost(): SshError {
    const cause = this.failure();
    const kind = cause.kind === 'other' ? 'unreachable' : cause.kind;
    return new SshError(kind, this.options.host, `${this.options.host}: SSH connection lost: ${stderrSummary(this.stderr.facts()) || this.howEnded()}`);
  }

  /** Sleeps `ms`, or less if the master ends first. */
  private async closedOrSleep(ms: number): Promise<void> {
    const ac = new AbortController();
    await Promise.race([this.closed, sleep(ms, undefined, { signal: ac.signal }).catch(() => undefined)]);
    ac.abort();
  }

  /** PID of the master, for diagnostics and tests. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * Ends the master: a mux `exit` request (ssh closes its forwards and
   * channels), SIGTERM if it lingers, SIGKILL after that; then removes the
   * control socket. Resolves only once the process is reaped.
   */
  async stop(): Promise<void> {
    const { sshPath, host, controlPath } = this.options;
    if (this.alive && isSocket(controlPath)) {
      await runSsh(sshPath, muxArgs(host, controlPath, 'exit'), { timeoutMs: EXIT_GRACE_MS }).catch(() => undefined);
      await this.closedOrSleep(EXIT_GRACE_MS);
    }
    await terminate(this.child);
    releasePath(controlPath);
  }
}
