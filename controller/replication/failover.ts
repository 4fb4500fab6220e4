/**
 * `kvmctl failover NAME [--point ID] [--force]`: the replica's copy becomes
 * the running VM. CHECK asks the source host whether the VM still runs there
 * (split-brain.ts: refused while it does, and while the host cannot be
 * reached unless --force). A planned failover (the source found shut off, no
 * --point) first runs a final offline sync original -> copy (EQUAL): the copy
 * starts with the original's last writes, and equal to it. With --point,
 * RESTORE rolls the shut-off copy back to that restore point (the
 * points/restore logic of vm-points.ts: that point and the newer ones are
 * used up). START starts it under the copy's operation lock — after EQUAL,
 * and when every disk of the copy is qcow2, paused, with a checkpoint made
 * before it runs (failover-checkpoint.ts), so that failback can send what
 * the copy's dirty bitmap marks. Then, in one transaction, the replica is
 * recorded as failed over — direction reverse, schedule paused, what the
 * source was found to be (the failback warns when it crashed or could not
 * be reached), the checkpoint or why there is none — and the operation is in
 * the history like a sync.
 */
import { domainStateName } from '../operations/domain-state.js';
import { failedPrecondition, KvmcloneError, messageOf } from '../../shared/errors.js';
import type { DescribeDomainResponse__Output } from '../../shared/generated/kvmclone/agent/v1/DescribeDomainResponse.js';
import { confirm } from '../cli/confirm.js';
import { EXIT_OK } from '../cli/exit-codes.js';
import { formatBytes } from '../cli/reporter.js';
import { LiveReplicaStore, type ImageIdentity, type ReplicaKey } from '../history/live-replica-store.js';
import { holdLock } from '../operations/hold-lock.js';
import { imageIdentities, sameIdentities } from '../operations/live/live-confirm.js';
import { OperationRun, type OperationDeps } from '../operations/operation-run.js';
import { findVmPoint, imageDisks, listVmPoints, restoreDisk, type VmPoint } from '../operations/points/vm-points.js';
import { runSync } from '../operations/sync/run-sync.js';
import { HostSession } from '../transport/host-session.js';
import { checkpointBlocker, firstInstantCheckpoint } from './failover-checkpoint.js';
import type { FailoverStore } from './failover-store.js';
import { nestedError, nestedReporter } from './nested-reporter.js';
import { withReplicaClaim } from './replica-claim.js';
import type { Replica, ReplicaStore } from './replica-store.js';
import { decideFailover, probeSource } from './split-brain.js';

/** What a failover, failback or test failover needs from its command. */
export interface RecoveryDeps extends OperationDeps {
  replicas: ReplicaStore;
  failovers: FailoverStore;
  /** --yes: never ask. */
  yes: boolean;
  /** --json: no prompt is possible (what would ask needs --yes). */
  json: boolean;
}

/** How long resuming the paused copy may take; it is not cut short by an interrupt. */
const RESUME_MS = 30_000;

/** What the user asked for. */
export interface FailoverRequest {
  replica: string;
  /** --point: the restore point to bring the copy to first; absent = the copy as last synced. */
  point?: string;
  /** --force: go ahead when the source host cannot be reached. */
  force: boolean;
}

/** Refuses a replica that cannot fail over: already failed over, or never copied. */
export function requireActiveCopy(replica: Replica, verb: string): void {
  if (replica.lifecycle === 'failed-over') {
    throw failedPrecondition(
      `replica ${replica.name} is failed over already: ${replica.destVm} on ${replica.to} is the running VM (kvmctl failback ${replica.name} brings it home)`,
    );
  }
  if (replica.seededAt === null) throw failedPrecondition(`replica ${replica.name} has no copy yet (its first run never succeeded): nothing to ${verb}`);
}

/** The live-replica key of the way back: the copy on its host as the source, the original as the destination. */
export function reverseKey(replica: Pick<Replica, 'vm' | 'from' | 'destVm' | 'to'>): ReplicaKey {
  return { sourceHost: replica.to, vm: replica.destVm, destHost: replica.from, destVm: replica.vm };
}

/** Why a failover that is not planned (source shut off, no --point) makes no checkpoint. */
export function unplannedNoCheckpoint(source: string, point: string | undefined, replica: Pick<Replica, 'vm' | 'from'>): string {
  if (point !== undefined) return `the copy started from restore point ${point}, not equal to the original`;
  if (source === 'crashed') return `${replica.vm} had crashed on ${replica.from}: it may hold writes the copy never saw`;
  if (source === 'unreachable') return `${replica.from} could not be reached: the original could not be made equal to the copy`;
  if (source === 'absent') return `there was no ${replica.vm} on ${replica.from} to make equal to the copy`;
  return '';
}

