/**
 * The frame every kvmctl operation (clone, sync) runs in: its id and history
 * record, its phases, the hosts and locks it opens, the revert stack, and how
 * it ends — a result line and exit code, after undoing what it created when
 * it failed or was interrupted.
 */
import { randomUUID } from 'node:crypto';
import { KvmcloneError, isAbortError } from '../../shared/errors.js';
import { RevertStack } from '../../shared/revert-stack.js';
import type { AgentCapability } from '../../shared/capabilities.js';
import { EXIT_OK, exitCodeFor } from '../cli/exit-codes.js';
import type { Reporter } from '../cli/reporter.js';
import type { ControllerOptions } from '../config/controller-config.js';
import type { OperationKind, OperationStore } from '../history/operation-store.js';
import { HostSession, type SessionRole } from '../transport/host-session.js';
import type { SshEngine } from '../transport/ssh-engine.js';
import { normalizeSshError } from '../transport/ssh-error-code.js';
import { holdLock, type HeldLock } from './hold-lock.js';
import { PhaseClock } from './phase-clock.js';
import { withReconnect } from './retry/with-reconnect.js';
import type { RetryNotice } from '../cli/retry-notice.js';
import type { Reporter as ProgressReporter } from '../cli/reporter.js';

/** An operation lock this run holds, and how to take it again after a reconnect. */
interface RunLock {
  session: HostSession;
  vm: string;
  purpose: string;
  held: HeldLock;
}

/** How long a session gets to show its agent still answers before it is reconnected. */
const ANSWER_CHECK_MS = 5000;

/** What an operation needs from its command. */
export interface OperationDeps {
  engine: SshEngine;
  options: ControllerOptions;
  reporter: Reporter;
  store: OperationStore;
  signal: AbortSignal;
}

/** Which VM goes where (for failover and failback: which way the roles go). */
export interface OperationTarget {
  kind: OperationKind;
  vm: string;
  destVm: string;
  from: string;
  to: string;
}

/**
 * Which agent socket each side of an operation needs. A dry run only reads
 * (inventory, hashes, free space) and goes to the read-only sockets; a side
 * on the read-only socket takes no operation lock (HoldLock is admin-only,
 * and a dry run changes nothing a lock would protect).
 */
export interface HostAccess {
  source: SessionRole;
  dest: SessionRole;
}

/** What clone and sync need when they will change something. */
export const ADMIN_ACCESS: HostAccess = { source: 'admin', dest: 'admin' };

/** One running operation. */
export class OperationRun {
  readonly id = randomUUID();
  readonly revert = new RevertStack();
  private readonly started = Date.now();
  private readonly clock = new PhaseClock();
  private readonly cleanups: (() => Promise<void> | void)[] = [];
  /** Refusals before `run` are exit 3; failures after it are exit 1. */
  phase: 'preflight' | 'run' = 'preflight';
  bytesOnWire = 0;
  /** The plain data those wire bytes carried (more than bytesOnWire when chunks travelled compressed). */
  bytesData = 0;
  /** Reconnects within this run (the result's `retries`). */
  retries = 0;
  private sessions: HostSession[] = [];
  private readonly locks: RunLock[] = [];
  private moved = false;
  /**
   * The command's reporter, except that progress with bytes done also marks
   * that the run moved forward (a reconnect then starts its count again).
   */
  readonly reporter: ProgressReporter;

  constructor(
    private readonly deps: OperationDeps,
    readonly target: OperationTarget,
  ) {
    deps.store.begin({ id: this.id, kind: target.kind, vm: target.vm, destVm: target.destVm, sourceHost: target.from, destHost: target.to });
    const inner = deps.reporter;
    this.reporter = {
      phase: (name, detail) => inner.phase(name, detail),
      progress: (item, done, total) => {
        if (done > 0) this.moved = true;
        inner.progress(item, done, total);
      },
      itemDone: (item, summary) => inner.itemDone(item, summary),
      info: (message, data) => inner.info(message, data),
      warn: (message) => inner.warn(message),
      retry: (notice) => inner.retry(notice),
      debug: (message) => inner.debug(message),
      result: (result) => inner.result(result),
      close: () => inner.close(),
    };
  }

