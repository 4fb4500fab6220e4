/**
 * kvmctl clone, in the order the contract gives: PREFLIGHT, PLAN, TRANSFER,
 * VERIFY, DEFINE, COMMIT, then START if asked. Until COMMIT every created
 * thing is on a revert stack, so a failure or Ctrl-C leaves the destination
 * as it was and the source untouched.
 *
 * runClone reads as the list of steps; the steps that move bytes are in
 * clone-transfer-steps.ts, those that define and commit the copy in
 * clone-define-commit.ts, the result objects in clone-results.ts.
 */
import { transferNeeds } from '../transfer-rate.js';
import { KvmcloneError } from '../../../shared/errors.js';
import { formatBytes } from '../../cli/reporter.js';
import type { ControllerOptions } from '../../config/controller-config.js';
import type { OperationStore } from '../../history/operation-store.js';
import { ADMIN_ACCESS, OperationRun, type OperationDeps } from '../operation-run.js';
import type { PlannedFile } from './clone-plan.js';
import { preflightClone, type CloneFacts, type CloneRequest } from './preflight.js';
import type { StagedFile } from './transfer-files.js';
import type { HostSession } from '../../transport/host-session.js';
import { LiveReplicaStore, type ReplicaKey } from '../../history/live-replica-store.js';
import { confirmReplica, imageIdentities } from '../live/live-confirm.js';
import type { LivePath } from '../live/live-path.js';
import { finishCommit, interruptedCommit, type InterruptedCommit } from './finish-commit.js';
import { openSourceView, transferStaged, verifyAndRebase } from './clone-transfer-steps.js';
import { commitCopy, defineCopy, startCopy } from './clone-define-commit.js';
import { cloneResult, dryRunResult, finishedResult } from './clone-results.js';

/** What the clone needs from the command. */
export interface CloneDeps extends OperationDeps {
  /** Asks before the first write (a no-op with --yes, --json or without a TTY). */
  confirm: (question: string) => Promise<boolean>;
}

const NEEDS = ['domain.describe', 'domain.define', 'disk.read', 'disk.staging', 'disk.digest', 'transfer.pull', 'transfer.ticket', 'transfer.lock'] as const;

/** What an interrupted run of the same clone left to pick up. */
interface Resumable {
  operationId: string;
  staging: Map<string, { stagingId: string; stagingPath: string }>;
  commit?: InterruptedCommit | undefined;
}

function describeFile(f: PlannedFile): string {
  const what = f.action === 'reuse' ? 'reuse the identical file already there' : `copy ${formatBytes(f.allocatedSize)} allocated`;
  const rebase = f.rebase ? `, then point it at ${f.rebase.backingPath}` : '';
  return `${f.label}: ${f.sourcePath} -> ${f.targetPath} (${f.format}${f.virtualSize ? `, ${formatBytes(f.virtualSize)} virtual` : ''}; ${what}${rebase})`;
}

/**
 * Staging files that an interrupted run of the same clone (same VM, hosts and
 * name; killed, so no revert ran) recorded in the history, by target path.
 */
function resumableStaging(store: OperationStore, req: CloneRequest): Resumable {
  const [prior] = store.history({ kind: 'clone', vm: req.vm, destVm: req.destVm, sourceHost: req.from, destHost: req.to }, 1);
  const staging = new Map<string, { stagingId: string; stagingPath: string }>();
  if (!prior || prior.state !== 'running') return { operationId: '', staging };
  const events = store.get(prior.id)?.events ?? [];
  const commit = interruptedCommit(prior.id, events);
  for (const e of events) {
    const d = e.data as { targetPath?: string; stagingId?: string; stagingPath?: string };
    if (e.type === 'staged' && d.targetPath && d.stagingId && d.stagingPath) staging.set(d.targetPath, { stagingId: d.stagingId, stagingPath: d.stagingPath });
  }
  return { operationId: prior.id, staging, commit };
}

/**
 * PREFLIGHT begins with both sessions, asking the agents for exactly the
 * capabilities this clone uses, so an agent too old for it refuses up front.
 */
async function openCloneHosts(op: OperationRun, req: CloneRequest, options: ControllerOptions): Promise<{ src: HostSession; dst: HostSession }> {
  op.step('PREFLIGHT', `${req.vm} on ${req.from} -> ${req.destVm} on ${req.to}`);
  // A dry run reads only (DescribeDomain, ListDomains, StatImage, DigestImage, GetFreeSpace): the read-only sockets.
  const access = req.dryRun ? ({ source: 'read-only', dest: 'read-only' } as const) : ADMIN_ACCESS;
  return op.openHosts(
    [
      ...NEEDS,
      ...(req.live || req.flatten ? (['transfer.live'] as const) : []),
      ...(req.flatten ? (['transfer.flatten'] as const) : []),
      ...transferNeeds(options.transfer, req.from, req.to),
      ...(options.transfer.streams > 1 ? (['transfer.streams'] as const) : []),
    ],
    access,
  );
}

/**
 * A run of this clone that stopped in DEFINE or COMMIT, its domain already
 * on the destination with the recorded UUID, is finished rather than refused
 * (finish-commit.ts); resolves with the exit code then, undefined otherwise.
 */