/** What EQUAL left: the original's and the copy's images as the final sync left them. */
interface EqualImages {
  original: ImageIdentity[];
  copy: ImageIdentity[];
  syncId: string;
  bytesOnWire: number;
}

async function describe(session: HostSession, vm: string, signal: AbortSignal): Promise<DescribeDomainResponse__Output> {
  return session.call(session.clients.domain, session.clients.domain.describeDomain, { name: vm }, signal);
}

/**
 * EQUAL: a final offline sync original -> copy (both shut off). Resolves with
 * the images' identities after it, or a reason when the original changed
 * while it ran (it was started, or written): then the two are not known equal.
 */
async function equalize(replica: Replica, op: OperationRun, home: HostSession, dst: HostSession, deps: RecoveryDeps): Promise<EqualImages | string> {
  const { reporter, signal } = deps;
  const originalDisks = imageDisks(await describe(home, replica.vm, signal));
  const before = await imageIdentities(home, originalDisks, signal);
  const nested = nestedReporter(reporter);
  const code = await runSync(
    { vm: replica.vm, from: replica.from, to: replica.to, destVm: replica.destVm, dryRun: false, ...(replica.keep !== null && { keep: replica.keep }) },
    { ...deps, reporter: nested, confirmDiskChanges: (question) => confirm(question, { yes: deps.yes, json: deps.json, signal, unattended: false }) },
  );
  const r = nested.captured;
  if (code !== EXIT_OK) throw nestedError(r, `the final sync to ${replica.to} failed (exit ${code})`);
  const syncId = typeof r?.id === 'string' ? r.id : '';
  const bytesOnWire = typeof r?.bytesOnWire === 'number' ? r.bytesOnWire : 0;
  op.bytesOnWire += bytesOnWire;
  reporter.info(`  sync ${syncId}: ${formatBytes(bytesOnWire)} on the wire; ${replica.destVm} on ${replica.to} now equals ${replica.vm}`);
  const after = await imageIdentities(home, originalDisks, signal);
  const same = sameIdentities(before, after);
  if (!same.same) return `${replica.vm} on ${replica.from} changed while the final sync ran (${same.why.replace('on the destination ', '')})`;
  const copy = await imageIdentities(dst, imageDisks(await describe(dst, replica.destVm, signal)), signal);
  return { original: after, copy, syncId, bytesOnWire };
}

/**
 * START of a planned failover: the copy started paused, checkpointed at its
 * first instant (recorded for the way back, older ones pruned) and resumed —
 * resumed however the checkpoint went, even when the command is
 * interrupted: the copy is the VM in service now. Resolves with the
 * checkpoint, or null and why there is none.
 */
async function startWithCheckpoint(
  replica: Replica,
  op: OperationRun,
  dst: HostSession,
  liveReplicas: LiveReplicaStore,
  equal: EqualImages,
  deps: RecoveryDeps,
): Promise<{ checkpoint: string | null; noCheckpoint: string }> {
  const { reporter, signal } = deps;
  const back = reverseKey(replica);
  const paused = await dst.call(dst.clients.domain, dst.clients.domain.startDomain, { name: replica.destVm, operationId: op.id, paused: true }, signal);
  if (paused.domain?.state !== 'DOMAIN_STATE_PAUSED')
    throw new KvmcloneError('INTERNAL', `${replica.destVm} on ${replica.to} is ${domainStateName(paused.domain?.state)} after a paused start`);
  const outcome = await (async (): Promise<{ checkpoint: string | null; noCheckpoint: string }> => {
    const replicaId = liveReplicas.replicaId(back);
    const made = await firstInstantCheckpoint(dst, replica.destVm, op.id, replicaId, signal);
    liveReplicas.confirm(back, { checkpoint: made.checkpoint, checkpointXml: made.xml, images: equal.original });
    reporter.info(`  checkpoint ${made.checkpoint} of ${replica.destVm} made before its guest ran: failback can send what its dirty bitmap marks`);
    // A checkpoint of an earlier failover of this replica is no base any more.
    const pruned = await dst
      .call(dst.clients.transfer, dst.clients.transfer.pruneCheckpoints, { vmName: replica.destVm, replicaId, keep: made.checkpoint }, signal)
      .catch(() => undefined);
    if (pruned && pruned.deleted.length > 0) reporter.info(`  deleted older checkpoint(s) of ${replica.destVm}: ${pruned.deleted.join(', ')}`);
    return { checkpoint: made.checkpoint, noCheckpoint: '' };
  })().catch((err: unknown) => (signal.aborted ? { interrupted: err } : { checkpoint: null, noCheckpoint: `no checkpoint of the copy could be made (${messageOf(err)})` }));
  // However the checkpoint went, interrupted included: the copy is the VM in service now.
  const resumed = await dst
    .call(dst.clients.domain, dst.clients.domain.resumeDomain, { name: replica.destVm, operationId: op.id }, AbortSignal.timeout(RESUME_MS))
    .catch((err: unknown) => {
      throw new KvmcloneError(
        'INTERNAL',
        `${replica.destVm} on ${replica.to} was started paused and could not be resumed (${messageOf(err)}): resume it with virsh resume ${replica.destVm}`,
      );
    });
  if (resumed.domain?.state !== 'DOMAIN_STATE_RUNNING')
    throw new KvmcloneError('INTERNAL', `${replica.destVm} on ${replica.to} is ${domainStateName(resumed.domain?.state)} after resume`);
  if ('interrupted' in outcome) throw outcome.interrupted;
  return outcome;
}

