/**
 * `kvmctl replicate [--due] [NAME…]`: picks the replicas to run — the named
 * ones, or all; with --due only those whose time has come — and runs them,
 * `replication.concurrency` at a time. A replica runs only while this process
 * holds its claim in the database, so a second replicate (the timer firing
 * again while a long run goes on) skips it; paused and failed-over replicas
 * are skipped. After each run, and for every replica at the end, the
 * notifications a change of condition calls for are sent.
 */
import { hostname } from 'node:os';
import { checkAlerts } from './replica-alerts.js';
import type { Notifier } from './notifier.js';
import { currentProcess } from './process-identity.js';
import type { Replica } from './replica-store.js';
import { runReplica, type ReplicaRunDeps, type RunReport } from './run-replica.js';
import { formatSeconds, isDue, nextRunAt } from './schedule.js';

/** What the user asked for. */
export interface ReplicateRequest {
  due: boolean;
  names: readonly string[];
}

/** A replica not run, and why. */
export interface SkippedReplica {
  replica: string;
  reason: 'paused' | 'failed-over' | 'not-due' | 'busy' | 'interrupted';
  detail: string;
}

/** What replicate did. */
export interface ReplicateOutcome {
  runs: RunReport[];
  skipped: SkippedReplica[];
}

/** What replicate needs beyond a run's needs. */
export interface ReplicateDeps extends ReplicaRunDeps {
  notifier: Notifier;
  /** Says what is starting and how each run ended, as it happens. */
  onRunStart(replica: Replica): void;
  onRunEnd(report: RunReport): void;
}

/** Why `replica` is not run now, or undefined when it runs. */
function skipReason(replica: Replica, due: boolean, lastSuccessAt: string | undefined, now: number): SkippedReplica | undefined {
  if (replica.lifecycle === 'failed-over') return { replica: replica.name, reason: 'failed-over', detail: 'failed over: its copy is the running VM' };
  if (replica.paused) return { replica: replica.name, reason: 'paused', detail: 'paused (kvmctl replica resume starts it again)' };
  const facts = { ...replica, lastSuccessAt };
  if (due && !isDue(facts, now)) {
    const next = nextRunAt(facts) ?? now;
    const why = replica.consecutiveFailures > 0 ? `backing off after ${replica.consecutiveFailures} failure(s)` : 'not due';
    return { replica: replica.name, reason: 'not-due', detail: `${why}: next run in ${formatSeconds((next - now) / 1000)} (${new Date(next).toISOString()})` };
  }
  return undefined;
}

/** Runs what the request selects; never throws for a failed run (its report says). */
export async function replicate(req: ReplicateRequest, deps: ReplicateDeps): Promise<ReplicateOutcome> {
  const { replicas, options, signal, notifier } = deps;
  // Unknown names are an error before anything runs.
  const selected = req.names.length > 0 ? [...new Set(req.names)].map((n) => replicas.get(n)) : replicas.list();
  const skipped: SkippedReplica[] = [];
  const queue: Replica[] = [];
  const now = Date.now();
  for (const replica of selected) {
    const why = skipReason(replica, req.due, replicas.lastSuccess(replica.name)?.startedAt, now);
    if (why) skipped.push(why);
    else queue.push(replica);
  }
  const owner = currentProcess();
  const runs: RunReport[] = [];
  const worker = async (): Promise<void> => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      if (signal.aborted) {
        skipped.push({ replica: next.name, reason: 'interrupted', detail: 'not started: interrupted' });
        continue;
      }
      const claim = replicas.claim(next.name, owner);
      if (!claim.claimed) {
        const where = claim.holder.host === hostname() ? `pid ${claim.holder.pid}` : `${claim.holder.host} pid ${claim.holder.pid}`;
        skipped.push({ replica: next.name, reason: 'busy', detail: `busy: kvmctl ${where} has run it since ${claim.holder.at}` });
        continue;
      }
      try {
        // Read again under the claim: another process may have run (or paused) it since the selection.
        const current = replicas.get(next.name);
        const now = skipReason(current, req.due, replicas.lastSuccess(current.name)?.startedAt, Date.now());
        if (now) {
          skipped.push(now);
          continue;
        }
        deps.onRunStart(current);
        const report = await runReplica(current, deps);
        runs.push(report);
        deps.onRunEnd(report);
      } finally {
        replicas.release(next.name, owner);
      }
      checkAlerts(replicas, next.name, notifier, options.replication.graceMs);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.replication.concurrency, Math.max(queue.length, 1)) }, worker));
  // Replicas that did not run can have gone past their RPO meanwhile.
  for (const replica of replicas.list()) checkAlerts(replicas, replica.name, notifier, options.replication.graceMs);
  return { runs, skipped };
}
