/**
 * `kvmctl failback NAME [--switch] [--shutdown-timeout S]`: brings the
 * original VM (shut off on the replica's source host) up to date from the
 * failed-over copy, by changed blocks only, and with --switch hands the
 * roles back.
 *
 * - CHECK: the original must exist and be shut off (it is overwritten); the
 *   copy's state decides the sync. When the failover found the source
 *   crashed or could not reach it, the original may hold writes the copy
 *   never saw: failback says so and asks (or needs --yes) before
 *   overwriting them. Any failback overwrites what the original wrote after
 *   the copy's last sync, and says so. Then the delta is decided
 *   (failback-delta.ts): the copy's dirty bitmap when the failover made a
 *   checkpoint at the copy's first instant, with the original cleanly shut
 *   off and equal to the copy, and the original is unchanged since;
 *   otherwise hashes of both sides — which also find the original's own
 *   writes, a bitmap could not see them.
 * - SYNC: a running copy is synced from a point-in-time view (`sync --live`:
 *   with changed-block tracking when the bitmap was chosen, the view reading
 *   what it marks and making the next checkpoint; `--cbt=off` otherwise); a
 *   shut-off copy by an offline sync (hashes).
 * - With --switch: the running copy's checkpoints of the way back are deleted
 *   (their bitmaps would otherwise travel into the original's images with the
 *   final offline sync; a failure there only warns; a copy already shut off
 *   keeps them, libvirt cannot delete them then), the copy is
 *   shut down (ACPI, up to --shutdown-timeout), a final offline sync moves
 *   what it wrote meanwhile, the original is started under its operation
 *   lock, and the replica is forward and active again with its schedule as
 *   it was before the failover. The copy is then equal to the original, so
 *   the next scheduled sync moves next to nothing (failback-switch.ts).
 *
 * What the steps share — the sessions, the syncs back, the copy's
 * checkpoints of the way back — is in failback-run.ts.
 */
import { domainStateName } from '../operations/domain-state.js';
import { failedPrecondition, KvmcloneError } from '../../shared/errors.js';
import { confirm } from '../cli/confirm.js';
import { LiveReplicaStore } from '../history/live-replica-store.js';
import { imageIdentities } from '../operations/live/live-confirm.js';
import { OperationRun } from '../operations/operation-run.js';
import { imageDisks } from '../operations/points/vm-points.js';
import type { HostSession } from '../transport/host-session.js';
import { decideFailbackDelta, type FailbackDelta } from './failback-delta.js';
import { dropCheckpoints, openFailbackSession, syncBack, type FailbackRun } from './failback-run.js';
import { switchRoles } from './failback-switch.js';
import type { FailoverRecord } from './failover-store.js';
import { reverseKey, type RecoveryDeps } from './failover.js';
import { describeVm } from './recovery-session.js';
import { withReplicaClaim } from './replica-claim.js';
import type { Replica } from './replica-store.js';

/** What the user asked for. */
export interface FailbackRequest {
  replica: string;
  /** --switch: stop the copy, final sync, start the original, replica forward again. */
  switchBack: boolean;
  /** How long the copy's guest gets to power off on its ACPI request. */
  shutdownSeconds: number;
}

/**
 * The warning failback gives before overwriting the original, and whether
 * it must ask: always when the failover did not find the source shut off
 * cleanly (crashed, unreachable, or no record of the failover).
 */
export function overwriteWarning(
  replica: Pick<Replica, 'vm' | 'from' | 'destVm' | 'to'>,
  failover: FailoverRecord | undefined,
  lastSyncAt: string | undefined,
): { ask: boolean; text: string } {
  const since = lastSyncAt ? `after the copy's last sync (${lastSyncAt})` : 'after the copy was last synced';
  if (failover && (failover.source === 'shutoff' || failover.source === 'absent')) {
    return { ask: false, text: `${replica.vm} on ${replica.from} is overwritten with ${replica.destVm} on ${replica.to}: anything it wrote ${since} is lost` };
  }
  const why =
    failover === undefined
      ? 'how the failover left it is not recorded'
      : failover.source === 'crashed'
        ? `it had crashed at the failover (${failover.at})`
        : `${replica.from} could not be reached at the failover (${failover.at})`;
  return {
    ask: true,
    text: `${replica.vm} on ${replica.from} may hold writes ${replica.destVm} never saw (${why}): they were made ${since}, and failback overwrites them with ${replica.destVm} on ${replica.to}`,
  };
}

