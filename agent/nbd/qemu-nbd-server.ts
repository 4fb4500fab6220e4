/**
 * A qemu-nbd of the agent's own, serving one image on a unix socket: how the
 * agent reads and writes an image through its format (guest offsets in,
 * qcow2 clusters out), and how it exposes a persistent dirty bitmap.
 *
 * qemu-nbd runs in the foreground as our child (no --fork, so its exit and
 * its stderr are ours to see), started from an argument array, never a
 * shell. `--persistent` keeps it serving across the connections the agent
 * opens and closes; `--shared=4` lets a few run at once. It is started
 * through `setpriv --pdeathsig SIGTERM` (util-linux), so it stops (flushing)
 * when the agent dies however it dies, instead of living on and holding the
 * image's lock; the death signal follows the thread that spawned it, which
 * is the main thread for child_process.
 *
 * Writable exports use `--cache=none` (O_DIRECT), read-only ones the default
 * writeback. Measured on a 2-vCPU dev VM (ext4, disk shared with other
 * work): 1 GiB of random data written through NbdClient, 4 requests of 2 or
 * 4 MiB in flight, then FLUSH and stop, six runs per cell. Median total time
 * raw 9.1 s with none against 10.4 s with writeback, qcow2 8.2 s against
 * 10.9 s; none was faster in 9 of 12 paired runs. Writeback only moves the
 * work into the flush (0.4–1 s) and leaves the whole GiB of one-off data in
 * the host's page cache (fincore: 1020 MiB against 0), evicting what the
 * running VMs need. Reads keep writeback for the kernel's read-ahead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { KvmcloneError, errnoCode, failedPrecondition, invalidArgument, notFound, permissionDenied } from '../../shared/errors.js';
import { NbdClient } from './nbd-client.js';
import { removeStaleSocket } from '../server/socket-file.js';

/** How to serve an image. */
export interface QemuNbdOptions {
  /** Image path (passed after `--`, so no name is taken for an option). */
  image: string;
  /** The image's format, never probed: the caller knows what it is. */
  format: 'raw' | 'qcow2';
  /** Unix socket to serve on; refused if something already serves there, replaced if stale. */
  socketPath: string;
  readOnly: boolean;
  /** Export name; default "" (the default export). */
  exportName?: string;
  /** Persistent dirty bitmap to expose as metadata context `qemu:dirty-bitmap:NAME`. */
  bitmap?: string;
  /** Cache mode; default "none" when writable, "writeback" when read-only (see the module comment). */
  cache?: 'none' | 'writeback';
  /** Aborts the start (a started server is the caller's to close). */
  signal: AbortSignal;
  /** Bound on the start; default 15 s. */
  startTimeoutMs?: number;
  /**
   * Descriptors qemu-nbd gets as its fd 3, 4, ... (run-with-fds.ts): with
   * them, `image` is a `json:` filename over `/dev/fd/N` that states every
   * driver (held-chain.ts), so qemu-nbd opens nothing by name, and `format`
   * is not passed (the filename states it).
   */
  fds?: readonly number[];
}

/** A running qemu-nbd. */
export interface QemuNbdServer {
  readonly socketPath: string;
  readonly exportName: string;
  readonly pid: number;
  /**
   * Stops it: SIGTERM (qemu-nbd then flushes and exits), SIGKILL after
   * STOP_GRACE_MS, then removes the socket file. Rejects (after all that)
   * when qemu-nbd had to be killed or exited with an error, since writes may
   * then not be on disk. Idempotent.
   */
  close(): Promise<void>;
}

const DEFAULT_START_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 30_000;
const STDERR_KEEP_BYTES = 8192;

/** The qemu-nbd command line for `options`. */
function qemuNbdArgs(options: Omit<QemuNbdOptions, 'signal'>): string[] {
  const { image, format, socketPath, readOnly, exportName = '', bitmap, cache = readOnly ? 'writeback' : 'none', fds } = options;
  const args = ['--socket', socketPath, ...(fds === undefined ? ['--format', format] : []), '--export-name', exportName, '--shared=4', '--persistent', `--cache=${cache}`];
  if (readOnly) args.push('--read-only');
  else args.push('--discard=unmap', '--detect-zeroes=unmap');
  if (bitmap !== undefined) args.push('--bitmap', bitmap);
  args.push('--', image);
  return args;
}

/** An early exit's stderr as the error a caller can act on. */
function startFailure(image: string, stderr: string, exit: string): KvmcloneError {
  const text = stderr.trim() === '' ? `qemu-nbd ${exit} without a message` : stderr.trim();
  if (/failed to execute qemu-nbd/.test(text)) return failedPrecondition(`qemu-nbd is not installed (Debian: qemu-utils): ${text}`);
  const message = `qemu-nbd could not serve ${image}: ${text}`;
  if (/No such file or directory|is not found/.test(text)) return notFound(message);
  if (/Permission denied/.test(text)) return permissionDenied(message);
  if (/Failed to get ".*" lock|another process using/.test(text)) return failedPrecondition(message);
  if (/Image is not in .* format|Unknown driver|Could not open/.test(text)) return invalidArgument(message);
  return new KvmcloneError('INTERNAL', message);
}

