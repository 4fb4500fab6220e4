/**
 * kvmctl sync: brings an existing copy up to date with its shut-off source,
 * moving only changed blocks. PREFLIGHT (states, locks, disk pairing), PLAN
 * (both agents hash at once, the controller compares), TRANSFER (changed
 * ranges pulled agent to agent into a journal, applied in place), VERIFY
 * (digests), DEFINE (the destination's XML follows the source's, keeping its
 * own name, UUID, MACs and paths).
 */
import { domainStateName } from '../domain-state.js';
import { transferNeeds } from '../transfer-rate.js';
import { failedPrecondition } from '../../../shared/errors.js';
import type { OperationRecord, OperationStore } from '../../history/operation-store.js';
import type { HostSession } from '../../transport/host-session.js';
import { ADMIN_ACCESS, OperationRun, type OperationDeps } from '../operation-run.js';
import { defineFollowingSource } from './define-follow.js';
import type { LiveOptions } from '../clone/preflight.js';
import type { DescribeDomainResponse__Output } from '../../../shared/generated/kvmclone/agent/v1/DescribeDomainResponse.js';
import { syncLive } from '../live/live-sync.js';
import { requireTpmState } from '../clone/tpm-plan.js';
import { pairFiles, type SyncPair } from './sync-plan.js';
import { pairResultFields, syncResultHead } from './sync-result-fields.js';
import { refuseByPolicy } from '../clone/preflight.js';
import { mapBackingChains } from './backing-chains.js';
import { checkRoom, confirmDiskChanges, planByHashes, succeedDryRun, type HashPlan, type OfflineSync } from './sync-hash-plan.js';
import { openPathWhileHashing, transferChanged, type PulledPair } from './sync-transfer.js';

/** What the user asked for. */
export interface SyncRequest {
  vm: string;
  from: string;
  to: string;
  destVm: string;
  dryRun: boolean;
  /** --live: a running source is synced from a point-in-time view (a shut-off one as usual). */
  live?: LiveOptions;
  /**
   * --keep N: the destination keeps a restore point of each disk as it was
   * before this sync, and the newest N (agent/transfer/restore-points.ts).
   * 0 or absent keeps none — and drops the disks' existing points, whose
   * chain a change without an undo record breaks.
   */
  keep?: number;
  /** Text kept with the restore points (e.g. a replica's name); default "sync <operation id>". */
  pointLabel?: string;
  /**
   * --flatten: a shut-off source is read as the guest sees it (each disk's
   * backing chain merged), for a copy made with `clone --flatten`; the delta
   * is found by hashes, as a live sync without a checkpoint finds it.
   */
  flatten?: boolean;
}

/** What the sync needs from the command. */
export interface SyncDeps extends OperationDeps {
  /** Asks before adding or removing disks; false when refused or impossible to ask. */
  confirmDiskChanges: (question: string) => Promise<boolean>;
}

const NEEDS = [
  'domain.describe',
  'domain.define',
  'disk.hash',
  'disk.digest',
  'disk.remove',
  'transfer.pull',
  'transfer.pull-in-place',
  'transfer.ticket',
  'transfer.lock',
] as const;

/**
 * An offline sync moves image files as stored: it is only sound when each
 * copy is the same kind of file as its source. A copy made with --live is
 * what the guest sees — a standalone image where the source has a backing
 * chain — and copying the source's top file over it would leave it pointing
 * at a base the destination does not have.
 */
function refuseStandaloneCopies(source: DescribeDomainResponse__Output, dest: DescribeDomainResponse__Output, req: SyncRequest): void {
  for (const s of source.disks) {
    const d = dest.disks.find((x) => x.target === s.target);
    if (!d || s.device !== 'disk' || s.path === '' || d.path === '') continue;
    if (s.format !== d.format || (s.backingReference !== '' && d.backingReference === '')) {
      throw failedPrecondition(
        `disk ${s.target} of ${req.destVm} is a ${d.format}${d.backingReference === '' ? ' standalone' : ''} image where ${req.vm}'s is a ${s.format}${s.backingReference !== '' ? ' on a backing file' : ''} (a copy made with --live or --flatten holds what the guest sees): sync it with --flatten (or with --live while ${req.vm} runs)`,
      );
    }
  }
}

/** Both sides as PREFLIGHT found them. */
export interface SyncSides {
  src: HostSession;
  dst: HostSession;
  source: DescribeDomainResponse__Output;
  dest: DescribeDomainResponse__Output;
  pairs: SyncPair[];
}

