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
 *   the next scheduled sync moves next to nothing.
 */
import { domainStateName } from '../operations/domain-state.js';
import { failedPrecondition, KvmcloneError } from '../../shared/errors.js';
import { confirm } from '../cli/confirm.js';
import { EXIT_OK } from '../cli/exit-codes.js';
import { formatBytes } from '../cli/reporter.js';
import { LiveReplicaStore } from '../history/live-replica-store.js';
import { holdLock } from '../operations/hold-lock.js';
import { imageIdentities } from '../operations/live/live-confirm.js';
import { OperationRun } from '../operations/operation-run.js';
import { runSync } from '../operations/sync/run-sync.js';
import { HostSession } from '../transport/host-session.js';
import { decideFailbackDelta, type FailbackDelta } from './failback-delta.js';
import type { FailoverRecord } from './failover-store.js';
import { reverseKey, type RecoveryDeps } from './failover.js';
import { imageDisks } from '../operations/points/vm-points.js';
import { nestedError, nestedReporter } from './nested-reporter.js';
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

/** One sync a failback ran. */
interface FailbackSync {
  id: string;
  live: boolean;
  delta: string;
  bytesOnWire: number;
  seconds: number;
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
  const d = await session.call(session.clients.domain, session.clients.domain.describeDomain, { name: vm }, signal);
  return d.domain?.state ?? 'DOMAIN_STATE_UNSPECIFIED';
}

