/**
 * One run of one replica, in this process: the first run clones the VM (under
 * the replica's copy name and target directory), later runs sync it — from a
 * point-in-time view when the replica is live and the source runs, offline
 * otherwise (runSync decides by the source's state). The operation reports
 * through the command's reporter with the replica's name in front, its result
 * line is kept as the run's record, and the run's outcome moves the
 * replica's schedule: success resets the failures, a failure counts and
 * backs off, an interruption changes neither.
 */
import type { Reporter } from '../cli/reporter.js';
import { EXIT_INTERRUPTED, EXIT_OK } from '../cli/exit-codes.js';
import { runClone } from '../operations/clone/run-clone.js';
import type { LiveOptions } from '../operations/clone/preflight.js';
import type { OperationDeps } from '../operations/operation-run.js';
import { runSync } from '../operations/sync/run-sync.js';
import type { DeltaMethod, Replica, ReplicaRun, ReplicaStore, RunEffect, RunOutcome } from './replica-store.js';
import { backoffSeconds } from './schedule.js';

/** What a run needs from the command. */
export interface ReplicaRunDeps extends OperationDeps {
  replicas: ReplicaStore;
  /** --yes: a sync may add or remove the copy's disks when the source's changed. */
  yes: boolean;
}

/** How a run went, for the command's output. */
export interface RunReport extends ReplicaRun {
  /** After a failure: when the schedule tries again (ISO). */
  nextAttemptAt: string | null;
  consecutiveFailures: number;
}

/** Live settings of a scheduled run: freeze the guest if its agent answers, keep a checkpoint for the next bitmap delta. */
const SCHEDULED_LIVE: LiveOptions = { quiesce: 'try', cbt: true };

/**
 * The command's reporter with the replica's name in front of what it says,
 * so that runs side by side can be told apart, and the result line kept
 * instead of printed (the replicate command prints its own).
 */
function replicaReporter(name: string, outer: Reporter): Reporter & { captured: Record<string, unknown> | undefined } {
  const reporter = {
    captured: undefined as Record<string, unknown> | undefined,
    phase: (phase: string, detail?: string) => outer.phase(`${name} ${phase}`, detail),
    progress: (item: string, done: number, total: number) => outer.progress(`${name} ${item}`, done, total),
    itemDone: (item: string, summary: string) => outer.itemDone(`${name} ${item}`, summary),
    info: (message: string, data?: Record<string, unknown>) => outer.info(`${name}: ${message.trimStart()}`, data),
    warn: (message: string) => outer.warn(`${name}: ${message}`),
    retry: outer.retry.bind(outer),
    debug: (message: string) => outer.debug(`${name}: ${message}`),
    result: (result: Record<string, unknown>) => {
      reporter.captured = result;
    },
    close: () => undefined,
  };
  return reporter;
}

function deltaOf(kind: 'clone' | 'sync', result: Record<string, unknown> | undefined): DeltaMethod | null {
  if (result?.ok !== true) return null;
  if (kind === 'clone') return 'full';
  const delta = result.delta;
  // An offline sync compares the hashes of both images; a live one says which delta it used.
  return delta === 'bitmap' || delta === 'hash' || delta === 'mixed' ? delta : 'hash';
}

/** What the outcome does to the schedule. */
export function runEffect(
  replica: Pick<Replica, 'consecutiveFailures' | 'nextAttemptAt' | 'lastError' | 'seededAt'>,
  run: Pick<ReplicaRun, 'outcome' | 'kind' | 'startedAt' | 'finishedAt' | 'errorMessage'>,
): RunEffect {
  if (run.outcome === 'succeeded') return { consecutiveFailures: 0, nextAttemptAt: null, lastError: null, seededAt: replica.seededAt ?? run.startedAt };
  if (run.outcome === 'interrupted')
    return { consecutiveFailures: replica.consecutiveFailures, nextAttemptAt: replica.nextAttemptAt, lastError: replica.lastError, seededAt: replica.seededAt };
  const failures = replica.consecutiveFailures + 1;
  return {
    consecutiveFailures: failures,
    nextAttemptAt: new Date(Date.parse(run.finishedAt) + backoffSeconds(failures) * 1000).toISOString(),
    lastError: run.errorMessage ?? 'failed',
    seededAt: replica.seededAt,
  };
}

/** Runs `replica` once (the caller holds its claim) and records the run. */
export async function runReplica(replica: Replica, deps: ReplicaRunDeps): Promise<RunReport> {
  const kind = replica.seededAt === null ? 'clone' : 'sync';
  const reporter = replicaReporter(replica.name, deps.reporter);
  const opDeps: OperationDeps = { engine: deps.engine, options: deps.options, reporter, store: deps.store, signal: deps.signal };
  const live = replica.live ? SCHEDULED_LIVE : undefined;
  const started = new Date();
  let code: number;
  try {
    code =
      kind === 'clone'
        ? await runClone(
            {
              vm: replica.vm,
              from: replica.from,
              to: replica.to,
              destVm: replica.destVm,
              ...(replica.targetDir !== null && { targetDir: replica.targetDir }),
              start: false,
              dryRun: false,
              live,
            },
            // Adding the replica was the consent to copy it.
            { ...opDeps, confirm: () => Promise.resolve(true) },
          )
        : await runSync(
            { vm: replica.vm, from: replica.from, to: replica.to, destVm: replica.destVm, dryRun: false, live, ...(replica.keep !== null && { keep: replica.keep }) },
            { ...opDeps, confirmDiskChanges: () => Promise.resolve(deps.yes) },
          );
  } catch (err) {
    code = deps.signal.aborted ? EXIT_INTERRUPTED : 1;
    reporter.captured = { ok: false, error: { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) } };
  }
  const finished = new Date();
  const result = reporter.captured;
  const outcome: RunOutcome = code === EXIT_OK ? 'succeeded' : code === EXIT_INTERRUPTED ? 'interrupted' : 'failed';
  const error = result?.error as { code?: string; message?: string } | undefined;
  const run: ReplicaRun = {
    replica: replica.name,
    operationId: typeof result?.id === 'string' ? result.id : null,
    kind,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    seconds: Math.round((finished.getTime() - started.getTime()) / 100) / 10,
    bytesOnWire: typeof result?.bytesOnWire === 'number' ? result.bytesOnWire : 0,
    delta: deltaOf(kind, result),
    outcome,
    errorCode: outcome === 'succeeded' ? null : (error?.code ?? 'INTERNAL'),
    errorMessage: outcome === 'succeeded' ? null : (error?.message ?? `exit code ${code}`),
  };
  const effect = runEffect(deps.replicas.get(replica.name), run);
  deps.replicas.recordRun(run, effect);
  return { ...run, nextAttemptAt: effect.nextAttemptAt, consecutiveFailures: effect.consecutiveFailures };
}
