/**
 * kvmctl clone, in the order the contract gives: PREFLIGHT, PLAN, TRANSFER,
 * VERIFY, DEFINE, COMMIT, then START if asked. Until COMMIT every created
 * thing is on a revert stack, so a failure or Ctrl-C leaves the destination
 * as it was and the source untouched.
 */
import { pullSettingsFor, transferNeeds } from '../transfer-rate.js';
import { KvmcloneError } from '../../../shared/errors.js';
import { formatBytes } from '../../cli/reporter.js';
import type { OperationStore } from '../../history/operation-store.js';
import { ADMIN_ACCESS, OperationRun, type OperationDeps } from '../operation-run.js';
import type { PlannedFile } from './clone-plan.js';
import { preflightClone, type CloneRequest } from './preflight.js';
import { rewriteDomainXml } from './domain-xml-rewrite.js';
import { openBrokeredPath, transferFiles, type LiveSource, type StagedFile, type TransferSettings } from './transfer-files.js';
import type { HostSession } from '../../transport/host-session.js';
import { removeStalePeer } from '../peer-forward.js';
import { LiveReplicaStore, type ReplicaKey } from '../../history/live-replica-store.js';
import { confirmReplica, imageIdentities } from '../live/live-confirm.js';
import { describeConsistency, flatViewRequest, liveViewRequest, viewBytesRead } from '../live/live-view-request.js';
import { openLivePath, type LivePath } from '../live/live-path.js';
import { COMMIT_ORDER, commitOne, domainUuid, finishCommit, interruptedCommit, type CommitRecord, type InterruptedCommit } from './finish-commit.js';

/** What the clone needs from the command. */
export interface CloneDeps extends OperationDeps {
  /** Asks before the first write (a no-op with --yes, --json or without a TTY). */
  confirm: (question: string) => Promise<boolean>;
}

const NEEDS = ['domain.describe', 'domain.define', 'disk.read', 'disk.staging', 'disk.digest', 'transfer.pull', 'transfer.ticket', 'transfer.lock'] as const;

function describeFile(f: PlannedFile): string {
  const what = f.action === 'reuse' ? 'reuse the identical file already there' : `copy ${formatBytes(f.allocatedSize)} allocated`;
  const rebase = f.rebase ? `, then point it at ${f.rebase.backingPath}` : '';
  return `${f.label}: ${f.sourcePath} -> ${f.targetPath} (${f.format}${f.virtualSize ? `, ${formatBytes(f.virtualSize)} virtual` : ''}; ${what}${rebase})`;
}

/**
 * Staging files that an interrupted run of the same clone (same VM, hosts and
 * name; killed, so no revert ran) recorded in the history, by target path.
 */
function resumableStaging(
  store: OperationStore,
  req: CloneRequest,
): { operationId: string; staging: Map<string, { stagingId: string; stagingPath: string }>; commit?: InterruptedCommit | undefined } {
  const [prior] = store.history({ kind: 'clone', vm: req.vm, destVm: req.destVm, sourceHost: req.from, destHost: req.to }, 1);
  const staging = new Map<string, { stagingId: string; stagingPath: string }>();
  if (!prior || prior.state !== 'running') return { operationId: '', staging };
  const commit = interruptedCommit(store, prior.id);
  for (const e of store.get(prior.id)?.events ?? []) {
    const d = e.data as { targetPath?: string; stagingId?: string; stagingPath?: string };
    if (e.type === 'staged' && d.targetPath && d.stagingId && d.stagingPath) staging.set(d.targetPath, { stagingId: d.stagingId, stagingPath: d.stagingPath });
  }
  return { operationId: prior.id, staging, commit };
}

/** START: the copy is started and must be running. */
async function startCopy(op: OperationRun, dst: HostSession, req: CloneRequest): Promise<void> {
  op.step('START');
  const startedVm = await dst.call(dst.clients.domain, dst.clients.domain.startDomain, { name: req.destVm, operationId: op.id });
  if (startedVm.domain?.state !== 'DOMAIN_STATE_RUNNING') {
    throw new KvmcloneError('FAILED_PRECONDITION', `${req.destVm} was cloned but is ${startedVm.domain?.state ?? 'unknown'} after start`);
  }
  op.reporter.info(`  ${req.destVm} is running on ${req.to}`);
}

/**
 * The undo of DEFINE, pushed before the call: a definition whose answer was
 * lost (libvirtd or the connection gone mid-call) may exist all the same.
 * Only a domain of that name with this clone's UUID is undefined.
 */