async function failbackClaimed(replica: Replica, req: FailbackRequest, deps: RecoveryDeps): Promise<number> {
  const { engine, options, reporter, signal } = deps;
  const failover = deps.failovers.failover(replica.name);
  // Recorded in the direction the bytes go: from the copy back to the original.
  const op = new OperationRun(deps, { kind: 'failback', vm: replica.destVm, destVm: replica.vm, from: replica.to, to: replica.from });
  const sessions: HostSession[] = [];
  const open = async (host: string): Promise<HostSession> => {
    const s = await HostSession.open(engine, host, {
      agentSocket: options.agentSocket,
      callMs: options.timeouts.callMs,
      signal,
      needs: ['domain.describe', 'domain.lifecycle', 'transfer.lock', 'disk.stat'],
      operationId: op.id,
    });
    sessions.push(s);
    return s;
  };
  const syncs: FailbackSync[] = [];
  const liveReplicas = new LiveReplicaStore(deps.store.database);
  const back = reverseKey(replica);
  let decision: FailbackDelta | undefined;
  /** One sync from the copy to the original (live when the copy runs; by the bitmap when that was decided); throws its error. */
  const syncBack = async (live: boolean): Promise<void> => {
    const nested = nestedReporter(reporter);
    const code = await runSync(
      { vm: replica.destVm, from: replica.to, to: replica.from, destVm: replica.vm, dryRun: false, ...(live && { live: { quiesce: 'try', cbt: decision?.delta === 'bitmap' } }) },
      { ...deps, reporter: nested, confirmDiskChanges: (question) => confirm(question, { yes: deps.yes, json: deps.json, signal, unattended: false }) },
    );
    const r = nested.captured;
    if (code !== EXIT_OK) throw nestedError(r, `the sync back to ${replica.from} failed (exit ${code})`);
    const sync: FailbackSync = {
      id: typeof r?.id === 'string' ? r.id : '',
      live,
      delta: typeof r?.delta === 'string' ? r.delta : 'hash',
      bytesOnWire: typeof r?.bytesOnWire === 'number' ? r.bytesOnWire : 0,
      seconds: typeof r?.seconds === 'number' ? r.seconds : 0,
    };
    syncs.push(sync);
    op.bytesOnWire += sync.bytesOnWire;
    reporter.info(`  sync ${sync.id}: ${formatBytes(sync.bytesOnWire)} on the wire (${live ? 'from a point-in-time view of the running copy' : 'offline'}, ${sync.delta} delta)`);
  };
  /**
   * The copy's checkpoints of the way back go (best effort), and the store
   * forgets them: before --switch stops the copy (their bitmaps sit in the
   * copy's qcow2 images, and the final offline sync copies those files into
   * the original's), and when the decision refused them as a base. libvirt
   * 9.0 deletes checkpoints of running domains only: a shut-off copy keeps
   * them until the next failover of the replica deletes them (it prunes
   * every older checkpoint of the way back once it made its own).
   */
  const dropCheckpoints = async (away: HostSession, copyRunning: boolean): Promise<void> => {
    const state = liveReplicas.get(back);
    if (state === undefined) return;
    if (!copyRunning) {
      if (state.checkpoint !== '') {
        reporter.info(
          `  ${replica.destVm} is shut off: its checkpoint ${state.checkpoint} stays (libvirt deletes checkpoints of running VMs only; the next failover of ${replica.name} deletes it), and its unused bitmap goes into ${replica.vm}'s images with the final sync`,
        );
      }
    } else {
      try {
        const pruned = await away.call(away.clients.transfer, away.clients.transfer.pruneCheckpoints, { vmName: replica.destVm, replicaId: state.replicaId, keep: '' }, signal);
        if (pruned.deleted.length > 0) reporter.info(`  deleted checkpoint(s) of ${replica.destVm}: ${pruned.deleted.join(', ')}`);
      } catch (err) {
        reporter.warn(
          `could not delete the checkpoints of ${replica.destVm} on ${replica.to} (${err instanceof Error ? err.message : String(err)}); the next failover of ${replica.name} deletes them`,
        );
      }
    }
    liveReplicas.forgetCheckpoint(back);
  };
  try {
    op.step('CHECK', `${replica.vm} on ${replica.from} is to be brought up to date from ${replica.destVm} on ${replica.to}`);
    const [home, away] = await Promise.all([open(replica.from), open(replica.to)]);
    const originalState = await describeState(home, replica.vm, signal).catch((err: unknown) => {
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
    const copyState = await describeState(away, replica.destVm, signal);
    const copyRuns = copyState === 'DOMAIN_STATE_RUNNING' || copyState === 'DOMAIN_STATE_PAUSED';
    if (!copyRuns && copyState !== 'DOMAIN_STATE_SHUTOFF')
      throw failedPrecondition(`${replica.destVm} on ${replica.to} is ${domainStateName(copyState)}: it must be running or shut off`);

    const warning = overwriteWarning(replica, failover, deps.replicas.lastSuccess(replica.name)?.startedAt);
    deps.store.event(op.id, 'overwrite', { ...warning, failover: failover ?? null });
    if (warning.ask) {
      reporter.warn(warning.text);
      if (!(await confirm(`Overwrite ${replica.vm} on ${replica.from}?`, { yes: deps.yes, json: deps.json, signal, unattended: false }))) {
        throw failedPrecondition(`${warning.text}; confirm, or pass --yes`);
      }
    } else reporter.info(`  ${warning.text}`);

    const originalNow = copyRuns
      ? await imageIdentities(home, imageDisks(await home.call(home.clients.domain, home.clients.domain.describeDomain, { name: replica.vm }, signal)), signal)
      : undefined;
    decision = decideFailbackDelta({ failover, copyRuns, reverse: liveReplicas.get(back), originalNow });
    deps.store.event(op.id, 'delta', decision);
    reporter.info(`  ${decision.delta === 'bitmap' ? 'by the bitmap' : 'by hashes'}: ${decision.why}`);
    // A base the decision refused is no base: the sync must not find it, and the running copy need not keep its bitmaps.
    if (decision.delta === 'hash' && liveReplicas.get(back)?.checkpoint) {
      if (copyRuns) await dropCheckpoints(away, true);
      else if (!req.switchBack) liveReplicas.forgetCheckpoint(back); // --switch says what stays, and forgets it
    }

    // The sessions only checked: each sync opens its own and takes the VMs' locks.
    await Promise.all(sessions.splice(0).map((s) => s.close().catch(() => undefined)));
    const oneSyncOnly = req.switchBack && !copyRuns;
    op.step(
      'SYNC',
      copyRuns ? `from the running ${replica.destVm} (point-in-time view, ${decision.delta === 'bitmap' ? 'dirty bitmap' : 'hash delta'})` : `from the shut-off ${replica.destVm}`,
    );
    if (!oneSyncOnly) await syncBack(copyRuns);
    op.phase = 'run';

    if (req.switchBack) {
      op.step('SWITCH', `stop ${replica.destVm} on ${replica.to}, final sync, start ${replica.vm} on ${replica.from}`);
      const away2 = await open(replica.to);
      await dropCheckpoints(away2, copyRuns);
      if (copyRuns) {
        reporter.info(`  shutting ${replica.destVm} down on ${replica.to} (up to ${req.shutdownSeconds} s)`);
        try {
          await away2.call(away2.clients.domain, away2.clients.domain.shutdownDomain, { name: replica.destVm, waitSeconds: req.shutdownSeconds }, signal);
        } catch (err) {
          if (err instanceof KvmcloneError && err.code === 'DEADLINE_EXCEEDED') {
            throw failedPrecondition(
              `${replica.destVm} on ${replica.to} did not power off within ${req.shutdownSeconds} s (it is still running and in service); shut it down there and run kvmctl failback ${replica.name} --switch again`,
            );
          }
          throw err;
        }
      }
      await syncBack(false);
      const home2 = await open(replica.from);
      const lock = await holdLock(home2, replica.vm, op.id, `failback of replica ${replica.name}`);
      try {
        const started = await home2.call(home2.clients.domain, home2.clients.domain.startDomain, { name: replica.vm, operationId: op.id }, signal);
        if (started.domain?.state !== 'DOMAIN_STATE_RUNNING')
          throw new KvmcloneError('INTERNAL', `${replica.vm} on ${replica.from} is ${domainStateName(started.domain?.state)} after start`);
      } finally {
        lock.release();
      }
      deps.replicas.transaction(() => {
        deps.replicas.setRoles(replica.name, { direction: 'forward', lifecycle: 'active', paused: failover?.pausedBefore ?? false });
        deps.failovers.clearFailover(replica.name);
        if (liveReplicas.get(back)?.checkpoint) liveReplicas.forgetCheckpoint(back);
      });
      reporter.info(
        `  ${replica.vm} is running on ${replica.from} again; replica ${replica.name} keeps ${replica.destVm} on ${replica.to} as before${failover?.pausedBefore ? ' (paused, as it was before the failover)' : ''}`,
      );
    } else {
      reporter.info(
        `  ${replica.vm} on ${replica.from} is up to date with ${replica.destVm}${copyRuns ? ' as of the sync' : ''}; kvmctl failback ${replica.name} --switch hands the roles back`,
      );
    }
    return op.succeed({
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
    });
  } catch (thrown) {
    return await op.fail(thrown);
  } finally {
    await Promise.all(sessions.map((s) => s.close().catch(() => undefined)));
    await op.close();
  }
}
