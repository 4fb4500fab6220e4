/**
 * Runs an external program (virsh, qemu-img, fallocate) the only way the
 * agent does: execFile with an argument array, never a shell, with an
 * AbortSignal and a time limit. A failure becomes a CommandError carrying the
 * program's stderr, so callers can map it to a status code by content.
 */
import { execFile } from 'node:child_process';

/** A program that exited non-zero, could not start, or ran out of time. */
export class CommandError extends Error {
  constructor(
    readonly program: string,
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CommandError';
  }
}

export interface RunOptions {
  signal?: AbortSignal;
  /** Milliseconds before the program is killed; default 120 s. */
  timeoutMs?: number;
  /** Largest stdout accepted; default 64 MiB. */
  maxBuffer?: number;
  env?: NodeJS.ProcessEnv;
}

/** Runs `program args...` and resolves with its stdout. */
export function runCommand(program: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      program,
      [...args],
      {
        encoding: 'utf8',
        signal: options.signal,
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: options.maxBuffer ?? 64 * 1024 * 1024,
        env: options.env ?? { ...process.env, LC_ALL: 'C' },
      },
      (err, stdout, stderr) => {
        if (!err) {
          resolve(stdout);
          return;
        }
        if (err.name === 'AbortError') {
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- an ExecFileException is an Error; its Omit<> type hides that from the rule
          reject(err);
          return;
        }
        const code = typeof err.code === 'number' ? err.code : null;
        const text = (stderr || err.message).trim();
        reject(new CommandError(program, args, code, text, `${program} ${args[0] ?? ''} failed: ${text}`, { cause: err }));
      },
    );
  });
}