async function undefineOurs(dst: HostSession, name: string, uuid: string, removeStorage: boolean): Promise<void> {
  if ((await domainUuid(dst, name)) !== uuid) return;
  await dst.call(dst.clients.domain, dst.clients.domain.undefineDomain, { name, storage: removeStorage ? 'STORAGE_POLICY_REMOVE' : 'STORAGE_POLICY_KEEP' });
}

/**
 * TRANSFER (with each file's VERIFY) that survives a dropped SSH connection
 * or a restarted agent: after a reconnect the ticket and the agent-to-agent
 * path are opened again, files already verified are kept, and each staging
 * file already on the destination is resumed — its blocks compared by hash,
 * only those still missing are sent. Bytes an interrupted pull had sent
 * still count in bytesOnWire.
 */
async function transferReconnecting(
  op: OperationRun,
  src: HostSession,
  dst: HostSession,
  files: readonly PlannedFile[],
  settings: TransferSettings,
  signal: AbortSignal,
): Promise<StagedFile[]> {
  const staging = new Map(settings.resume ?? []);
  const verified = new Map<string, StagedFile>();
  return op.reconnecting('TRANSFER', async (attempt) => {
    if (attempt > 0) await removeStalePeer(dst, op.id, attempt - 1, signal);
    const remaining = files.filter((f) => !verified.has(f.targetPath));
    if (remaining.length > 0) {
      const path = await openBrokeredPath(src, dst, remaining, op.id, signal, attempt);
      try {
        await transferFiles(
          src,
          dst,
          remaining,
          path,
          op.revert,
          op.reporter,
          {
            ...settings,
            resume: staging,
            onStaging: (file, stagingId, stagingPath) => {
              staging.set(file.targetPath, { stagingId, stagingPath });
              settings.onStaging?.(file, stagingId, stagingPath);
            },
            onVerified: (done) => verified.set(done.file.targetPath, done),
            onInterrupted: (bytes) => (op.bytesOnWire += bytes),
          },
          signal,
        );
      } finally {
        await path.close();
      }
    }
    return files.flatMap((f) => verified.get(f.targetPath) ?? []);
  });
}