/** A qemu-nbd child under setpriv, and what its events have told so far: its stderr's tail and how it ended. */
class QemuNbdProcess {
  readonly child: ChildProcess;
  /** Resolves once it has exited, or could not be started. */
  readonly exited: Promise<void>;
  stderr = '';
  spawnError: Error | undefined;
  exit: string | undefined;

  constructor(options: QemuNbdOptions) {
    const child = spawn('setpriv', ['--pdeathsig', 'SIGTERM', '--', 'qemu-nbd', ...qemuNbdArgs(options)], {
      stdio: ['ignore', 'ignore', 'pipe', ...(options.fds ?? [])],
      env: { ...process.env, LC_ALL: 'C' },
    });
    this.child = child;
    child.stderr?.setEncoding('utf8').on('data', (s: string) => {
      this.stderr = (this.stderr + s).slice(-STDERR_KEEP_BYTES);
    });
    this.exited = new Promise<void>((resolve) => {
      child.once('error', (err) => {
        this.spawnError = err;
        this.exit ??= 'did not start';
        resolve();
      });
      child.once('close', (code, sig) => {
        this.exit = sig === null ? `exited with code ${code}` : `was killed by ${sig}`;
        resolve();
      });
    });
  }

  /** QemuNbdServer.close: SIGTERM, SIGKILL after STOP_GRACE_MS, the socket file removed, then what went wrong. */
  async stop(socketPath: string, image: string): Promise<void> {
    let killed = false;
    if (this.exit === undefined) {
      this.child.kill('SIGTERM');
      const grace = sleep(STOP_GRACE_MS, 'late', { ref: false });
      if ((await Promise.race([this.exited.then(() => 'gone'), grace])) === 'late') {
        this.child.kill('SIGKILL');
        killed = true;
        await this.exited;
      }
    }
    await unlink(socketPath).catch(() => undefined);
    if (killed)
      throw new KvmcloneError('INTERNAL', `qemu-nbd serving ${image} did not stop within ${STOP_GRACE_MS / 1000} s of SIGTERM and was killed: its last writes may not be on disk`);
    if (this.exit !== 'exited with code 0' && this.exit !== 'was killed by SIGTERM')
      throw new KvmcloneError('INTERNAL', `qemu-nbd serving ${image} ${this.exit}: ${this.stderr.trim()}`);
  }
}

/**
 * Starts qemu-nbd for `options.image` and resolves once its export answers a
 * handshake. Fails with the process's stderr when it exits first (NOT_FOUND
 * for a missing image or bitmap, FAILED_PRECONDITION when the image is
 * locked by another process), DEADLINE_EXCEEDED when it does not answer in
 * time, FAILED_PRECONDITION when qemu-nbd (or setpriv) is not installed.
 */
export async function startQemuNbd(options: QemuNbdOptions): Promise<QemuNbdServer> {
  const { image, socketPath, exportName = '', signal, startTimeoutMs = DEFAULT_START_TIMEOUT_MS } = options;
  signal.throwIfAborted();
  // qemu-nbd would silently unlink even a live socket: one something serves on is refused here first.
  await removeStaleSocket(socketPath, 'something');
  const proc = new QemuNbdProcess(options);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= proc.stop(socketPath, image));

  try {
    await waitUntilServing(socketPath, exportName, signal, startTimeoutMs, () => proc.exit !== undefined);
  } catch (err) {
    await close().catch(() => undefined);
    if (proc.spawnError !== undefined) {
      if (errnoCode(proc.spawnError) === 'ENOENT') throw failedPrecondition('setpriv is not installed (Debian: util-linux)');
      throw new KvmcloneError('INTERNAL', `cannot run qemu-nbd: ${proc.spawnError.message}`);
    }
    if (proc.exit !== undefined && !signal.aborted) throw startFailure(image, proc.stderr, proc.exit);
    throw err;
  }
  return { socketPath, exportName, pid: proc.child.pid ?? -1, close };
}

/** Polls with real handshakes (a bare connect makes qemu-nbd log a failed negotiation) until one succeeds. */
async function waitUntilServing(socketPath: string, exportName: string, signal: AbortSignal, timeoutMs: number, hasExited: () => boolean): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    signal.throwIfAborted();
    if (hasExited()) throw new KvmcloneError('UNAVAILABLE', 'qemu-nbd exited');
    try {
      const probe = await NbdClient.connect(socketPath, { exportName, signal, timeoutMs: Math.max(1, until - Date.now()) });
      await probe.close();
      return;
    } catch (err) {
      // Not listening yet: the socket is missing or refuses. Anything else is an answer.
      if (!(err instanceof KvmcloneError) || err.code !== 'UNAVAILABLE') throw err;
    }
    if (Date.now() + delay > until) throw new KvmcloneError('DEADLINE_EXCEEDED', `qemu-nbd did not serve ${socketPath} within ${timeoutMs} ms`);
    await sleep(delay, undefined, { signal });
  }
}