/** Runs the failback; resolves with the exit code. */
export async function runFailback(req: FailbackRequest, deps: RecoveryDeps): Promise<number> {
  const replica = deps.replicas.get(req.replica);
  if (replica.lifecycle !== 'failed-over')
    throw failedPrecondition(`replica ${replica.name} is not failed over: ${replica.vm} on ${replica.from} is the original as it is (nothing to fail back)`);
  return withReplicaClaim(deps.replicas, replica.name, () => failbackClaimed(deps.replicas.get(replica.name), req, deps));
}

async function describeState(session: HostSession, vm: string, signal: AbortSignal): Promise<string> {
  const d = await describeVm(session, vm, signal);
  return d.domain?.state ?? 'DOMAIN_STATE_UNSPECIFIED';
}

/**
 * CHECK, the states: the original must exist and be shut off (failback
 * overwrites its disks); the copy must be running — then synced from a
 * point-in-time view — or shut off. Resolves with both hosts' sessions and
 * whether the copy runs.
 */
async function checkStates(run: FailbackRun): Promise<{ home: HostSession; away: HostSession; copyRuns: boolean }> {
  const { replica, op, deps } = run;
  op.step('CHECK', `${replica.vm} on ${replica.from} is to be brought up to date from ${replica.destVm} on ${replica.to}`);
  const [home, away] = await Promise.all([openFailbackSession(run, replica.from), openFailbackSession(run, replica.to)]);
  const originalState = await describeState(home, replica.vm, deps.signal).catch((err: unknown) => {
    if (err instanceof KvmcloneError && err.code === 'NOT_FOUND') {
      throw failedPrecondition(
        `${replica.from} has no VM named ${replica.vm} any more: clone ${replica.destVm} back instead (kvmctl clone ${replica.destVm} --from ${replica.to} --to ${replica.from} --name ${replica.vm})`,
      );
    }
    throw err;
  });
  if (originalState !== 'DOMAIN_STATE_SHUTOFF') {
    throw failedPrecondition(
      `${replica.vm} on ${replica.from} is ${domainStateName(originalState)}: failback overwrites its disks with ${replica.destVm}'s, so it must be shut off (and ${replica.destVm} on ${replica.to} is the VM in service)`,
    );
  }
  const copyState = await describeState(away, replica.destVm, deps.signal);
  const copyRuns = copyState === 'DOMAIN_STATE_RUNNING' || copyState === 'DOMAIN_STATE_PAUSED';
  if (!copyRuns && copyState !== 'DOMAIN_STATE_SHUTOFF')
    throw failedPrecondition(`${replica.destVm} on ${replica.to} is ${domainStateName(copyState)}: it must be running or shut off`);
  return { home, away, copyRuns };
}

/**
 * CHECK, the consent: what the original wrote since the copy's last sync is
 * overwritten. Said always, and into the history; asked (or --yes needed)
 * when the original may hold writes the copy never saw.
 */
async function confirmOverwrite({ replica, deps, op, failover }: FailbackRun): Promise<{ ask: boolean; text: string }> {
  const { reporter, signal } = deps;
  const warning = overwriteWarning(replica, failover, deps.replicas.lastSuccess(replica.name)?.startedAt);
  deps.store.event(op.id, 'overwrite', { ...warning, failover: failover ?? null });
  if (warning.ask) {
    reporter.warn(warning.text);
    if (!(await confirm(`Overwrite ${replica.vm} on ${replica.from}?`, { yes: deps.yes, json: deps.json, signal, unattended: false }))) {
      throw failedPrecondition(`${warning.text}; confirm, or pass --yes`);
    }
  } else reporter.info(`  ${warning.text}`);
  return warning;
}

/**
 * CHECK, the delta (failback-delta.ts): the copy's dirty bitmap or hashes of
 * both sides, into the history. A base the decision refused is no base:
 * the sync must not find it, and the running copy need not keep its
 * bitmaps (--switch says what stays of a shut-off copy's, and forgets it).
 */
