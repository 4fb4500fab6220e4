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
 *   the copy's last sync, and says so.
 * - SYNC: a running copy is synced from a point-in-time view (`sync --live`,
 *   hashes of both guest views: `--cbt=off`, since no checkpoint of the copy
 *   is known to match the original); a shut-off copy by an offline sync. Both
 *   compare hashes, so the original's own writes since the last sync are
 *   found and overwritten too — a bitmap could not see them.
 * - With --switch: the copy is shut down (ACPI, up to --shutdown-timeout),
 *   a final offline sync moves what it wrote meanwhile, the original is
 *   started under its operation lock, and the replica is forward and active
 *   again with its schedule as it was before the failover. The copy is then
 *   equal to the original, so the next scheduled sync moves next to nothing.
 */
import { failedPrecondition, KvmcloneError } from '../../shared/errors.js';
import { confirm } from '../cli/confirm.js';
import { EXIT_OK } from '../cli/exit-codes.js';
import { formatBytes } from '../cli/reporter.js';
import { holdLock } from '../operations/hold-lock.js';
import { OperationRun } from '../operations/operation-run.js';
import { runSync } from '../operations/sync/run-sync.js';
import { HostSession } from '../transport/host-session.js';
import type { FailoverRecord } from './failover-store.js';
import type { RecoveryDeps } from './failover.js';
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

function stateName(state: string | undefined): string {
  return (state ?? 'unknown').replace('DOMAIN_STATE_', '').toLowerCase();
}

/**
 * The warning failback gives before overwriting the original, and whether
 * it must ask: always when the failover did not find the source shut off
 * cleanly (crashed, unreachable, or no record of the failover).
 */
export function overwriteWarning(replica: Pick<Replica, 'vm' | 'from' | 'destVm' | 'to'>, failover: FailoverRecord | undefined, lastSyncAt: string | undefined): { ask: boolean; text: string } {
  const since = lastSyncAt ? `after the copy's last sync (${lastSyncAt})` : 'after the copy was last synced';
  if (failover && (failover.source === 'shutoff' || failover.source === 'absent')) {
    return { ask: false, text: `${replica.vm} on ${replica.from} is overwritten with ${replica.destVm} on ${replica.to}: anything it wrote ${since} is lost` };
  }
  const why = failover === undefined ? 'how the failover left it is not recorded' : failover.source === 'crashed' ? `it had crashed at the failover (${failover.at})` : `${replica.from} could not be reached at the failover (${failover.at})`;
  return {
    ask: true,
    text: `${replica.vm} on ${replica.from} may hold writes ${replica.destVm} never saw (${why}): they were made ${since}, and failback overwrites them with ${replica.destVm} on ${replica.to}`,
  };
}

