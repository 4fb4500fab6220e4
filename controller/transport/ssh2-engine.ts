/**
 * The pure-JavaScript SSH engine (`ssh2`), used where the OpenSSH client is
 * absent. By design (docs/architecture.md) the SSH connection and every forwarded byte
 * live in a worker thread (one per connection, ssh2-worker.ts): ssh2
 * packetises in JavaScript, and on the main thread that CPU would compete
 * with the controller's own gRPC work. This side only resolves HOST against
 * the ssh config, sends commands to the worker and turns replies back into
 * promises and SshErrors.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { resolveHost, type ResolveEnvironment } from './host-resolve.js';
import { SshError, commandLine, type ConnectionCallArgs, type RemoteExecResult, type SshConnection, type SshEngine, type SshSettings } from './ssh-engine.js';
import type { ConnectInfo, ReplyValue, WireError, WorkerReply, WorkerRequest } from './ssh2-worker-protocol.js';

/** Whether ssh2's native crypto binding (sshcrypto.node) loaded; without it ssh2 falls back to slower Node crypto paths, so kvmctl can warn. */
export { nativeCryptoLoaded } from './ssh2-session.js';

const WORKER_URL = new URL('./ssh2-worker.js', import.meta.url);
/** How long close() waits for the worker to clean up (remote sockets, channels) before terminating it. */
const CLOSE_GRACE_MS = 10_000;

/** Distributes WorkerRequest over its members, dropping the id the connection assigns. */
type Request = WorkerRequest extends infer R ? (R extends WorkerRequest ? Omit<R, 'id'> : never) : never;

/** What to do with a request whose caller gave up. */
interface Undo {
  onAbort?(id: number): void;
  onLateResult?(value: ReplyValue): void;
}

interface Pending {
  resolve(value: ReplyValue): void;
  reject(err: Error): void;
}

function fromWire(e: WireError): SshError {
  return new SshError(e.kind, e.host, e.message, e.fingerprint);
}

/** The ssh2 engine. `environment` overrides local facts for HOST resolution (tests). */
export class Ssh2Engine implements SshEngine {
  readonly name = 'ssh2' as const;

  constructor(
    private readonly settings: SshSettings,
    private readonly environment: Partial<ResolveEnvironment> = {},
  ) {}

  /** Resolves HOST, starts a worker and connects it; the host key is checked strictly, auth never prompts. */
  async connect(host: string, options: { signal?: AbortSignal } = {}): Promise<Ssh2Connection> {
    options.signal?.throwIfAborted();
    const target = await resolveHost(host, this.settings, this.environment);
    await mkdir(this.settings.runtimeDir, { recursive: true, mode: 0o700 });
    const socketDir = await mkdtemp(join(this.settings.runtimeDir, 'ssh2-')); // 0700: only we reach its sockets
    const connection = new Ssh2Connection(host, new Worker(WORKER_URL), socketDir, target.user);
    try {
      await connection.start({ op: 'connect', plan: { host, target, ciphers: this.settings.ciphers, runtimeDir: socketDir } }, options.signal);
    } catch (err) {
      await connection.close();
      throw err;
    }
    return connection;
  }
}

/** One connection, served by its own worker thread. */
export class Ssh2Connection implements SshConnection {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failure: SshError | undefined;
  private closed: Promise<void> | undefined;
  private connectInfo: ConnectInfo | undefined;

  constructor(
    readonly host: string,
    private readonly worker: Worker,
    private readonly socketDir: string,
    private readonly user?: string,
  ) {
    worker.on('message', (reply: WorkerReply) => this.onReply(reply));
    worker.on('error', (err) => this.fail(new SshError('other', host, `${host}: ssh2 worker failed: ${err.message}`)));
    worker.on('exit', (code) => this.fail(new SshError('other', host, `${host}: ssh2 worker exited (code ${code})`)));
  }

  private onReply(reply: WorkerReply): void {
    if (reply.type === 'lost') return this.fail(fromWire(reply.error));
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    if (reply.type === 'ok') p.resolve(reply.value);
    else p.reject(fromWire(reply.error));
  }

