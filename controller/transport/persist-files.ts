/**
 * Where persisted OpenSSH masters (ssh.persist) live and how runs agree on
 * them: a private directory that outlives any one kvmctl, one control socket
 * per host and trust settings (a hash names it), and a start lock so that two
 * kvmctl starting at once do not both start a master for the same socket
 * (the loser would silently run unmultiplexed: "ControlSocket … already
 * exists, disabling multiplexing").
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { processStartTicks } from '../replication/process-identity.js';
import { masterArgs } from './openssh-args.js';
import { SshError, type SshSettings } from './ssh-engine.js';

/**
 * The directory for persisted masters: `$XDG_RUNTIME_DIR/kvmclone-ssh`
 * (per-user, cleared at logout or reboot), else `kvmclone-ssh-UID` in the
 * temporary directory. Stable across runs, unlike the per-run runtimeDir.
 */
export function persistDir(env: NodeJS.ProcessEnv = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime !== undefined && runtime.startsWith('/')) return join(runtime, 'kvmclone-ssh');
  return join(tmpdir(), `kvmclone-ssh-${process.getuid?.() ?? 'user'}`);
}

/**
 * Creates the directory (0700) or checks the one found: a directory (not a
 * symlink), owned by this user, reachable by no one else. Anyone who could
 * reach a control socket could use our authenticated connection.
 */
export function ensurePersistDir(host: string, dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new SshError('config', host, `cannot create ${dir} for ssh.persist: ${(err as Error).message}`);
  }
  const st = lstatSync(dir);
  if (!st.isDirectory() || st.uid !== process.getuid?.() || (st.mode & 0o077) !== 0) {
    throw new SshError('config', host, `${dir} (ssh.persist's control sockets) must be a directory owned by this user with mode 0700; remove it or fix it`);
  }
}

/** What identifies a file's content cheaply: a changed known_hosts or config file must not reuse a master. */
function fileIdentity(path: string | undefined): string {
  if (path === undefined) return '-';
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return 'absent';
  }
}

/**
 * The key of a master: the ssh binary, HOST, every option a fresh master
 * would get (trust, ciphers, timeouts), and the identity of the files they
 * name (and of ~/.ssh/known_hosts, ssh's default). A master is reused only
 * by a run that would have started the very same one.
 */
export function persistKey(sshPath: string, host: string, settings: SshSettings): string {
  const args = masterArgs(settings, host, '/control');
  const files = [settings.configFile, settings.knownHostsFile, settings.identityFile, join(homedir(), '.ssh', 'known_hosts')].map(fileIdentity);
  return createHash('sha256')
    .update(JSON.stringify([sshPath, host, args, files]))
    .digest('hex')
    .slice(0, 20);
}

/** A lock file older than this whose writer cannot be read is taken for abandoned. */
const UNREADABLE_LOCK_MS = 10_000;
const LOCK_POLL_MS = 50;

/** Whether the lock at `path` belongs to a process that no longer runs. */
function abandoned(path: string): boolean {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return false; // gone already: try again
  }
  const [pid, ticks] = text.trim().split(' ');
  if (pid === undefined || ticks === undefined || !/^\d+$/.test(pid)) {
    try {
      return Date.now() - statSync(path).mtimeMs > UNREADABLE_LOCK_MS;
    } catch {
      return false;
    }
  }
  return processStartTicks(Number(pid)) !== ticks;
}

/**
 * Runs `fn` holding the lock file `path` (created exclusively, holding our
 * pid and start time). A lock whose holder died is removed; a live holder is
 * waited for until `waitMs`, then the run fails naming the wait.
 */
export async function withStartLock<T>(host: string, path: string, waitMs: number, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    signal?.throwIfAborted();
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${process.pid} ${processStartTicks(process.pid) ?? ''}\n`);
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new SshError('config', host, `cannot create ${path}: ${(err as Error).message}`);
    }
    if (abandoned(path)) {
      rmSync(path, { force: true });
      continue;
    }
    if (Date.now() > deadline)
      throw new SshError('unreachable', host, `${host}: another kvmctl has been starting the shared SSH connection for ${Math.round(waitMs / 1000)}s (lock ${path})`);
    await sleep(LOCK_POLL_MS, undefined, { signal }).catch((err: unknown) => {
      signal?.throwIfAborted(); // the caller's reason, not the timer's AbortError
      throw err;
    });
  }
  try {
    return await fn();
  } finally {
    rmSync(path, { force: true });
  }
}

/** A master's log or lock untouched this long, with no control socket beside it, is left from a master long gone. */
export const STALE_PERSIST_MS = 10 * 60 * 1000;

/**
 * Removes what ended masters left in `dir`: the log of a master whose
 * control socket is gone (it expired; a run with the same settings would
 * have replaced the log, but settings never used again, say before an edit
 * of known_hosts, leave theirs for good) and the lock of a run that died
 * while starting one. Only files older than STALE_PERSIST_MS go, so a
 * master being started now (its log made before its socket) is never
 * touched. Best effort: a file that cannot be read or removed stays.
 */
export function sweepPersistDir(dir: string, now: number = Date.now()): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = /^(cm-[0-9a-f]+)\.(log|lock)$/.exec(name);
    if (m === null || existsSync(join(dir, m[1]))) continue;
    const path = join(dir, name);
    try {
      if (now - statSync(path).mtimeMs < STALE_PERSIST_MS || (m[2] === 'lock' && !abandoned(path))) continue;
      rmSync(path, { force: true });
      removed.push(name);
    } catch {
      // gone already, or not ours to remove: left
    }
  }
  return removed;
}