async function finishInterrupted(op: OperationRun, req: CloneRequest, deps: CloneDeps, dst: HostSession, resume: Resumable): Promise<number | undefined> {
  if (!resume.commit || req.dryRun) return undefined;
  const done = await finishCommit(dst, req.destVm, resume.commit, (targetPath) => deps.store.event(op.id, 'committed', { targetPath }), deps.reporter, deps.signal);
  if (!done) return undefined;
  deps.store.finish(resume.operationId, 'interrupted', { errorCode: 'CANCELLED', errorMessage: `the controller stopped in COMMIT; finished by ${op.id}` });
  if (req.start) await startCopy(op, dst, req);
  return op.succeed(finishedResult(op, req, resume.commit, done));
}

/** The rest of PREFLIGHT (every refusal before a byte is written), then PLAN: what goes where, and the space it leaves. */
async function preflightAndPlan(op: OperationRun, req: CloneRequest, deps: CloneDeps, src: HostSession, dst: HostSession): Promise<CloneFacts> {
  const { reporter, store } = deps;
  const facts = await preflightClone(req, src, dst, deps.signal);
  for (const w of facts.warnings) reporter.warn(w);

  op.step('PLAN');
  for (const f of facts.files) reporter.info(`  ${describeFile(f)}`);
  for (const s of facts.space) {
    reporter.info(`  ${req.to}:${s.dir}: ${formatBytes(s.availableBytes)} free before, about ${formatBytes(s.availableBytes - s.neededBytes / 1.15)} after`);
  }
  store.event(op.id, 'plan', { files: facts.files, space: facts.space });
  return facts;
}

/** The first write waits for the user's yes: a no is CANCELLED with nothing changed. */
async function confirmClone(req: CloneRequest, deps: CloneDeps): Promise<void> {
  if (!(await deps.confirm(`Clone ${req.vm} to ${req.to} as ${req.destVm}?`))) {
    throw new KvmcloneError('CANCELLED', 'not confirmed; nothing was changed');
  }
}

/**
 * TRANSFER begins: what is to copy, and — when an interrupted run left
 * staging files — that they are reused; that run is then closed in the
 * history as resumed by this one.
 */
function beginTransfer(op: OperationRun, req: CloneRequest, deps: CloneDeps, toCopy: readonly PlannedFile[], resume: Resumable): void {
  op.step('TRANSFER', `${toCopy.length} file(s), ${formatBytes(toCopy.reduce((n, f) => n + f.allocatedSize, 0))} allocated, agent to agent`);
  if (resume.staging.size > 0) {
    deps.reporter.info(`resuming clone ${resume.operationId}: its staging files on ${req.to} are reused; only blocks still missing are sent`);
    deps.store.finish(resume.operationId, 'interrupted', { errorCode: 'CANCELLED', errorMessage: `the controller stopped; resumed by ${op.id}` });
  }
}

/** After COMMIT, a live clone records its copy as the VM's replica (the base a later live sync sends only changes against). */
async function recordReplica(
  deps: CloneDeps,
  hosts: { src: HostSession; dst: HostSession },
  replica: { replicas: LiveReplicaStore; replicaKey: ReplicaKey },
  live: LivePath,
  staged: readonly StagedFile[],
): Promise<void> {
  const { replicas, replicaKey } = replica;
  const disks = staged.filter((s) => s.file.role === 'disk').map((s) => ({ target: s.file.label, path: s.file.targetPath }));
  await confirmReplica(
    replicas,
    replicaKey,
    replicas.replicaId(replicaKey),
    live.view,
    await imageIdentities(hosts.dst, disks, deps.signal),
    hosts.src,
    deps.reporter,
    deps.signal,
  );
}

/** Runs one clone and returns the process exit code. */
export async function runClone(req: CloneRequest, deps: CloneDeps): Promise<number> {
  const resume = resumableStaging(deps.store, req);
  const op = new OperationRun(deps, { kind: 'clone', vm: req.vm, destVm: req.destVm, from: req.from, to: req.to });
  try {
    const hosts = await openCloneHosts(op, req, deps.options);
    const { src, dst } = hosts;
    const finished = await finishInterrupted(op, req, deps, dst, resume);
    if (finished !== undefined) return finished;
    const facts = await preflightAndPlan(op, req, deps, src, dst);
    if (req.dryRun) return op.succeed(dryRunResult(op, req, facts));
    await confirmClone(req, deps);

    const toCopy = facts.files.filter((f) => f.action === 'copy');
    beginTransfer(op, req, deps, toCopy, resume);
    const replicaKey: ReplicaKey = { sourceHost: req.from, vm: req.vm, destHost: req.to, destVm: req.destVm };
    const replicas = facts.live ? new LiveReplicaStore(deps.store.database) : undefined;
    const live = await openSourceView(op, req, deps, hosts, facts, toCopy, { replicas, replicaKey });
    // A view the source refuses (no room for scratch, a guest that cannot be frozen with --quiesce=require) is a refusal: exit 3.
    op.phase = 'run';
    const copied = await transferStaged(op, req, deps, hosts, toCopy, resume.staging, live);
    await verifyAndRebase(op, req, deps, dst, copied.staged);

    const defined = await defineCopy(op, req, deps, dst, facts, copied.staged);
    await commitCopy(op, deps, dst, defined);
    op.revert.success();
    if (live && replicas) await recordReplica(deps, hosts, { replicas, replicaKey }, live, copied.staged);
    if (req.start) await startCopy(op, dst, req);
    return op.succeed(cloneResult(op, req, facts, defined.uuid, live, copied));
  } catch (thrown) {
    // awaited here, so the revert runs before `finally` closes the sessions it needs
    return await op.fail(thrown);
  } finally {
    await op.close();
  }
}