  /** Marks the connection unusable and fails everything in flight. */
  private fail(err: SshError): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
  }

  /**
   * Sends a request. On abort the promise rejects at once with the signal's
   * reason; `onAbort` then cancels the work in the worker, and `onLateResult`
   * undoes it if it completes anyway (a forward nobody will use).
   */
  private call(request: Request, signal?: AbortSignal, undo: Undo = {}): Promise<ReplyValue> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new SshError('other', this.host, `${this.host}: connection is closed`));
    signal?.throwIfAborted();
    const id = this.nextId++;
    return new Promise<ReplyValue>((resolve, reject) => {
      const onAbort = (): void => {
        this.pending.set(id, { resolve: (v) => undo.onLateResult?.(v), reject: () => undefined });
        undo.onAbort?.(id);
        reject(signal?.reason ?? new Error('aborted'));
      };
      this.pending.set(id, {
        resolve: (v) => (signal?.removeEventListener('abort', onAbort), resolve(v)),
        reject: (e) => (signal?.removeEventListener('abort', onAbort), reject(e)),
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.worker.postMessage({ ...request, id });
    });
  }

  /** Connects (used once, by Ssh2Engine.connect). */
  async start(request: Extract<Request, { op: 'connect' }>, signal?: AbortSignal): Promise<void> {
    this.connectInfo = (await this.call(request, signal)) as ConnectInfo;
  }

  loginUser(): string | undefined {
    return this.user;
  }

  /** Negotiated cipher, verified host key fingerprint and native-crypto state (undefined until connected). */
  get info(): ConnectInfo | undefined {
    return this.connectInfo;
  }

  async forwardToLocal(...[remoteSocket, options = {}]: ConnectionCallArgs<'forwardToLocal'>): Promise<string> {
    const onLateResult = (value: ReplyValue): void => {
      if (typeof value === 'string') void this.call({ op: 'closeLocal', localSocket: value }).catch(() => undefined);
    };
    const request = { op: 'forwardToLocal' as const, remoteSocket, ...(options.at !== undefined && { at: options.at }) };
    return (await this.call(request, options.signal, { onLateResult })) as string;
  }

  async cancelLocalForward(localPath: string): Promise<void> {
    await this.call({ op: 'closeLocal', localSocket: localPath });
  }

  async forwardToRemote(...[remotePath, localSocket, options = {}]: ConnectionCallArgs<'forwardToRemote'>): Promise<void> {
    // undone only once the bind's outcome is known: a cancel racing the bind could leave the socket behind
    const onLateResult = (): void => void this.cancelRemoteForward(remotePath).catch(() => undefined);
    await this.call({ op: 'forwardToRemote', remotePath, localSocket, hostRemoves: options.hostRemoves === true }, options.signal, { onLateResult });
  }

  async cancelRemoteForward(remotePath: string): Promise<void> {
    await this.call({ op: 'cancelRemoteForward', remotePath });
  }

  /** Runs argv with each argument shell-quoted; a timeout or abort kills the command through sshd. */
  async exec(...[argv, options = {}]: ConnectionCallArgs<'exec'>): Promise<RemoteExecResult> {
    if (argv.length === 0) throw new SshError('other', this.host, `${this.host}: exec needs a command`);
    const command = commandLine(argv);
    const onAbort = (id: number): void => void this.call({ op: 'cancelExec', execId: id }).catch(() => undefined);
    const signals = [options.signal, options.timeoutMs !== undefined ? AbortSignal.timeout(options.timeoutMs) : undefined].filter((s): s is AbortSignal => !!s);
    const signal = signals.length > 0 ? AbortSignal.any(signals) : undefined;
    try {
      return (await this.call({ op: 'exec', command, input: options.input }, signal, { onAbort })) as RemoteExecResult;
    } catch (err) {
      if (signal?.aborted && !options.signal?.aborted) {
        throw new SshError('other', this.host, `${this.host}: command timed out after ${options.timeoutMs} ms and was killed: ${command}`);
      }
      throw err;
    }
  }

  /** Cleans up in the worker (remote sockets, channels, connections), stops it, removes the local sockets. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      if (!this.failure) {
        const id = this.nextId++;
        const done = new Promise<void>((resolve) => this.pending.set(id, { resolve: () => resolve(), reject: () => resolve() }));
        this.worker.postMessage({ op: 'close', id } satisfies WorkerRequest);
        await Promise.race([done, new Promise((resolve) => setTimeout(resolve, CLOSE_GRACE_MS).unref())]);
      }
      this.failure ??= new SshError('other', this.host, `${this.host}: connection is closed`);
      await this.worker.terminate();
      await rm(this.socketDir, { recursive: true, force: true });
    })();
    return this.closed;
  }
}