/** Runs the failover; resolves with the exit code. */
export async function runFailover(req: FailoverRequest, deps: RecoveryDeps): Promise<number> {
  const replica = deps.replicas.get(req.replica);
  requireActiveCopy(replica, 'fail over to');
  return withReplicaClaim(deps.replicas, replica.name, () => failoverClaimed(deps.replicas.get(replica.name), req, deps));
}

async function failoverClaimed(replica: Replica, req: FailoverRequest, deps: RecoveryDeps): Promise<number> {
  const { engine, options, reporter, signal } = deps;
  requireActiveCopy(replica, 'fail over to');
  const op = new OperationRun(deps, { kind: 'failover', vm: replica.vm, destVm: replica.destVm, from: replica.from, to: replica.to });
  let session: HostSession | undefined;
  let home: HostSession | undefined;
  try {
    op.step('CHECK', `is ${replica.vm} still running on ${replica.from}?`);
    const probe = await probeSource(engine, options, replica.from, replica.vm, signal);
    deps.store.event(op.id, 'source', probe);
    const verdict = decideFailover(probe, req.force, { vm: replica.vm, from: replica.from, replica: replica.name });
    if (verdict.source === 'shutoff' || verdict.source === 'absent') reporter.info(`  ${verdict.note}`);
    else reporter.warn(verdict.note);

    const planned = verdict.source === 'shutoff' && req.point === undefined;
    session = await HostSession.open(engine, replica.to, {
      agentSocket: options.agentSocket,
      callMs: options.timeouts.callMs,
      signal,
      needs: [
        'domain.describe',
        'domain.lifecycle',
        'transfer.lock',
        ...(req.point !== undefined ? (['transfer.restore-points'] as const) : []),
        ...(planned ? (['disk.stat'] as const) : []),
      ],
      operationId: op.id,
    });
    const dst = session;
    let noCheckpoint = unplannedNoCheckpoint(verdict.source, req.point, replica);
    let equal: EqualImages | undefined;
    if (planned) {
      home = await HostSession.open(engine, replica.from, {
        agentSocket: options.agentSocket,
        callMs: options.timeouts.callMs,
        signal,
        needs: ['domain.describe', 'disk.stat'],
        operationId: op.id,
      });
      noCheckpoint = checkpointBlocker(await describe(dst, replica.destVm, signal), replica.to, dst.info.capabilities);
      op.step(
        'EQUAL',
        `a final sync ${replica.vm} -> ${replica.destVm} with both shut off: the copy starts with the original's last writes${noCheckpoint === '' ? ", equal to it (failback can then read the copy's dirty bitmap)" : ''}`,
      );
      op.phase = 'run';
      const equalized = await equalize(replica, op, home, dst, deps);
      if (typeof equalized === 'string') noCheckpoint ||= equalized;
      else equal = equalized;
    }
    const lock = await holdLock(dst, replica.destVm, op.id, `failover of replica ${replica.name}`);
    try {
      const described = await describe(dst, replica.destVm, signal);
      if (described.domain?.state !== 'DOMAIN_STATE_SHUTOFF') {
        throw failedPrecondition(
          `${replica.destVm} on ${replica.to} is ${domainStateName(described.domain?.state)}, not shut off: it was started outside kvmctl failover; shut it down, or use it as it is`,
        );
      }
      let point: VmPoint | undefined;
      if (req.point !== undefined) {
        const points = await listVmPoints(dst, described, signal);
        point = findVmPoint(points, req.point, replica.destVm);
        if (!point.complete) throw failedPrecondition(`restore point ${point.id} of ${replica.destVm} does not cover every disk: it cannot bring the VM back whole`);
        const newer = points.slice(0, points.indexOf(point));
        op.step('RESTORE', `${replica.destVm} back to point ${point.id} (${new Date(point.createdUnix * 1000).toISOString()}); it and ${newer.length} newer point(s) are used up`);
        op.phase = 'run';
        for (const d of point.disks) {
          const digest = await restoreDisk(dst, { targetPath: d.path, pointId: d.pointId, destVm: replica.destVm, operationId: op.id }, signal, (e) => {
            if (e.phase === 'apply') reporter.progress(`${d.target} restore`, e.pointsDone, e.pointsTotal);
          });
          reporter.itemDone(`${d.target} restore`, `${d.path} back to point ${d.pointId}, verified ${digest.slice(0, 23)}…`);
        }
      }
      // Both sides still as the final sync left them (nothing started or wrote either since)?
      if (equal && noCheckpoint === '' && home) {
        const [originalNow, copyNow] = await Promise.all([imageIdentities(home, equal.original, signal), imageIdentities(dst, equal.copy, signal)]);
        const changed = [sameIdentities(equal.original, originalNow), sameIdentities(equal.copy, copyNow)].find((c) => !c.same);
        if (changed) noCheckpoint = `an image changed after the final sync (${changed.why.replace('on the destination ', '')})`;
      }

      const liveReplicas = new LiveReplicaStore(deps.store.database);
      const back = reverseKey(replica);
      let checkpoint: string | null = null;
      if (equal && noCheckpoint === '') {
        op.step('START', `${replica.destVm} on ${replica.to}, paused until a checkpoint of its first instant is made`);
        op.phase = 'run';
        ({ checkpoint, noCheckpoint } = await startWithCheckpoint(replica, op, dst, liveReplicas, equal, deps));
      } else {
        op.step('START', `${replica.destVm} on ${replica.to}`);
        op.phase = 'run';
        // The copy's lock is ours: the agent starts it only with this operation's id.
        const started = await dst.call(dst.clients.domain, dst.clients.domain.startDomain, { name: replica.destVm, operationId: op.id }, signal);
        if (started.domain?.state !== 'DOMAIN_STATE_RUNNING') {
          throw new KvmcloneError('INTERNAL', `${replica.destVm} on ${replica.to} is ${domainStateName(started.domain?.state)} after start`);
        }
      }
      if (checkpoint === null) {
        // A checkpoint an earlier failover confirmed says nothing of this one.
        if (liveReplicas.get(back)) liveReplicas.forgetCheckpoint(back);
        reporter.info(`  failback will compare hashes: ${noCheckpoint}`);
      }
      const at = new Date().toISOString();
      deps.replicas.transaction(() => {
        deps.failovers.recordFailover({
          replica: replica.name,
          operationId: op.id,
          at,
          source: verdict.source,
          point: point?.id ?? null,
          pausedBefore: replica.paused,
          checkpoint,
          noCheckpoint: checkpoint === null ? noCheckpoint : '',
        });
        deps.replicas.setRoles(replica.name, { direction: 'reverse', lifecycle: 'failed-over', paused: true });
      });
      reporter.info(
        `  ${replica.destVm} is running on ${replica.to}; replica ${replica.name} is failed over (its schedule paused; kvmctl failback ${replica.name} brings it home)`,
      );
      return op.succeed({
        ok: true,
        operation: 'failover',
        id: op.id,
        replica: replica.name,
        vm: replica.destVm,
        host: replica.to,
        source: { vm: replica.vm, host: replica.from, state: verdict.source },
        point: point?.id ?? null,
        ...(equal && { finalSync: equal.syncId }),
        checkpoint,
        failbackDelta: checkpoint !== null ? 'bitmap' : 'hash',
        ...(checkpoint === null && { noCheckpoint }),
        lifecycle: 'failed-over',
        paused: true,
        bytesOnWire: op.bytesOnWire,
        seconds: op.seconds(),
      });
    } finally {
      lock.release();
    }
  } catch (thrown) {
    return await op.fail(thrown);
  } finally {
    await session?.close().catch(() => undefined);
    await home?.close().catch(() => undefined);
    await op.close();
  }
}
