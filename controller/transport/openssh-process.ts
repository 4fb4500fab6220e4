/**
 * ssh child processes of the OpenSSH engine: spawned with argument arrays
 * (never a local shell), tracked until reaped, and killed with their socket
 * files removed when the controller's process exits — including exits that
 * skip `close()` (process.exit, an uncaught exception, an event loop that
 * simply ran dry).
 *
 * Children are spawned `detached` (own process group): a Ctrl-C in the
 * terminal must not kill the SSH connection under the controller, whose
 * revert stack still needs it to undo half-made work. The controller decides
 * what to stop, through AbortSignals and close().
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { rmSync } from 'node:fs';

const liveChildren = new Set<ChildProcess>();
const ownedPaths = new Set<string>();
let hookInstalled = false;

function installExitHook(): void {
  if (hookInstalled) return;
  hookInstalled = true;
  // 'exit' handlers must be synchronous: signal every live child, unlink every path.
  process.on('exit', reapAllSync);
}

/**
 * Kills every tracked ssh child (SIGTERM: ssh exits at once and drops its
 * forwards) and removes every registered local socket. Synchronous, for the
 * process 'exit' hook; also usable by a controller's own signal handling.
 */
export function reapAllSync(): void {
  for (const child of liveChildren) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGTERM');
      } catch {
        // already gone
      }
    }
  }
  for (const path of ownedPaths) rmSync(path, { force: true });
}

/** Spawns ssh with an argument array and tracks the child until it is reaped. */
export function spawnTracked(sshPath: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  installExitHook();
  const child = spawn(sshPath, args, { ...options, detached: true, shell: false });
  liveChildren.add(child);
  child.once('close', () => liveChildren.delete(child));
  child.once('error', () => liveChildren.delete(child));
  return child;
}

/** Registers a local file (socket) to be removed on process exit if nobody removed it before. */
export function ownPath(path: string): void {
  installExitHook();
  ownedPaths.add(path);
}

/** Removes `path` now and forgets it. */
export function releasePath(path: string): void {
  rmSync(path, { force: true });
  ownedPaths.delete(path);
}

/** Resolves when the child has exited and its stdio is closed (or at once if it already has). */
export function reaped(child: ChildProcess): Promise<void> {
  if (!liveChildren.has(child)) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('close', () => resolve());
    child.once('error', () => resolve());
  });
}

/** Signals a child, then SIGKILLs it after `graceMs`, and resolves once it is reaped. */
export async function terminate(child: ChildProcess, graceMs = 2000): Promise<void> {
  const done = reaped(child);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await done;
  clearTimeout(timer);
}

/** How a short-lived ssh ended. `code` is null when a signal ended it. */
export interface SshRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Set when our timeout (not the caller's signal) killed it. */
  timedOut: boolean;
  /** Set when stdout or stderr exceeded `maxBytes` and the child was killed. */
  overflow: boolean;
}

/** Options of runSsh. */
export interface RunSshOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Per stream; default 64 MiB. */
  maxBytes?: number;
  /** Written to ssh's stdin, which is then closed (without it, stdin is /dev/null). */
  input?: Uint8Array;
}

/**
 * A function that kills the short-lived ssh `child` (the first call; later
 * ones do nothing) and stops reading its output once it has exited.
 */
function killOnce(child: ChildProcess): () => void {
  let killing = false;
  // A mux client hands its stdout/stderr to the master, which keeps writing
  // into them until the remote command ends: once we killed the client, stop
  // reading, or 'close' would wait for the remote command.
  const stopReading = (): void => {
    child.stdout?.destroy();
    child.stderr?.destroy();
  };
  return (): void => {
    if (killing) return;
    killing = true;
    if (child.exitCode !== null || child.signalCode !== null) stopReading();
    else child.once('exit', stopReading);
    void terminate(child);
  };
}

/** Output of a stream collected so far. */
interface OutputSink {
  chunks: Buffer[];
  bytes: number;
}

/** Collects the child's stdout and stderr; a stream past `maxBytes` calls `onOverflow` and its further data is dropped. */
function collectOutput(child: ChildProcess, maxBytes: number, onOverflow: () => void): { out: OutputSink; err: OutputSink } {
  const out = { chunks: [] as Buffer[], bytes: 0 };
  const err = { chunks: [] as Buffer[], bytes: 0 };
  const collect =
    (sink: OutputSink) =>
    (b: Buffer): void => {
      sink.bytes += b.length;
      if (sink.bytes > maxBytes) {
        onOverflow();
        return;
      }
      sink.chunks.push(b);
    };
  child.stdout?.on('data', collect(out));
  child.stderr?.on('data', collect(err));
  return { out, err };
}

/**
 * Runs ssh to completion and collects its output. An abort kills the child
 * and rejects with the signal's reason only after the child is reaped, so no
 * ssh outlives the call that started it.
 */
export async function runSsh(sshPath: string, args: readonly string[], options: RunSshOptions = {}): Promise<SshRun> {
  options.signal?.throwIfAborted();
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  const child = spawnTracked(sshPath, args, { stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  if (options.input !== undefined && child.stdin) {
    child.stdin.on('error', () => undefined); // the remote command exited without reading all of it: its status says why
    child.stdin.end(options.input);
  }
  let overflow = false;
  let timedOut = false;
  let aborted = false;
  const kill = killOnce(child);
  const { out, err } = collectOutput(child, maxBytes, () => {
    overflow = true;
    kill();
  });
  const onAbort = (): void => {
    aborted = true;
    kill();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const onTimeout = (): void => {
    timedOut = true;
    kill();
  };
  const timer = options.timeoutMs === undefined ? undefined : setTimeout(onTimeout, options.timeoutMs);
  try {
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (c: number | null, s: NodeJS.Signals | null) => resolve([c, s]));
    });
    if (aborted) throw options.signal?.reason ?? new Error('aborted');
    return { code, signal, stdout: Buffer.concat(out.chunks).toString('utf8'), stderr: Buffer.concat(err.chunks).toString('utf8'), timedOut, overflow };
  } finally {
    if (timer) clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}
