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
import type { OperationStore } from '../history/operation-store.js';
import { HostSession, type SessionRole } from '../transport/host-session.js';
import type { SshEngine } from '../transport/ssh-engine.js';
import { normalizeSshError } from '../transport/ssh-error-code.js';
import { holdLock } from './hold-lock.js';

/** What an operation needs from its command. */
export interface OperationDeps {
  engine: SshEngine;
  options: ControllerOptions;
  reporter: Reporter;
  store: OperationStore;
  signal: AbortSignal;
}

/** Which VM goes where. */
export interface OperationTarget {
  kind: 'clone' | 'sync';
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
  private readonly cleanups: (() => Promise<void> | void)[] = [];
  /** Refusals before `run` are exit 3; failures after it are exit 1. */
  phase: 'preflight' | 'run' = 'preflight';
  bytesOnWire = 0;

  constructor(
    private readonly deps: OperationDeps,
    readonly target: OperationTarget,
  ) {
    deps.store.begin({ id: this.id, kind: target.kind, vm: target.vm, destVm: target.destVm, sourceHost: target.from, destHost: target.to });
  }

  /** Starts a phase: reported and recorded. */
  step(name: string, detail?: string): void {
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
    this.cleanups.push(() => Promise.all(sessions.map((s) => s.close())).then(() => undefined));
    if (opened.status === 'rejected') throw opened.reason;
    if (openedDest.status === 'rejected') throw openedDest.reason;
    const src = opened.value;
    const dst = openedDest.value ?? src;
    const [source, dest] = await Promise.allSettled([
      access.source === 'admin' ? holdLock(src, vm, this.id, `${kind} to ${to} as ${destVm}`) : undefined,
      access.dest === 'admin' && (dst !== src || destVm !== vm) ? holdLock(dst, destVm, this.id, `${kind} of ${vm} from ${from}`) : undefined,
    ]);
    for (const lock of [source, dest]) if (lock.status === 'fulfilled' && lock.value !== undefined) this.cleanups.push(() => lock.value?.release());
    if (source.status === 'rejected') throw source.reason;
    if (dest.status === 'rejected') throw dest.reason;
    return { src, dst };
  }

  /** Records and reports success. */
  succeed(result: Record<string, unknown>): number {
    this.deps.store.finish(this.id, 'succeeded', { bytesOnWire: this.bytesOnWire, result });
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
      reporter.phase('REVERT', `undoing ${this.revert.size} step(s)`);
      for (const f of await this.revert.revert((d) => store.event(this.id, 'revert', { step: d }))) {
        reporter.warn(`could not ${f.description}: ${f.error instanceof Error ? f.error.message : String(f.error)}`);
      }
    }
    store.finish(this.id, err.code === 'CANCELLED' ? 'interrupted' : 'failed', { bytesOnWire: this.bytesOnWire, errorCode: err.code, errorMessage: err.message });
    reporter.result({ ok: false, operation: this.target.kind, id: this.id, error: { code: err.code, message: err.message } });
    return exitCodeFor(err.code, this.phase);
  }

  /** Releases locks and closes sessions, newest first. */
  async close(): Promise<void> {
    for (const c of this.cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  }
}