/**
 * The newest sync of the same VM, hosts and copy that did not succeed —
 * looked up before this run is recorded, so it is never this one. Its blocks
 * already in place are found by their hashes and not sent again.
 */
function unfinishedSync(store: OperationStore, req: SyncRequest): OperationRecord | undefined {
  return store.history({ kind: 'sync', vm: req.vm, destVm: req.destVm, sourceHost: req.from, destHost: req.to }).find((o) => o.state !== 'succeeded');
}

/**
 * Connects to both hosts with the capabilities this sync needs and takes the
 * operation locks. A dry run reads only (DescribeDomain, HashBlocks; with
 * --live MapExtents/HashBlocks of views and StatImage): the read-only
 * sockets — except the source of a --live dry run, whose point-in-time view
 * (OpenLiveView, a backup job) is an admin call.
 */
async function openSyncHosts(op: OperationRun, req: SyncRequest, { options }: SyncDeps): Promise<{ src: HostSession; dst: HostSession }> {
  const access = req.dryRun ? ({ source: req.live || req.flatten ? 'admin' : 'read-only', dest: 'read-only' } as const) : ADMIN_ACCESS;
  const keep = req.keep ?? 0;
  return op.openHosts(
    [
      ...NEEDS,
      ...(req.live || req.flatten ? (['transfer.live'] as const) : []),
      ...(req.flatten ? (['transfer.flatten'] as const) : []),
      ...(keep > 0 ? (['transfer.restore-points'] as const) : []),
      ...(keep > 0 && (req.live || req.flatten) ? (['transfer.live-restore-points'] as const) : []),
      ...transferNeeds(options.transfer, req.from, req.to),
    ],
    access,
  );
}

/**
 * A sync writes into a shut-off destination, from a source that is shut off
 * too, or running with --live (read from a point-in-time view). Returns
 * whether the source runs.
 */
function requireSyncableStates(source: DescribeDomainResponse__Output, dest: DescribeDomainResponse__Output, req: SyncRequest): boolean {
  const running = source.domain?.state === 'DOMAIN_STATE_RUNNING' || source.domain?.state === 'DOMAIN_STATE_PAUSED';
  if (source.domain?.state !== 'DOMAIN_STATE_SHUTOFF' && !(running && req.live)) {
    throw failedPrecondition(
      running
        ? `${req.vm} on ${req.from} is ${domainStateName(source.domain?.state)}: pass --live to sync from a point-in-time view while it runs, or shut it down first`
        : `${req.vm} on ${req.from} is ${domainStateName(source.domain?.state)}: it must be running (with --live) or shut off`,
    );
  }
  if (dest.domain?.state !== 'DOMAIN_STATE_SHUTOFF')
    throw failedPrecondition(`${req.destVm} on ${req.to} is ${domainStateName(dest.domain?.state)}: shut it down before syncing into it`);
  return running;
}

/**
 * PREFLIGHT: hosts and locks, both domains' states, the source's policy
 * and TPM needs, and which file of the source pairs with which of the copy.
 * Everything here only reads, so a refusal is exit 3 and changes nothing.
 * `running`: the source runs (or is paused), so only --live reads it.
 */
async function preflightSync(op: OperationRun, req: SyncRequest, deps: SyncDeps, unfinished: OperationRecord | undefined): Promise<SyncSides & { running: boolean }> {
  const { signal } = deps;
  op.step('PREFLIGHT', `${req.vm} on ${req.from} -> ${req.destVm} on ${req.to}`);
  if (unfinished && unfinished.state !== 'running') {
    deps.reporter.info(`resuming after sync ${unfinished.id} (${unfinished.state}): blocks already in place are found by their hashes and not sent again`);
  }
  const { src, dst } = await openSyncHosts(op, req, deps);
  const [source, dest] = await Promise.all([
    src.call(src.clients.domain, src.clients.domain.describeDomain, { name: req.vm }, signal),
    dst.call(dst.clients.domain, dst.clients.domain.describeDomain, { name: req.destVm }, signal),
  ]);
  const running = requireSyncableStates(source, dest, req);
  refuseByPolicy(source, req.vm, req.from, 'synced');
  if (source.tpmStatePath !== '') requireTpmState([src, dst], req.vm);
  const pairs = pairFiles(source, dest, req.vm, req.destVm);
  return { src, dst, source, dest, pairs, running };
}