/** Runs the failback; resolves with the exit code. */
export async function runFailback(req: FailbackRequest, deps: RecoveryDeps): Promise<number> {
  const replica = deps.replicas.get(req.replica);
  if (replica.lifecycle !== 'failed-over') throw failedPrecondition(`replica ${replica.name} is not failed over: ${replica.vm} on ${replica.from} is the original as it is (nothing to fail back)`);
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
    const s = await HostSession.open(engine, host, { agentSocket: options.agentSocket, callMs: options.timeouts.callMs, signal, needs: ['domain.describe', 'domain.lifecycle', 'transfer.lock'], operationId: op.id });
    sessions.push(s);
    return s;
  };
  const syncs: FailbackSync[] = [];
  /** One sync from the copy to the original (live when the copy runs); throws its error. */
  const syncBack = async (live: boolean): Promise<void> => {
    const nested = nestedReporter(reporter);
    const code = await runSync(
      { vm: replica.destVm, from: replica.to, to: replica.from, destVm: replica.vm, dryRun: false, ...(live && { live: { quiesce: 'try', cbt: false } }) },
      { ...deps, reporter: nested, confirmDiskChanges: (question) => confirm(question, { yes: deps.yes, json: deps.json, signal, unattended: false }) },
    );
    const r = nested.captured;
    if (code !== EXIT_OK) throw nestedError(r, `the sync back to ${replica.from} failed (exit ${code})`);
    const sync: FailbackSync = {
      id: String(r?.id ?? ''),
      live,
      delta: typeof r?.delta === 'string' ? r.delta : 'hash',
      bytesOnWire: typeof r?.bytesOnWire === 'number' ? r.bytesOnWire : 0,
      seconds: typeof r?.seconds === 'number' ? r.seconds : 0,
    };
    syncs.push(sync);
    op.bytesOnWire += sync.bytesOnWire;
    reporter.info(`  sync ${sync.id}: ${formatBytes(sync.bytesOnWire)} on the wire (${live ? 'from a point-in-time view of the running copy' : 'offline'}, ${sync.delta} delta)`);
  };
  try {
    op.step('CHECK', `${replica.vm} on ${replica.from} is to be brought up to date from ${replica.destVm} on ${replica.to}`);
    const [home, away] = await Promise.all([open(replica.from), open(replica.to)]);
    const originalState = await describeState(home, replica.vm, signal).catch((err: unknown) => {
      if (err instanceof KvmcloneError && err.code === 'NOT_FOUND') {
        throw failedPrecondition(`${replica.from} has no VM named ${replica.vm} any more: clone ${replica.destVm} back instead (kvmctl clone ${replica.destVm} --from ${replica.to} --to ${replica.from} --name ${replica.vm})`);
      }
      throw err;
    });
    if (originalState !== 'DOMAIN_STATE_SHUTOFF') {
      throw failedPrecondition(`${replica.vm} on ${replica.from} is ${stateName(originalState)}: failback overwrites its disks with ${replica.destVm}'s, so it must be shut off (and ${replica.destVm} on ${replica.to} is the VM in service)`);
    }
    const copyState = await describeState(away, replica.destVm, signal);
    const copyRuns = copyState === 'DOMAIN_STATE_RUNNING' || copyState === 'DOMAIN_STATE_PAUSED';
    if (!copyRuns && copyState !== 'DOMAIN_STATE_SHUTOFF') throw failedPrecondition(`${replica.destVm} on ${replica.to} is ${stateName(copyState)}: it must be running or shut off`);

    const warning = overwriteWarning(replica, failover, deps.replicas.lastSuccess(replica.name)?.startedAt);
    deps.store.event(op.id, 'overwrite', { ...warning, failover: failover ?? null });
    if (warning.ask) {
      reporter.warn(warning.text);
      if (!(await confirm(`Overwrite ${replica.vm} on ${replica.from}?`, { yes: deps.yes, json: deps.json, signal, unattended: false }))) {
        throw failedPrecondition(`${warning.text}; confirm, or pass --yes`);
      }
    } else reporter.info(`  ${warning.text}`);

    // The sessions only checked: each sync opens its own and takes the VMs' locks.
    await Promise.all(sessions.splice(0).map((s) => s.close().catch(() => undefined)));
    const oneSyncOnly = req.switchBack && !copyRuns;
    op.step('SYNC', copyRuns ? `from the running ${replica.destVm} (point-in-time view, hash delta)` : `from the shut-off ${replica.destVm}`);
    if (!oneSyncOnly) await syncBack(copyRuns);
    op.phase = 'run';

    if (req.switchBack) {
      op.step('SWITCH', `stop ${replica.destVm} on ${replica.to}, final sync, start ${replica.vm} on ${replica.from}`);
      if (copyRuns) {
        const away2 = await open(replica.to);
        reporter.info(`  shutting ${replica.destVm} down on ${replica.to} (up to ${req.shutdownSeconds} s)`);
        try {
          await away2.call(away2.clients.domain, away2.clients.domain.shutdownDomain, { name: replica.destVm, waitSeconds: req.shutdownSeconds }, signal);
        } catch (err) {
          if (err instanceof KvmcloneError && err.code === 'DEADLINE_EXCEEDED') {
            throw failedPrecondition(`${replica.destVm} on ${replica.to} did not power off within ${req.shutdownSeconds} s (it is still running and in service); shut it down there and run kvmctl failback ${replica.name} --switch again`);
          }
          throw err;
        }
      }
      await syncBack(false);
      const home2 = await open(replica.from);
      const lock = await holdLock(home2, replica.vm, op.id, `failback of replica ${replica.name}`);
      try {
        const started = await home2.call(home2.clients.domain, home2.clients.domain.startDomain, { name: replica.vm, operationId: op.id }, signal);
        if (started.domain?.state !== 'DOMAIN_STATE_RUNNING') throw new KvmcloneError('INTERNAL', `${replica.vm} on ${replica.from} is ${stateName(started.domain?.state)} after start`);
      } finally {
        lock.release();
      }
      deps.replicas.transaction(() => {
        deps.replicas.setRoles(replica.name, { direction: 'forward', lifecycle: 'active', paused: failover?.pausedBefore ?? false });
        deps.failovers.clearFailover(replica.name);
      });
      reporter.info(`  ${replica.vm} is running on ${replica.from} again; replica ${replica.name} keeps ${replica.destVm} on ${replica.to} as before${failover?.pausedBefore ? ' (paused, as it was before the failover)' : ''}`);
    } else {
      reporter.info(`  ${replica.vm} on ${replica.from} is up to date with ${replica.destVm}${copyRuns ? ' as of the sync' : ''}; kvmctl failback ${replica.name} --switch hands the roles back`);
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
