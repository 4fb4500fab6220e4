/**
 * A persisted OpenSSH master (`ssh.persist`): started by one kvmctl run,
 * reused by the next ones while it lives, ending itself `persist` seconds
 * after its last client. Replication runs every few minutes; a fresh
 * connection costs each of them the handshake and, measured on the testbed,
 * its first tens of MiB at a fraction of a warm connection's rate.
 *
 * Reuse is as strict as a fresh start: the control socket sits in a 0700
 * directory of ours and is named by a hash of every trust and connection
 * setting (persist-files.ts), so a run with other settings, another known
 * hosts file or an edited one starts its own master.
 */
import { closeSync, fstatSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runningStartTicks } from '../replication/process-identity.js';
import { checkControlPath, masterArgs, muxArgs } from './openssh-args.js';
import { parseSshStderr, sshFailure, stderrSummary, type SshStderrFacts } from './openssh-errors.js';
import type { SshMaster } from './openssh-master.js';
import { runSsh } from './openssh-process.js';
import { ensurePersistDir, persistDir, persistKey, sweepPersistDir, withStartLock } from './persist-files.js';
import { SshError, type SshSettings } from './ssh-engine.js';

/** What attaching to (or starting) a persisted master needs. */
export interface PersistOptions {
  sshPath: string;
  settings: SshSettings;
  host: string;
  /** Seconds the master stays after its last client. */
  seconds: number;
  /** The directory of persisted masters (default persistDir()). */
  dir?: string;
  signal?: AbortSignal;
}

/** The facts are at the head of the log (the connection's debug lines); later lines are mux chatter. */
const FACTS_BYTES = 64 * 1024;

/** Reads up to `max` bytes of `path`: its first ones, or with `fromEnd` its last ones; empty when absent. */
function readLog(path: string, max: number, fromEnd = false): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    const start = fromEnd ? Math.max(0, size - max) : 0;
    const buffer = Buffer.alloc(Math.min(max, size - start));
    const n = readSync(fd, buffer, 0, buffer.length, start);
    return buffer.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** A reused master's log grows by a few lines per run (-v mux chatter); past this it is replaced. */
const MAX_LOG_BYTES = 4 * 1024 * 1024;

function logBytes(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** The pid `ssh -O check` names ("Master running (pid=N)"), or undefined when no master answers. */
async function runningMaster(sshPath: string, host: string, controlPath: string, signal: AbortSignal | undefined): Promise<number | undefined> {
  const r = await runSsh(sshPath, muxArgs(host, controlPath, 'check'), { timeoutMs: 5000, signal });
  const m = /Master running \(pid=(\d+)\)/.exec(r.stderr);
  return r.code === 0 && m ? Number(m[1]) : undefined;
}

/** A persisted master this run uses; created by `PersistentMaster.attach`. */
export class PersistentMaster implements SshMaster {
  readonly persistent = true;
  private readonly startTicks: string | undefined;

  private constructor(
    private readonly host: string,
    readonly controlPath: string,
    private readonly logPath: string,
    readonly pid: number,
  ) {
    this.startTicks = runningStartTicks(pid);
  }

  /**
   * Reuses the live master for these settings, or starts one (under the
   * start lock) and waits until it answers on its control socket. A dead
   * master's socket and log are removed first, and what long-ended masters
   * of other settings left is swept (sweepPersistDir). Failures are SshErrors
   * classified from the master's log, as for a master of our own.
   */
  static async attach(options: PersistOptions): Promise<PersistentMaster> {
    const { sshPath, settings, host, signal } = options;
    const dir = options.dir ?? persistDir();
    ensurePersistDir(host, dir);
    sweepPersistDir(dir);
    const base = join(dir, `cm-${persistKey(sshPath, host, settings)}`);
    checkControlPath(host, base);
    const limitS = Math.max(1, Math.ceil(settings.connectTimeoutS)) * 2 + 10;
    return withStartLock(host, `${base}.lock`, limitS * 1000, signal, async () => {
      const pid = await runningMaster(sshPath, host, base, signal);
      if (pid !== undefined && logBytes(`${base}.log`) < MAX_LOG_BYTES) return new PersistentMaster(host, base, `${base}.log`, pid);
      // a master in use for days has a long log: it stops taking clients (finishing its current ones) and a fresh one starts
      if (pid !== undefined) await runSsh(sshPath, muxArgs(host, base, 'stop'), { timeoutMs: 5000, signal });
      rmSync(base, { force: true });
      rmSync(`${base}.log`, { force: true }); // a live old master keeps writing to its own (now unlinked) log
      return PersistentMaster.start(options, base, limitS);
    });
  }

  private static async start(options: PersistOptions, controlPath: string, limitS: number): Promise<PersistentMaster> {
    const { sshPath, settings, host, signal } = options;
    const logPath = `${controlPath}.log`;
    const args = masterArgs(settings, host, controlPath, { seconds: options.seconds, logPath });
    // ssh exits 0 once the master is authenticated and forked into the background
    const r = await runSsh(sshPath, args, { timeoutMs: limitS * 1000, signal });
    const facts = parseSshStderr(readLog(logPath, FACTS_BYTES, true));
    if (r.timedOut) throw new SshError('unreachable', host, `${host}: no SSH connection after ${limitS}s: ${stderrSummary(facts) || 'ssh said nothing'}`);
    if (r.code !== 0) throw sshFailure(host, facts, r.signal ? `ssh was killed by ${r.signal}` : `ssh exited with status ${r.code}`);
    const pid = await runningMaster(sshPath, host, controlPath, signal);
    if (pid === undefined) throw new SshError('unreachable', host, `${host}: the shared SSH connection ended as it started: ${stderrSummary(facts) || 'ssh said nothing'}`);
    return new PersistentMaster(host, controlPath, logPath, pid);
  }

  /** Whether the master process still runs (its pid and start time, so a reused pid does not count; nor a zombie). */
  get alive(): boolean {
    return this.startTicks !== undefined && runningStartTicks(this.pid) === this.startTicks;
  }

  private headFacts: SshStderrFacts | undefined;

  /** Host key, address, cipher and login user, from the head of the master's log (read once: it does not change). */
  facts(): SshStderrFacts {
    this.headFacts ??= parseSshStderr(readLog(this.logPath, FACTS_BYTES));
    return this.headFacts;
  }

  /** The error for an operation on a master that has died: what the end of its log says. */
  lost(): SshError {
    const tail = parseSshStderr(readLog(this.logPath, FACTS_BYTES, true));
    const cause = sshFailure(this.host, tail, 'ssh ended');
    const kind = cause.kind === 'other' ? 'unreachable' : cause.kind;
    return new SshError(kind, this.host, `${this.host}: SSH connection lost: ${stderrSummary(tail) || 'the shared master ended'}`);
  }

  /** Leaves the master running for the next run: it ends itself after `ssh.persist` without clients. */
  stop(): Promise<void> {
    return Promise.resolve();
  }
}
