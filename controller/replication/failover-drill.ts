/**
 * `kvmctl failover NAME --test [--network]` and `--test --cleanup`: a DR
 * drill. A throw-away VM `<copy>-drill` is cloned from the replica's copy —
 * the newest point — on the copy's own host (same-host clone: its disks
 * beside the copy's, shared backing files reused in place), with a new
 * UUID and MACs and every network interface's link down unless --network,
 * and started. The copy is only read, and the schedule is not touched:
 * a clone, not an overlay, because a later sync rewrites the copy in place
 * and would change the disks under an overlay's running guest.
 *
 * The drill VM is recorded (failover-store.ts) with its UUID, so --cleanup
 * destroys and undefines that VM and removes its disks (UndefineDomain with
 * STORAGE_POLICY_REMOVE: never backing files or files another VM uses), and
 * no other VM that happens to carry the name.
 */
import { failedPrecondition, KvmcloneError } from '../../shared/errors.js';
import { checkVmName } from '../../shared/validation.js';
import { runClone } from '../operations/clone/run-clone.js';
import { underLock } from '../operations/hold-lock.js';
import { OperationRun } from '../operations/operation-run.js';
import type { HostSession } from '../transport/host-session.js';
import type { DrillRecord } from './failover-store.js';
import { requireActiveCopy, type RecoveryDeps } from './failover.js';
import { nestedReporter } from './nested-reporter.js';
import { describeVm, openRecoverySession } from './recovery-session.js';
import { withReplicaClaim } from './replica-claim.js';
import type { Replica } from './replica-store.js';

/** The drill VM's name for a copy. */
export function drillName(copy: string): string {
  return checkVmName(`${copy}-drill`, 'the test failover VM');
}

/**
 * Starts the drill VM apart from its clone, once it is recorded — so a start
 * that fails leaves a VM --cleanup knows — under its operation lock, which
 * is released however the start goes.
 */
async function startDrill(replica: Replica, vm: string, network: boolean, operationId: string, deps: RecoveryDeps): Promise<void> {
  const session = await openRecoverySession(deps, replica.to, ['domain.lifecycle', 'transfer.lock'], operationId);
  try {
    await underLock(session, vm, operationId, `test failover of replica ${replica.name}`, async () => {
      deps.reporter.phase('START', `${vm} on ${replica.to}${network ? '' : ', network links down'}`);
      const started = await session.call(session.clients.domain, session.clients.domain.startDomain, { name: vm, operationId }, deps.signal);
      if (started.domain?.state !== 'DOMAIN_STATE_RUNNING')
        throw new KvmcloneError('INTERNAL', `${vm} on ${replica.to} did not start (kvmctl failover ${replica.name} --test --cleanup removes it)`);
    });
  } finally {
    await session.close().catch(() => undefined);
  }
}

/**
 * The drill, holding the replica's claim: the clone of the copy on its own
 * host (its result line is the drill's when it fails), the record, the
 * start, and the drill's result line. Resolves with the exit code.
 */
async function drillClaimed(replica: Replica, vm: string, network: boolean, deps: RecoveryDeps): Promise<number> {
  const nested = nestedReporter(deps.reporter);
  // Adding the replica was the consent to copy its VM; the drill only adds.
  const code = await runClone(
    { vm: replica.destVm, from: replica.to, to: replica.to, destVm: vm, start: false, dryRun: false, linkDown: !network },
    { ...deps, reporter: nested, confirm: () => Promise.resolve(true) },
  );
  const cloned = nested.captured;
  if (code !== 0 || typeof cloned?.id !== 'string' || typeof cloned.uuid !== 'string') {
    deps.reporter.result({ ...(cloned ?? { ok: false }), operation: 'failover-test', replica: replica.name });
    return code === 0 ? 1 : code;
  }
  deps.failovers.recordDrill({ replica: replica.name, operationId: cloned.id, at: new Date().toISOString(), host: replica.to, vm, uuid: cloned.uuid });
  await startDrill(replica, vm, network, cloned.id, deps);
  deps.reporter.info(
    `  ${vm} runs on ${replica.to}, a clone of ${replica.destVm} as last synced; ${replica.destVm} and the schedule are untouched. kvmctl failover ${replica.name} --test --cleanup removes it`,
  );
  deps.reporter.result({
    ok: true,
    operation: 'failover-test',
    id: cloned.id,
    replica: replica.name,
    vm,
    host: replica.to,
    uuid: cloned.uuid,
    of: replica.destVm,
    network: network ? 'connected' : 'links down',
    bytesOnWire: cloned.bytesOnWire,
    seconds: cloned.seconds,
  });
  return 0;
}

