/**
 * kvmctl sync: brings an existing copy up to date with its shut-off source,
 * moving only changed blocks. PREFLIGHT (states, locks, disk pairing), PLAN
 * (both agents hash at once, the controller compares), TRANSFER (changed
 * ranges pulled agent to agent into a journal, applied in place), VERIFY
 * (digests), DEFINE (the destination's XML follows the source's, keeping its
 * own name, UUID, MACs and paths).
 */
import { domainStateName } from '../domain-state.js';
import { pullSettingsFor, transferNeeds } from '../transfer-rate.js';
import { DEFAULT_BLOCK_SIZE, HASH_BYTES, ImageDigest } from '../../../shared/block-hash.js';
import { dataLoss, failedPrecondition } from '../../../shared/errors.js';
import { formatBytes } from '../../cli/reporter.js';
import { openBrokeredPath, pullFile } from '../clone/transfer-files.js';
import { ADMIN_ACCESS, OperationRun, type OperationDeps } from '../operation-run.js';
import { diffBlocks, type BlockDiff, type DiffProgress } from './block-diff.js';
import { removeStalePeer } from '../peer-forward.js';
import { defineFollowingSource } from './define-follow.js';
import type { LiveOptions } from '../clone/preflight.js';
import type { DescribeDomainResponse__Output } from '../../../shared/generated/kvmclone/agent/v1/DescribeDomainResponse.js';
import { syncLive } from '../live/live-sync.js';
import { requireTpmState } from '../clone/tpm-plan.js';
import { hashStream } from './hash-streams.js';
import { pairFiles, type SyncPair } from './sync-plan.js';
import { refuseByPolicy } from '../clone/preflight.js';
import { mapBackingChains, requireEqualBases } from './backing-chains.js';
import { checkInPlaceSpace } from './point-space.js';

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

