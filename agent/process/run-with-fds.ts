/**
 * runCommand for a program that must work on files the agent already holds
 * open: each descriptor is passed as the child's fd 3, 4, ... and the
 * program is given `/dev/fd/3`, ... instead of a path (fdPath). The child
 * then reopens the very inode the agent opened and checked — a path swapped
 * meanwhile (a directory component turned into a symlink) cannot redirect it
 * (issue 10, hole 4). Same contract as runCommand: an argument array, no
 * shell, an AbortSignal, a time limit, CommandError with stderr on failure.
 */
import { spawn } from 'node:child_process';
import { CommandError, type RunOptions } from './run-command.js';

/** The name under which the child sees the `index`-th descriptor passed to runWithFds. */
export function fdPath(index: number): string {
  return `/dev/fd/${3 + index}`;
}

/** Runs `program args...` with `fds` as its descriptors 3, 4, ...; resolves with its stdout. */
export function runWithFds(program: string, args: readonly string[], fds: readonly number[], options: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, [...args], {
      stdio: ['ignore', 'pipe', 'pipe', ...fds],
      signal: options.signal,
      timeout: options.timeoutMs ?? 120_000,
      env: options.env ?? { ...process.env, LC_ALL: 'C' },
    });
    const maxBuffer = options.maxBuffer ?? 64 * 1024 * 1024;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let tooMuch = false;
    child.stdout?.on('data', (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > maxBuffer) {
        tooMuch = true;
        child.kill('SIGKILL');
      } else out.push(chunk);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      if (err.length < 64) err.push(chunk);
    });
    let failed: Error | undefined;
    child.on('error', (e) => {
      failed = e;
    });
    child.on('close', (code, signal) => {
      if (failed?.name === 'AbortError') {
        reject(failed);
        return;
      }
      const stderr = Buffer.concat(err).toString('utf8').trim();
      if (code === 0 && failed === undefined && !tooMuch) {
        resolve(Buffer.concat(out).toString('utf8'));
        return;
      }
      const why = failed?.message ?? (tooMuch ? `more than ${maxBuffer} bytes of output` : signal !== null ? `killed by ${signal}` : `exit code ${code}`);
      const text = stderr || why;
      reject(new CommandError(program, args, code, text, `${program} ${args[0] ?? ''} failed: ${text}`, failed && { cause: failed }));
    });
  });
}