async function decideDelta(run: FailbackRun, home: HostSession, away: HostSession, copyRuns: boolean): Promise<FailbackDelta> {
  const { replica, req, deps, op, failover, liveReplicas, back } = run;
  const { signal } = deps;
  const originalNow = copyRuns ? await imageIdentities(home, imageDisks(await describeVm(home, replica.vm, signal)), signal) : undefined;
  const decision = decideFailbackDelta({ failover, copyRuns, reverse: liveReplicas.get(back), originalNow });
  run.decision = decision;
  deps.store.event(op.id, 'delta', decision);
  deps.reporter.info(`  ${decision.delta === 'bitmap' ? 'by the bitmap' : 'by hashes'}: ${decision.why}`);
  // A base the decision refused is no base: the sync must not find it, and the running copy need not keep its bitmaps.
  if (decision.delta === 'hash' && liveReplicas.get(back)?.checkpoint) {
    if (copyRuns) await dropCheckpoints(run, away, true);
    else if (!req.switchBack) liveReplicas.forgetCheckpoint(back); // --switch says what stays, and forgets it
  }
  return decision;
}

/**
 * SYNC: the sessions only checked, and go (each sync opens its own and takes
 * the VMs' locks). A running copy is synced from a point-in-time view; a
 * shut-off one offline — unless --switch, whose final sync is then the only
 * one needed.
 */
async function syncStep(run: FailbackRun, copyRuns: boolean, decision: FailbackDelta): Promise<void> {
  const { replica, req, op } = run;
  await Promise.all(run.sessions.splice(0).map((s) => s.close().catch(() => undefined)));
  const oneSyncOnly = req.switchBack && !copyRuns;
  op.step(
    'SYNC',
    copyRuns ? `from the running ${replica.destVm} (point-in-time view, ${decision.delta === 'bitmap' ? 'dirty bitmap' : 'hash delta'})` : `from the shut-off ${replica.destVm}`,
  );
  if (!oneSyncOnly) await syncBack(run, copyRuns);
  op.phase = 'run';
}

/** The failback's result line: the syncs it ran, the delta and why, and whether the roles were handed back. */
function failbackResult({ replica, req, op, syncs, decision }: FailbackRun, warning: { ask: boolean }): Record<string, unknown> {
  return {
    ok: true,
    operation: 'failback',
    id: op.id,
    replica: replica.name,
    vm: replica.vm,
    host: replica.from,
    from: { vm: replica.destVm, host: replica.to },
    syncs,
    delta: syncs[0]?.delta ?? decision?.delta ?? 'hash',
    deltaReason: decision?.why ?? '',
    switched: req.switchBack,
    lifecycle: req.switchBack ? 'active' : 'failed-over',
    overwriteAsked: warning.ask,
    bytesOnWire: op.bytesOnWire,
    seconds: op.seconds(),
  };
}

/**
 * The failback, holding the replica's claim: CHECK (states, consent, delta),
 * SYNC, and with --switch SWITCH (failback-switch.ts). Every session it
 * opened is closed however it ends.
 */
async function failbackClaimed(replica: Replica, req: FailbackRequest, deps: RecoveryDeps): Promise<number> {
  const failover = deps.failovers.failover(replica.name);
  // Recorded in the direction the bytes go: from the copy back to the original.
  const op = new OperationRun(deps, { kind: 'failback', vm: replica.destVm, destVm: replica.vm, from: replica.to, to: replica.from });
  const run: FailbackRun = {
    replica,
    req,
    deps,
    op,
    failover,
    sessions: [],
    syncs: [],
    liveReplicas: new LiveReplicaStore(deps.store.database),
    back: reverseKey(replica),
    decision: undefined,
  };
  try {
    const { home, away, copyRuns } = await checkStates(run);
    const warning = await confirmOverwrite(run);
    const decision = await decideDelta(run, home, away, copyRuns);
    await syncStep(run, copyRuns, decision);
    if (req.switchBack) await switchRoles(run, copyRuns);
    else {
      deps.reporter.info(
        `  ${replica.vm} on ${replica.from} is up to date with ${replica.destVm}${copyRuns ? ' as of the sync' : ''}; kvmctl failback ${replica.name} --switch hands the roles back`,
      );
    }
    return op.succeed(failbackResult(run, warning));
  } catch (thrown) {
    return await op.fail(thrown);
  } finally {
    await Promise.all(run.sessions.map((s) => s.close().catch(() => undefined)));
    await op.close();
  }
}