/** Runs one sync and returns the process exit code. */
export async function runSync(req: SyncRequest, deps: SyncDeps): Promise<number> {
  const { reporter, store, options, signal } = deps;
  const unfinished = store.history({ kind: 'sync', vm: req.vm, destVm: req.destVm, sourceHost: req.from, destHost: req.to }).find((o) => o.state !== 'succeeded');
  const op = new OperationRun(deps, { kind: 'sync', vm: req.vm, destVm: req.destVm, from: req.from, to: req.to });
  const { id, revert } = op;
  try {
    op.step('PREFLIGHT', `${req.vm} on ${req.from} -> ${req.destVm} on ${req.to}`);
    if (unfinished && unfinished.state !== 'running') {
      reporter.info(`resuming after sync ${unfinished.id} (${unfinished.state}): blocks already in place are found by their hashes and not sent again`);
    }
    // A dry run reads only (DescribeDomain, HashBlocks; with --live MapExtents/HashBlocks of views and StatImage):
    // the read-only sockets — except the source of a --live dry run, whose point-in-time view (OpenLiveView, a
    // backup job) is an admin call.
    const access = req.dryRun ? ({ source: req.live || req.flatten ? 'admin' : 'read-only', dest: 'read-only' } as const) : ADMIN_ACCESS;
    const keep = req.keep ?? 0;
    const { src, dst } = await op.openHosts(
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
    const [source, dest] = await Promise.all([
      src.call(src.clients.domain, src.clients.domain.describeDomain, { name: req.vm }, signal),
      dst.call(dst.clients.domain, dst.clients.domain.describeDomain, { name: req.destVm }, signal),
    ]);
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
    refuseByPolicy(source, req.vm, req.from, 'synced');
    if (source.tpmStatePath !== '') requireTpmState([src, dst], req.vm);
    const pairs = pairFiles(source, dest, req.vm, req.destVm);
    if (running && req.live) {
      return await syncLive({ op, req: { ...req, live: req.live }, deps, src, dst, source, dest, pairs });
    }
    if (req.flatten === true) {
      // A shut-off source through a view of its own (qemu-nbd, chains merged): the live sync's path, without a checkpoint.
      return await syncLive({ op, req: { ...req, live: { quiesce: 'off', cbt: false } }, deps, src, dst, source, dest, pairs, shutOff: true });
    }
    refuseStandaloneCopies(source, dest, req);
    // Each copy stays on its own chain (the agent keeps its backing reference): its bases must hold the source's bytes.
    const bases = mapBackingChains(source, dest, req);

    // The agent-to-agent path is set up while both sides hash: most syncs have something to move.
    const candidates = pairs.filter((p) => p.kind !== 'remove');
    const opening = req.dryRun || candidates.length === 0 ? undefined : openBrokeredPath(src, dst, candidates, id, signal);
    opening?.catch(() => undefined);
    let closing: Promise<void> | undefined;
    /** Closes the path once (ticket revoked, forwards and the remote socket removed); never rejects. */
    const closePath = (): Promise<void> =>
      (closing ??=
        opening === undefined
          ? Promise.resolve()
          : opening.then(
              (path) => path.close(),
              () => undefined,
            ));
    try {
      op.step('PLAN', bases.length > 0 ? `comparing ${bases.length} backing file(s), then hashing both sides` : 'hashing both sides');
      await requireEqualBases(src, dst, bases, req, signal);
      const diffs = new Map<SyncPair, BlockDiff>();
      // The source's whole-image digest is made from the same hashes: no second pass over the source.
      const sourceDigests = new Map<SyncPair, string>();
      for (const pair of pairs.filter((p) => p.kind === 'update')) {
        let digest: ImageDigest | undefined;
        // Blocks fed to the source's digest: after a reconnect the stream starts again at the first block not compared.
        let digested = 0;
        const progress: DiffProgress = { ranges: [], changed: 0, next: 0 };
        const diff = await op.reconnecting('PLAN', () =>
          diffBlocks(
            hashStream(
              src,
              pair.sourcePath,
              signal,
              (b) => {
                digest ??= new ImageDigest(b.fileSize);
                const first = b.offset / b.blockSize;
                const skip = Math.max(0, digested - first);
                if (skip < b.blockCount) digest.update(b.hashes.subarray(skip * HASH_BYTES));
                digested = Math.max(digested, first + b.blockCount);
                op.reporter.progress(`${pair.label} hash`, b.offset + b.blockCount * b.blockSize, b.fileSize);
              },
              false,
              progress.next * DEFAULT_BLOCK_SIZE,
            ),
            hashStream(dst, pair.targetPath, signal, undefined, false, progress.next * DEFAULT_BLOCK_SIZE),
            DEFAULT_BLOCK_SIZE,
            progress,
          ),
        );
        diffs.set(pair, diff);
        if (digest) sourceDigests.set(pair, digest.digest());
        const bytes = diff.ranges.reduce((n, r) => n + r.length, 0);
        const resize = diff.sourceSize !== diff.destSize ? `, resize ${formatBytes(diff.destSize)} -> ${formatBytes(diff.sourceSize)}` : '';
        reporter.itemDone(`${pair.label} hash`, `${diff.changedBlocks} of ${diff.blocks} blocks differ (${formatBytes(bytes)} to fetch at most${resize})`);
      }
      for (const p of pairs.filter((x) => x.kind !== 'update'))
        reporter.info(`  ${p.label}: ${p.kind === 'add' ? `new at the source: copy to ${p.targetPath}` : `gone at the source: remove ${p.targetPath}`}`);
      const changedBlocks = [...diffs.values()].reduce((n, d) => n + d.changedBlocks, 0);
      const changedBytes = [...diffs.values()].reduce((n, d) => n + d.ranges.reduce((m, r) => m + r.length, 0), 0);
      store.event(id, 'plan', { changedBlocks, changedBytes, pairs });
      if (req.dryRun) {
        const disks = pairs.map((p) => ({
          label: p.label,
          kind: p.kind,
          source: p.sourcePath,
          target: p.targetPath,
          changedBlocks: diffs.get(p)?.changedBlocks ?? 0,
          changedBytes: diffs.get(p)?.ranges.reduce((m, r) => m + r.length, 0) ?? 0,
        }));
        return op.succeed({
          ok: true,
          operation: 'sync',
          id,
          vm: req.vm,
          destVm: req.destVm,
          dryRun: true,
          changedBlocks,
          changedBytes,
          disks,
          bytesOnWire: 0,
          seconds: op.seconds(),
        });
      }
      const needsPull = (d: BlockDiff | undefined): boolean => d !== undefined && (d.ranges.length > 0 || d.sourceSize !== d.destSize);
      // A TPM state file new at the source (swtpm saved more state) is no disk change to confirm.
      const structural = pairs.filter((p) => p.kind !== 'update' && !(p.makeParents === true));
      if (
        structural.length > 0 &&
        !(await deps.confirmDiskChanges(
          `${structural.length} disk(s) would be added or removed on ${req.to} (${structural.map((p) => `${p.kind} ${p.label}`).join(', ')}). Go ahead?`,
        ))
      ) {
        throw failedPrecondition(`disks would be added or removed on ${req.to} (${structural.map((p) => `${p.kind} ${p.label}`).join(', ')}); confirm, or pass --yes`);
      }
      // The journals (and with --keep the restore points) need room beside the images before anything moves.
      const space = await checkInPlaceSpace(
        dst,
        pairs.filter((p) => p.kind === 'update' && needsPull(diffs.get(p))).map((p) => ({ targetPath: p.targetPath, diff: diffs.get(p) as BlockDiff })),
        keep,
        signal,
      );
      if (keep > 0)
        reporter.info(`  restore points: keeping the newest ${keep}; this sync's takes about ${formatBytes(space.reduce((n, s) => n + s.neededBytes, 0) / 2)} on ${req.to}`);
      op.phase = 'run';

      const work = pairs.filter((p) => p.kind === 'add' || (p.kind === 'update' && needsPull(diffs.get(p))));
      op.step('TRANSFER', `${work.length} file(s), ${changedBlocks} changed block(s), agent to agent`);
      const results: { pair: SyncPair; digest: string; bytesTransferred: number; stagingId: string }[] = [];
      // A new disk's staging file, once announced: a pull after a reconnect writes into it again instead of a second one.
      const stagingOf = new Map<SyncPair, string>();
      /** The peer socket index of the path in use: 0 is `opening`'s, a later one a path opened after a reconnect. */
      let socketIndex = 0;
      if (work.length > 0) {
        if (opening === undefined) throw new Error('internal: no agent-to-agent path was opened for the transfer');
        // After a dropped connection or a restarted agent (here or in PLAN) the ticket and the path are opened again;
        // pairs already verified are not pulled again, and an in-place pull cut short (the image untouched) is sent again
        // with the ranges PLAN found: the destination agent continues the journal it kept for this operation and fetches
        // only what it lacks (agent/transfer/parked-pulls.ts), or starts over if it restarted in between.
        await op.reconnecting('TRANSFER', async () => {
          const remaining = work.filter((p) => !results.some((r) => r.pair === p));
          let path: { ticket: string; remotePeer: string; close(): Promise<void> };
          if (op.retries === 0) path = await opening;
          else {
            await removeStalePeer(dst, id, socketIndex, signal);
            socketIndex = op.retries;
            path = await openBrokeredPath(src, dst, remaining, id, signal, socketIndex);
          }
          try {
            for (const pair of remaining) await pullPair(pair, path);
          } finally {
            if (socketIndex > 0) await path.close().catch(() => undefined);
          }
        });
        void closePath();
      }
      async function pullPair(pair: SyncPair, path: { ticket: string; remotePeer: string }): Promise<void> {
        const diff = diffs.get(pair);
        const final = await pullFile(
          dst,
          {
            peerSocket: path.remotePeer,
            ticket: path.ticket,
            sourcePath: pair.sourcePath,
            targetPath: pair.targetPath,
            stagingId: stagingOf.get(pair) ?? '',
            operationId: id,
            ranges: diff?.ranges ?? [],
            mode: pair.kind === 'add' ? 'PULL_MODE_STAGING' : 'PULL_MODE_IN_PLACE',
            ...(pair.kind === 'add' && pair.makeParents === true && { makeParents: true }),
            // in place, the destination checks (and, for qcow2, keeps on its own chain) the header it is about to write
            ...(pair.kind === 'update' && { format: pair.format }),
            // the agent re-checks that this VM is still shut off right before it applies an in-place pull
            destVm: req.destVm,
            ...(pair.kind === 'update' && { keepPoints: keep, pointLabel: req.pointLabel ?? `sync ${id}` }),
          },
          pair,
          op.reporter,
          { ...options.timeouts, ...pullSettingsFor(options.transfer, req.from, req.to), onInterrupted: (bytes) => (op.bytesOnWire += bytes) },
          revert,
          signal,
          (stagingId) => stagingOf.set(pair, stagingId),
        );
        const expected = {
          digest: sourceDigests.get(pair) ?? (await src.call(src.clients.disk, src.clients.disk.digestImage, { path: pair.sourcePath }, signal, pair.virtualSize)).digest,
        };
        if (expected.digest !== final.digest)
          throw dataLoss(`${pair.label}: after the sync ${pair.targetPath} on ${req.to} does not match the source (${final.digest} vs ${expected.digest})`);
        op.bytesOnWire += final.bytesTransferred;
        op.bytesData += final.bytesData || final.bytesTransferred;
        reporter.itemDone(pair.label, `${formatBytes(final.bytesTransferred)} sent, verified ${final.digest.slice(0, 23)}…`);
        results.push({ pair, digest: final.digest, bytesTransferred: final.bytesTransferred, stagingId: final.stagingId });
      }
      // Closed while the destination is defined; awaited before the operation ends.
      void closePath();
      op.step('VERIFY', `${results.length} file(s) equal their source by digest`);

      op.step('DEFINE', `${req.destVm} follows ${req.vm}'s definition, keeping its own name, UUID, MACs and paths`);
      for (const r of results.filter((x) => x.pair.kind === 'add')) {
        await dst.call(dst.clients.disk, dst.clients.disk.commitStaging, { targetPath: r.pair.targetPath, stagingId: r.stagingId, replace: false }, signal);
      }
      await defineFollowingSource(dst, source, dest, pairs, { ...req, operationId: id }, signal);
      revert.success();
      for (const p of pairs.filter((x) => x.kind === 'remove')) {
        await dst.call(dst.clients.disk, dst.clients.disk.removeImage, { path: p.targetPath }, signal);
        reporter.info(`  removed ${p.targetPath} on ${req.to}`);
      }

      const result = {
        ok: true,
        operation: 'sync',
        id,
        vm: req.vm,
        destVm: req.destVm,
        from: req.from,
        to: req.to,
        changedBlocks,
        disks: results.map((r) => ({
          source: r.pair.sourcePath,
          target: r.pair.targetPath,
          kind: r.pair.kind,
          virtualSize: r.pair.virtualSize,
          changedBlocks: diffs.get(r.pair)?.changedBlocks ?? 0,
          bytesTransferred: r.bytesTransferred,
          digest: r.digest,
        })),
        bytesOnWire: op.bytesOnWire,
        bytesData: op.bytesData,
        ...(op.retries > 0 && { retries: op.retries }),
        seconds: op.seconds(),
      };
      return op.succeed(result);
    } finally {
      await closePath();
    }
  } catch (thrown) {
    // awaited here, so the revert runs before `finally` closes the sessions it needs
    return await op.fail(thrown);
  } finally {
    await op.close();
  }
}