/** Runs one clone and returns the process exit code. */
export async function runClone(req: CloneRequest, deps: CloneDeps): Promise<number> {
  const { reporter, store, options } = deps;
  const resume = resumableStaging(store, req);
  const op = new OperationRun(deps, { kind: 'clone', vm: req.vm, destVm: req.destVm, from: req.from, to: req.to });
  const { id, revert } = op;
  try {
    op.step('PREFLIGHT', `${req.vm} on ${req.from} -> ${req.destVm} on ${req.to}`);
    // A dry run reads only (DescribeDomain, ListDomains, StatImage, DigestImage, GetFreeSpace): the read-only sockets.
    const access = req.dryRun ? ({ source: 'read-only', dest: 'read-only' } as const) : ADMIN_ACCESS;
    const { src, dst } = await op.openHosts(
      [
        ...NEEDS,
        ...(req.live || req.flatten ? (['transfer.live'] as const) : []),
        ...(req.flatten ? (['transfer.flatten'] as const) : []),
        ...transferNeeds(options.transfer, req.from, req.to),
        ...(options.transfer.streams > 1 ? (['transfer.streams'] as const) : []),
      ],
      access,
    );
    if (resume.commit && !req.dryRun) {
      const done = await finishCommit(dst, req.destVm, resume.commit, (targetPath) => store.event(id, 'committed', { targetPath }), reporter, deps.signal);
      if (done) {
        store.finish(resume.operationId, 'interrupted', { errorCode: 'CANCELLED', errorMessage: `the controller stopped in COMMIT; finished by ${id}` });
        if (req.start) await startCopy(op, dst, req);
        return op.succeed({
          ok: true,
          operation: 'clone',
          id,
          vm: req.vm,
          destVm: req.destVm,
          from: req.from,
          to: req.to,
          uuid: resume.commit.uuid,
          finished: resume.commit.operationId,
          disks: done.map((f) => ({ target: f.targetPath, role: f.role })),
          bytesOnWire: 0,
          seconds: op.seconds(),
        });
      }
    }
    const facts = await preflightClone(req, src, dst, deps.signal);
    for (const w of facts.warnings) reporter.warn(w);

    op.step('PLAN');
    for (const f of facts.files) reporter.info(`  ${describeFile(f)}`);
    for (const s of facts.space) {
      reporter.info(`  ${req.to}:${s.dir}: ${formatBytes(s.availableBytes)} free before, about ${formatBytes(s.availableBytes - s.neededBytes / 1.15)} after`);
    }
    store.event(id, 'plan', { files: facts.files, space: facts.space });
    if (req.dryRun) {
      return op.succeed({
        ok: true,
        operation: 'clone',
        id,
        vm: req.vm,
        destVm: req.destVm,
        dryRun: true,
        plan: { files: facts.files, space: facts.space },
        bytesOnWire: 0,
        seconds: op.seconds(),
      });
    }
    if (!(await deps.confirm(`Clone ${req.vm} to ${req.to} as ${req.destVm}?`))) {
      throw new KvmcloneError('CANCELLED', 'not confirmed; nothing was changed');
    }

    const toCopy = facts.files.filter((f) => f.action === 'copy');
    op.step('TRANSFER', `${toCopy.length} file(s), ${formatBytes(toCopy.reduce((n, f) => n + f.allocatedSize, 0))} allocated, agent to agent`);
    if (resume.staging.size > 0) {
      reporter.info(`resuming clone ${resume.operationId}: its staging files on ${req.to} are reused; only blocks still missing are sent`);
      store.finish(resume.operationId, 'interrupted', { errorCode: 'CANCELLED', errorMessage: `the controller stopped; resumed by ${id}` });
    }
    let staged: StagedFile[] = [];
    const replicaKey: ReplicaKey = { sourceHost: req.from, vm: req.vm, destHost: req.to, destVm: req.destVm };
    const replicas = facts.live ? new LiveReplicaStore(store.database) : undefined;
    let live: LivePath | undefined;
    let bytesRead = new Map<string, number>();
    if (facts.live && req.live && replicas) {
      const replicaId = replicas.replicaId(replicaKey);
      const plainFiles = toCopy.filter((f) => f.role !== 'disk').map((f) => f.sourcePath);
      live = await openLivePath(src, dst, liveViewRequest(req.vm, id, replicaId, req.live, undefined), plainFiles, deps.signal);
      reporter.info(`  ${describeConsistency(live.view, req.from)}`);
      store.event(id, 'live-view', { consistency: live.view.consistency, checkpoint: live.view.checkpoint, reason: live.view.deltaReason });
    } else if (req.flatten && toCopy.some((f) => f.role === 'disk') && facts.source.disks.some((d) => d.backingChain.length > 0)) {
      const plainFiles = toCopy.filter((f) => f.role !== 'disk').map((f) => f.sourcePath);
      live = await openLivePath(src, dst, flatViewRequest(req.vm, id), plainFiles, deps.signal);
      reporter.info(`  ${describeConsistency(live.view, req.from)}`);
      store.event(id, 'flat-view', { disks: live.view.disks.map((d) => d.target) });
    }
    // A view the source refuses (no room for scratch, a guest that cannot be frozen with --quiesce=require) is a refusal: exit 3.
    op.phase = 'run';
    const sourceFor = (file: { role: string; label: string }): LiveSource | undefined => {
      const d = file.role === 'disk' ? live?.view.disks.find((x) => x.target === file.label) : undefined;
      if (!live || !d) return undefined;
      return { request: { sourcePath: d.viewPath, ticket: live.ticket, layer: 'EXTENT_LAYER_GUEST', format: d.format }, digest: { path: d.viewPath, layer: 'EXTENT_LAYER_GUEST' } };
    };
    const settings = {
      operationId: id,
      concurrency: options.transfer.concurrency,
      noProgressMs: options.timeouts.noProgressMs,
      ...pullSettingsFor(options.transfer, req.from, req.to),
      streams: options.transfer.streams,
      resume: resume.staging,
      onStaging: (file: PlannedFile, stagingId: string, stagingPath: string) => store.event(id, 'staged', { targetPath: file.targetPath, stagingId, stagingPath }),
      ...(live && { sourceFor }),
    };
    if (toCopy.length > 0 && live) {
      // A live view is one point in time, held by this run's connection to the source: it is not reconnected.
      const path = { ticket: live.fileTicket, remotePeer: live.remotePeer, close: () => live.close() };
      try {
        staged = await transferFiles(src, dst, toCopy, path, revert, op.reporter, settings, deps.signal);
        bytesRead = await viewBytesRead(src, id, deps.signal);
      } finally {
        // Ends the live view's backup job on the source as soon as the bytes are in.
        await path.close();
      }
    } else if (toCopy.length > 0) {
      staged = await transferReconnecting(op, src, dst, toCopy, settings, deps.signal);
    }
    await live?.close();
    op.bytesOnWire += staged.reduce((n, s) => n + s.bytesTransferred, 0);
    op.bytesData += staged.reduce((n, s) => n + s.bytesData, 0);

    op.step('VERIFY', `${staged.length} file(s): each digest computed by ${req.to} from what it wrote equals ${req.from}'s digest of the original`);
    for (const s of staged) {
      if (!s.file.rebase) continue;
      await dst.call(dst.clients.disk, dst.clients.disk.rebaseStaging, { targetPath: s.file.targetPath, stagingId: s.stagingId, ...s.file.rebase }, deps.signal);
      reporter.info(`  ${s.file.label}: backing reference set to ${s.file.rebase.backingPath}`);
    }

    op.step('DEFINE');
    const diskPaths = new Map<string, string>(facts.source.disks.filter((d) => d.path !== '').map((d) => [d.path, d.path]));
    for (const f of facts.files) if (f.role === 'disk') diskPaths.set(f.sourcePath, f.targetPath);
    const nvram = facts.files.find((f) => f.role === 'nvram');
    const rewritten = rewriteDomainXml(facts.source.xml, {
      name: req.destVm,
      sourceName: req.vm,
      uuid: facts.uuid,
      diskPaths,
      ...(nvram && { nvramPath: nvram.targetPath }),
      ...(facts.tpmStatePath !== undefined && { tpmStatePath: facts.tpmStatePath }),
      ...(req.linkDown === true && { linkDown: true }),
    });
    let committedAny = false;
    // The journal of DEFINE and COMMIT: a controller that stops from here on leaves them to the next run (finish-commit.ts).
    const record: CommitRecord = {
      uuid: rewritten.uuid,
      files: staged.map((s) => ({ targetPath: s.file.targetPath, stagingId: s.stagingId, role: s.file.role, label: s.file.label })),
    };
    store.event(id, 'commit', record);
    revert.push(`undefine ${req.destVm} on ${req.to}`, () => undefineOurs(dst, req.destVm, rewritten.uuid, committedAny));
    // The clone holds destVm's lock: the agent defines and starts it only with this operation's id. Defining the
    // same XML again is a no-op, so a dropped connection or a restarted agent costs a reconnect, not the run.
    await op.reconnecting('DEFINE', () => dst.call(dst.clients.domain, dst.clients.domain.defineDomain, { xml: rewritten.xml, operationId: id }, deps.signal));
    reporter.info(`  defined ${req.destVm} on ${req.to}: UUID ${rewritten.uuid}${rewritten.macs.length ? `, MAC ${rewritten.macs.map((m) => m.to).join(', ')}` : ''}`);

    op.step('COMMIT');
    const committed = new Set<string>();
    await op.reconnecting('COMMIT', async (attempt) => {
      for (const f of [...record.files].sort((a, b) => COMMIT_ORDER[a.role] - COMMIT_ORDER[b.role])) {
        if (committed.has(f.targetPath)) continue;
        deps.signal.throwIfAborted();
        // Not cut off by an interrupt: a commit runs to its end, then the revert takes it back.
        await commitOne(dst, f, attempt > 0);
        committedAny = true;
        committed.add(f.targetPath);
        store.event(id, 'committed', { targetPath: f.targetPath });
      }
    });
    revert.success();
    if (live && replicas) {
      const disks = staged.filter((s) => s.file.role === 'disk').map((s) => ({ target: s.file.label, path: s.file.targetPath }));
      await confirmReplica(replicas, replicaKey, replicas.replicaId(replicaKey), live.view, await imageIdentities(dst, disks, deps.signal), src, reporter, deps.signal);
    }

    if (req.start) await startCopy(op, dst, req);

    const result = {
      ok: true,
      operation: 'clone',
      id,
      vm: req.vm,
      destVm: req.destVm,
      from: req.from,
      to: req.to,
      uuid: rewritten.uuid,
      ...(live && facts.live && { live: true, consistency: live.view.consistency, checkpoint: live.view.checkpoint, delta: 'full' }),
      ...(req.flatten && { flattened: true }),
      disks: staged.map((s) => ({
        source: s.file.sourcePath,
        target: s.file.targetPath,
        role: s.file.role,
        virtualSize: s.file.virtualSize,
        ...(live && { bytesRead: bytesRead.get(s.file.label) ?? s.bytesTransferred }),
        bytesTransferred: s.bytesTransferred,
        bytesData: s.bytesData,
        digest: s.digest,
      })),
      bytesOnWire: op.bytesOnWire,
      bytesData: op.bytesData,
      ...(op.retries > 0 && { retries: op.retries }),
      seconds: op.seconds(),
    };
    return op.succeed(result);
  } catch (thrown) {
    // awaited here, so the revert runs before `finally` closes the sessions it needs
    return await op.fail(thrown);
  } finally {
    await op.close();
  }
}