/** Starts a test failover; resolves with the exit code. */
export async function runDrill(req: { replica: string; network: boolean }, deps: RecoveryDeps): Promise<number> {
  const replica = deps.replicas.get(req.replica);
  requireActiveCopy(replica, 'test');
  const existing = deps.failovers.drill(replica.name);
  if (existing) {
    throw failedPrecondition(
      `a test failover of ${replica.name} is up already: ${existing.vm} on ${existing.host} since ${existing.at} (kvmctl failover ${replica.name} --test --cleanup removes it)`,
    );
  }
  const vm = drillName(replica.destVm);
  return withReplicaClaim(deps.replicas, replica.name, () => drillClaimed(replica, vm, req.network, deps));
}

/**
 * Removes the drill VM under its lock: only the VM kvmctl made (its recorded
 * UUID; another VM that carries the name is left alone), stopped first when
 * it runs, undefined with its own disks (never backing files or files
 * another VM uses). A VM already gone is no error. Resolves with whether
 * there was one and the files removed.
 */
async function removeDrillVm(dst: HostSession, drill: DrillRecord, op: OperationRun, deps: RecoveryDeps): Promise<{ existed: boolean; removedPaths: string[] }> {
  let described;
  try {
    described = await describeVm(dst, drill.vm, deps.signal);
  } catch (err) {
    if (!(err instanceof KvmcloneError && err.code === 'NOT_FOUND')) throw err;
    return { existed: false, removedPaths: [] };
  }
  if (described.domain?.uuid !== drill.uuid) {
    throw failedPrecondition(`${drill.vm} on ${drill.host} is not the test failover kvmctl made (UUID ${described.domain?.uuid ?? '?'}, not ${drill.uuid}): left alone`);
  }
  op.phase = 'run';
  if (described.domain.state !== 'DOMAIN_STATE_SHUTOFF') {
    await dst.call(dst.clients.domain, dst.clients.domain.destroyDomain, { name: drill.vm }, deps.signal);
    deps.reporter.info(`  stopped ${drill.vm}`);
  }
  const { removedPaths } = await dst.call(dst.clients.domain, dst.clients.domain.undefineDomain, { name: drill.vm, storage: 'STORAGE_POLICY_REMOVE' }, deps.signal);
  deps.reporter.info(`  undefined ${drill.vm}; removed ${removedPaths.join(', ') || 'no file'}`);
  return { existed: true, removedPaths };
}

/** Removes the test failover VM; resolves with the exit code (0 also when there was none). */
export async function runDrillCleanup(req: { replica: string }, deps: RecoveryDeps): Promise<number> {
  const replica = deps.replicas.get(req.replica);
  const drill = deps.failovers.drill(replica.name);
  if (!drill) {
    deps.reporter.result({
      ok: true,
      operation: 'failover-test-cleanup',
      replica: replica.name,
      removed: false,
      removedPaths: [],
      message: `no test failover of ${replica.name} is up`,
    });
    return 0;
  }
  const op = new OperationRun(deps, { kind: 'drill-cleanup', vm: drill.vm, destVm: drill.vm, from: drill.host, to: drill.host });
  let session: HostSession | undefined;
  try {
    op.step('CLEANUP', `${drill.vm} on ${drill.host}`);
    session = await openRecoverySession(deps, drill.host, ['domain.describe', 'domain.lifecycle', 'domain.undefine', 'transfer.lock'], op.id);
    const s = session;
    const removed = await underLock(s, drill.vm, op.id, `remove the test failover of replica ${replica.name}`, () => removeDrillVm(s, drill, op, deps));
    deps.failovers.clearDrill(replica.name);
    return op.succeed({
      ok: true,
      operation: 'failover-test-cleanup',
      id: op.id,
      replica: replica.name,
      vm: drill.vm,
      host: drill.host,
      removed: removed.existed,
      removedPaths: removed.removedPaths,
      bytesOnWire: 0,
      seconds: op.seconds(),
    });
  } catch (thrown) {
    return await op.fail(thrown);
  } finally {
    await session?.close().catch(() => undefined);
    await op.close();
  }
}