/**
 * DEFINE: files new at the source are committed from staging, then the
 * copy's definition follows the source's, keeping its own name, UUID, MACs
 * and paths. From here nothing is reverted: only now are the files gone at
 * the source removed on the destination, as they cannot be brought back.
 */
async function defineFollowing({ op, req, deps, dst, source, dest, pairs }: OfflineSync, results: readonly PulledPair[]): Promise<void> {
  const { signal } = deps;
  op.step('DEFINE', `${req.destVm} follows ${req.vm}'s definition, keeping its own name, UUID, MACs and paths`);
  for (const r of results.filter((x) => x.pair.kind === 'add')) {
    await dst.call(dst.clients.disk, dst.clients.disk.commitStaging, { targetPath: r.pair.targetPath, stagingId: r.stagingId, replace: false }, signal);
  }
  await defineFollowingSource(dst, source, dest, pairs, { ...req, operationId: op.id }, signal);
  op.revert.success();
  for (const p of pairs.filter((x) => x.kind === 'remove')) {
    await dst.call(dst.clients.disk, dst.clients.disk.removeImage, { path: p.targetPath }, signal);
    deps.reporter.info(`  removed ${p.targetPath} on ${req.to}`);
  }
}

/** The result line of a sync that moved (or did not need to move) data. */
function syncResult({ op, req }: OfflineSync, { diffs, changedBlocks }: HashPlan, results: readonly PulledPair[]): Record<string, unknown> {
  return {
    ...syncResultHead(op, req),
    from: req.from,
    to: req.to,
    changedBlocks,
    disks: results.map((r) => ({
      ...pairResultFields(r.pair),
      changedBlocks: diffs.get(r.pair)?.changedBlocks ?? 0,
      bytesTransferred: r.bytesTransferred,
      digest: r.digest,
    })),
    bytesOnWire: op.bytesOnWire,
    bytesData: op.bytesData,
    ...(op.retries > 0 && { retries: op.retries }),
    seconds: op.seconds(),
  };
}

/**
 * A shut-off source into a copy of the same kind of files: PLAN, TRANSFER
 * (each file verified as it lands), VERIFY, DEFINE. The agent-to-agent path
 * set up while PLAN hashes is closed however the sync ends.
 */
async function syncOffline(run: OfflineSync): Promise<number> {
  const { op, req, source, dest } = run;
  refuseStandaloneCopies(source, dest, req);
  // Each copy stays on its own chain (the agent keeps its backing reference): its bases must hold the source's bytes.
  const bases = mapBackingChains(source, dest, req);
  const early = openPathWhileHashing(run);
  try {
    const plan = await planByHashes(run, bases);
    if (req.dryRun) return succeedDryRun(run, plan);
    await confirmDiskChanges(run);
    await checkRoom(run, plan);
    op.phase = 'run';
    const results = await transferChanged(run, plan, early);
    // Closed while the destination is defined; awaited before the operation ends.
    void early.close();
    op.step('VERIFY', `${results.length} file(s) equal their source by digest`);
    await defineFollowing(run, results);
    return op.succeed(syncResult(run, plan, results));
  } finally {
    await early.close();
  }
}

/**
 * Runs one sync and returns the process exit code: PREFLIGHT, then a running
 * source (--live) or a flattened one (--flatten) through a point-in-time view
 * (live-sync.ts), any other through the offline steps.
 */
export async function runSync(req: SyncRequest, deps: SyncDeps): Promise<number> {
  const unfinished = unfinishedSync(deps.store, req);
  const op = new OperationRun(deps, { kind: 'sync', vm: req.vm, destVm: req.destVm, from: req.from, to: req.to });
  try {
    const { running, ...sides } = await preflightSync(op, req, deps, unfinished);
    if (running && req.live) {
      return await syncLive({ op, req: { ...req, live: req.live }, deps, ...sides });
    }
    if (req.flatten === true) {
      // A shut-off source through a view of its own (qemu-nbd, chains merged): the live sync's path, without a checkpoint.
      return await syncLive({ op, req: { ...req, live: { quiesce: 'off', cbt: false } }, deps, ...sides, shutOff: true });
    }
    return await syncOffline({ op, req, deps, ...sides, keep: req.keep ?? 0 });
  } catch (thrown) {
    // awaited here, so the revert runs before `finally` closes the sessions it needs
    return await op.fail(thrown);
  } finally {
    await op.close();
  }
}
