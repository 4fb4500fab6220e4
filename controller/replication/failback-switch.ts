/**
 * SWITCH, the last step of `kvmctl failback NAME --switch`: hands the roles
 * back. The running copy's checkpoints of the way back go, the copy is shut
 * down (ACPI, up to --shutdown-timeout), a final offline sync moves what it
 * wrote meanwhile, the original starts under its operation lock, and the
 * replica is forward and active again with its schedule as it was before
 * the failover.
 */
import { domainStateName } from '../operations/domain-state.js';
import { failedPrecondition, KvmcloneError } from '../../shared/errors.js';
import { underLock } from '../operations/hold-lock.js';
import type { HostSession } from '../transport/host-session.js';
import { dropCheckpoints, openFailbackSession, syncBack, type FailbackRun } from './failback-run.js';

/**
 * Shuts the running copy down by ACPI. A guest that does not power off in
 * time is refused, not forced: it is still the VM in service.
 */
async function shutDownCopy({ replica, req, deps }: FailbackRun, away: HostSession): Promise<void> {
  deps.reporter.info(`  shutting ${replica.destVm} down on ${replica.to} (up to ${req.shutdownSeconds} s)`);
  try {
    await away.call(away.clients.domain, away.clients.domain.shutdownDomain, { name: replica.destVm, waitSeconds: req.shutdownSeconds }, deps.signal);
  } catch (err) {
    if (err instanceof KvmcloneError && err.code === 'DEADLINE_EXCEEDED') {
      throw failedPrecondition(
        `${replica.destVm} on ${replica.to} did not power off within ${req.shutdownSeconds} s (it is still running and in service); shut it down there and run kvmctl failback ${replica.name} --switch again`,
      );
    }
    throw err;
  }
}

/** Starts the original under its operation lock (the agent starts it only with this operation's id), released however the start goes. */
async function startOriginal(run: FailbackRun): Promise<void> {
  const { replica, op, deps } = run;
  const home = await openFailbackSession(run, replica.from);
  await underLock(home, replica.vm, op.id, `failback of replica ${replica.name}`, async () => {
    const started = await home.call(home.clients.domain, home.clients.domain.startDomain, { name: replica.vm, operationId: op.id }, deps.signal);
    if (started.domain?.state !== 'DOMAIN_STATE_RUNNING')
      throw new KvmcloneError('INTERNAL', `${replica.vm} on ${replica.from} is ${domainStateName(started.domain?.state)} after start`);
  });
}

/**
 * SWITCH: stop the copy, final offline sync, start the original; then, in
 * one transaction, the replica forward and active with its schedule as
 * before the failover, the failover's record cleared, and any checkpoint
 * of the way back the store still holds forgotten.
 */
export async function switchRoles(run: FailbackRun, copyRuns: boolean): Promise<void> {
  const { replica, op, deps, failover, liveReplicas, back } = run;
  op.step('SWITCH', `stop ${replica.destVm} on ${replica.to}, final sync, start ${replica.vm} on ${replica.from}`);
  const away = await openFailbackSession(run, replica.to);
  await dropCheckpoints(run, away, copyRuns);
  if (copyRuns) await shutDownCopy(run, away);
  await syncBack(run, false);
  await startOriginal(run);
  deps.replicas.transaction(() => {
    deps.replicas.setRoles(replica.name, { direction: 'forward', lifecycle: 'active', paused: failover?.pausedBefore ?? false });
    deps.failovers.clearFailover(replica.name);
    if (liveReplicas.get(back)?.checkpoint) liveReplicas.forgetCheckpoint(back);
  });
  deps.reporter.info(
    `  ${replica.vm} is running on ${replica.from} again; replica ${replica.name} keeps ${replica.destVm} on ${replica.to} as before${failover?.pausedBefore ? ' (paused, as it was before the failover)' : ''}`,
  );
}