  /** Starts a phase: reported, recorded and timed (the result's `phases`). */
  step(name: string, detail?: string): void {
    this.clock.begin(name);
    this.deps.reporter.phase(name, detail);
    this.deps.store.event(this.id, name, detail === undefined ? {} : { detail });
  }

  /** Seconds since the start, to a tenth. */
  seconds(): number {
    return Math.round((Date.now() - this.started) / 100) / 10;
  }

  /**
   * Connects to both hosts (one session when they are the same), checks the
   * agents, and takes the operation locks of the VM on the source and of the
   * destination VM on the destination — on each side `access` puts on the
   * admin socket. All are released by `close`.
   */
  async openHosts(needs: readonly AgentCapability[], access: HostAccess = ADMIN_ACCESS): Promise<{ src: HostSession; dst: HostSession }> {
    const { engine, options, signal, reporter } = this.deps;
    const { kind, vm, destVm, from, to } = this.target;
    // Both hosts at once (each SSH connection and agent check takes a few hundred milliseconds). As when
    // they were opened in turn, a failure of the source is the one reported, and it stops the destination's attempt.
    const open = (host: string, role: SessionRole, opening: AbortSignal): Promise<HostSession> =>
      HostSession.open(engine, host, {
        agentSocket: options.agentSocket,
        ...(role === 'read-only' && { readOnlySocket: options.agentRoSocket, debug: (message: string) => reporter.debug(message) }),
        callMs: options.timeouts.callMs,
        signal: opening,
        needs,
        operationId: this.id,
      });
    const stopDest = new AbortController();
    // One session serves both sides on the same host: the admin socket if either side needs it.
    const sourceRole = to === from && access.dest === 'admin' ? 'admin' : access.source;
    const sourceOpen = open(from, sourceRole, signal).catch((err: unknown) => {
      stopDest.abort();
      throw err;
    });
    const destOpen = to === from ? Promise.resolve(undefined) : open(to, access.dest, AbortSignal.any([signal, stopDest.signal]));
    const [opened, openedDest] = await Promise.allSettled([sourceOpen, destOpen]);
    const sessions = [opened, openedDest].flatMap((r) => (r.status === 'fulfilled' && r.value !== undefined ? [r.value] : []));
    this.sessions = sessions;
    this.cleanups.push(() => Promise.all(sessions.map((s) => s.close())).then(() => undefined));
    if (opened.status === 'rejected') throw opened.reason;
    if (openedDest.status === 'rejected') throw openedDest.reason;
    const src = opened.value;
    const dst = openedDest.value ?? src;
    const take = async (session: HostSession, name: string, purpose: string): Promise<HeldLock> => {
      const held = await holdLock(session, name, this.id, purpose);
      const lock: RunLock = { session, vm: name, purpose, held };
      this.locks.push(lock);
      this.cleanups.push(() => lock.held.release());
      return held;
    };
    const [source, dest] = await Promise.allSettled([
      access.source === 'admin' ? take(src, vm, `${kind} to ${to} as ${destVm}`) : undefined,
      access.dest === 'admin' && (dst !== src || destVm !== vm) ? take(dst, destVm, `${kind} of ${vm} from ${from}`) : undefined,
    ]);
    if (source.status === 'rejected') throw source.reason;
    if (dest.status === 'rejected') throw dest.reason;
    return { src, dst };
  }

  /**
   * After a transient failure: reconnects each session whose agent no
   * longer answers (a dropped SSH connection), then takes again each lock
   * whose HoldLock call ended (that connection, or an agent restart). A
   * lock another operation took meanwhile fails this with ABORTED, which is
   * permanent.
   */
  async reconnect(signal: AbortSignal): Promise<void> {
    for (const session of this.sessions) {
      if (!(await session.answers(ANSWER_CHECK_MS, signal))) {
        this.deps.reporter.debug(`${session.host}: reconnecting`);
        await session.reconnect(signal);
        this.deps.reporter.info(`  reconnected to ${session.host}`);
      }
    }
    for (const lock of this.locks) {
      if (!lock.held.lost) continue;
      lock.held.release();
      lock.held = await holdLock(lock.session, lock.vm, this.id, lock.purpose);
    }
  }

  /**
   * Runs `work` so that a transient failure (a dropped SSH connection, a
   * restarted agent) reconnects and calls it again, as the \`retry:\` settings
   * allow; `work` must resume from what earlier attempts left (attempt > 0).
   * Each retry is reported (a \`retry\` event, a terminal line) and recorded.
   */
  reconnecting<T>(phaseName: string, work: (attempt: number) => Promise<T>, signal: AbortSignal = this.deps.signal): Promise<T> {
    const { options, reporter, store } = this.deps;
    return withReconnect(work, {
      phase: phaseName,
      policy: options.retry,
      context: { operationId: this.id, source: this.target.from, dest: this.target.to },
      reconnect: (s) => this.reconnect(s),
      notify: (notice: RetryNotice) => {
        this.retries += 1;
        reporter.retry(notice);
        store.event(this.id, 'retry', { ...notice });
      },
      progressed: () => {
        const moved = this.moved;
        this.moved = false;
        return moved;
      },
      signal,
    });
  }

  /** Records and reports success, with the seconds each phase took; a dry run (`dryRun: true`) is recorded as a plan. */
  succeed(outcome: Record<string, unknown>): number {
    const result = { ...outcome, phases: this.clock.seconds() };
    this.deps.store.finish(this.id, outcome.dryRun === true ? 'planned' : 'succeeded', { bytesOnWire: this.bytesOnWire, result });
    this.deps.reporter.result(result);
    return EXIT_OK;
  }

  /** Undoes what was created, records and reports the failure; returns the exit code. */
  async fail(thrown: unknown): Promise<number> {
    const { reporter, store, signal } = this.deps;
    const raw = normalizeSshError(thrown);
    const err =
      raw instanceof KvmcloneError
        ? raw
        : isAbortError(raw) || signal.aborted
          ? new KvmcloneError('CANCELLED', 'interrupted')
          : new KvmcloneError('INTERNAL', raw instanceof Error ? raw.message : String(raw), { cause: raw });
    if (this.revert.size > 0) {
      this.clock.begin('REVERT');
      reporter.phase('REVERT', `undoing ${this.revert.size} step(s)`);
      // An undo whose host dropped or whose agent restarted is tried again after a reconnect, as the retry settings allow
      // (an interrupt started this revert, so it is not the revert's signal). When that gives up, the undo's own failure
      // is the one reported: it says what was left and why, a failed reconnect does not.
      const again = (undo: () => Promise<void>): Promise<void> => {
        let undoFailure: { err: unknown } | undefined;
        const once = (): Promise<void> =>
          undo().catch((err: unknown) => {
            undoFailure = { err };
            throw err;
          });
        return this.reconnecting('REVERT', once, new AbortController().signal).catch((err: unknown) => {
          throw undoFailure === undefined ? err : undoFailure.err;
        });
      };
      for (const f of await this.revert.revert((d) => store.event(this.id, 'revert', { step: d }), again)) {
        reporter.warn(`could not ${f.description}: ${f.error instanceof Error ? f.error.message : String(f.error)}`);
      }
    }
    const result = {
      ok: false,
      operation: this.target.kind,
      id: this.id,
      error: { code: err.code, message: err.message, ...(err.detail !== undefined && { detail: err.detail }) },
      phases: this.clock.seconds(),
    };
    store.finish(this.id, err.code === 'CANCELLED' ? 'interrupted' : 'failed', { bytesOnWire: this.bytesOnWire, errorCode: err.code, errorMessage: err.message, result });
    reporter.result(result);
    return exitCodeFor(err.code, this.phase);
  }

  /** Releases locks and closes sessions, newest first. */
  async close(): Promise<void> {
    for (const c of this.cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  }
}
