/**
 * TRANSFER of an offline sync (run-sync.ts): the changed ranges of each
 * image PLAN found, and each file new at the source, are pulled agent to
 * agent by the destination — in place through a journal for an update, into
 * a staging file for an addition — and each is checked against the source's
 * digest (its VERIFY) as soon as it is in.
 */
import { dataLoss } from '../../../shared/errors.js';
import { formatBytes } from '../../cli/reporter.js';
import { openBrokeredPath } from '../clone/transfer-files.js';
import { pullFile } from '../clone/pull-file.js';
import { removeStalePeer } from '../peer-forward.js';
import { pullSettingsFor } from '../transfer-rate.js';
import { needsPull, type HashPlan, type OfflineSync } from './sync-hash-plan.js';
import type { SyncPair } from './sync-plan.js';

/** An agent-to-agent path as the destination's pulls use it. */
type BrokeredPath = Awaited<ReturnType<typeof openBrokeredPath>>;

/** The path opened while both sides hash, and its one close. */
export interface EarlyPath {
  /** Undefined for a dry run, or when there is nothing to pull. */
  readonly opening: Promise<BrokeredPath> | undefined;
  /** Closes the path once (ticket revoked, forwards and the remote socket removed); never rejects. */
  close(): Promise<void>;
}

/** One pair pulled and verified. */
export interface PulledPair {
  pair: SyncPair;
  digest: string;
  bytesTransferred: number;
  stagingId: string;
}

/**
 * Opens the agent-to-agent path while both sides hash: most syncs have
 * something to move, and setting it up takes a few round trips. A failure
 * to open shows only when TRANSFER needs the path.
 */
export function openPathWhileHashing({ op, req, deps, src, dst, pairs }: OfflineSync): EarlyPath {
  const candidates = pairs.filter((p) => p.kind !== 'remove');
  const opening = req.dryRun || candidates.length === 0 ? undefined : openBrokeredPath(src, dst, candidates, op.id, deps.signal);
  opening?.catch(() => undefined);
  let closing: Promise<void> | undefined;
  return {
    opening,
    close: () =>
      (closing ??=
        opening === undefined
          ? Promise.resolve()
          : opening.then(
              (path) => path.close(),
              () => undefined,
            )),
  };
}

/**
 * Pulls one pair over `path` and checks the destination's digest of what it
 * wrote against the source's (from PLAN's hashes, or asked for when the pair
 * was not compared). A new file's staging id is remembered in `stagingOf`:
 * a pull after a reconnect writes into it again instead of a second one.
 */
async function pullPair(
  { op, req, deps, src, dst, keep }: OfflineSync,
  { diffs, sourceDigests }: HashPlan,
  pair: SyncPair,
  path: { ticket: string; remotePeer: string },
  stagingOf: Map<SyncPair, string>,
): Promise<PulledPair> {
  const { reporter, options, signal } = deps;
  const final = await pullFile(
    dst,
    {
      peerSocket: path.remotePeer,
      ticket: path.ticket,
      sourcePath: pair.sourcePath,
      targetPath: pair.targetPath,
      stagingId: stagingOf.get(pair) ?? '',
      operationId: op.id,
      ranges: diffs.get(pair)?.ranges ?? [],
      mode: pair.kind === 'add' ? 'PULL_MODE_STAGING' : 'PULL_MODE_IN_PLACE',
      ...(pair.kind === 'add' && pair.makeParents === true && { makeParents: true }),
      // in place, the destination checks (and, for qcow2, keeps on its own chain) the header it is about to write
      ...(pair.kind === 'update' && { format: pair.format }),
      // the agent re-checks that this VM is still shut off right before it applies an in-place pull
      destVm: req.destVm,
      ...(pair.kind === 'update' && { keepPoints: keep, pointLabel: req.pointLabel ?? `sync ${op.id}` }),
    },
    pair,
    op.reporter,
    { ...options.timeouts, ...pullSettingsFor(options.transfer, req.from, req.to), onInterrupted: (bytes) => (op.bytesOnWire += bytes) },
    op.revert,
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
  return { pair, digest: final.digest, bytesTransferred: final.bytesTransferred, stagingId: final.stagingId };
}

/**
 * TRANSFER (with each file's VERIFY): every added file and every updated
 * one with something to pull. After a dropped connection or a restarted
 * agent (here or in PLAN) the ticket and the path are opened again; pairs
 * already verified are not pulled again, and an in-place pull cut short (the
 * image untouched) is sent again with the ranges PLAN found: the destination
 * agent continues the journal it kept for this operation and fetches only
 * what it lacks (agent/transfer/parked-pulls.ts), or starts over if it
 * restarted in between.
 */
export async function transferChanged(run: OfflineSync, plan: HashPlan, early: EarlyPath): Promise<PulledPair[]> {
  const { op, deps, dst, pairs } = run;
  const work = pairs.filter((p) => p.kind === 'add' || (p.kind === 'update' && needsPull(plan.diffs.get(p))));
  op.step('TRANSFER', `${work.length} file(s), ${plan.changedBlocks} changed block(s), agent to agent`);
  const results: PulledPair[] = [];
  const stagingOf = new Map<SyncPair, string>();
  /** The peer socket index of the path in use: 0 is `opening`'s, a later one a path opened after a reconnect. */
  let socketIndex = 0;
  if (work.length === 0) return results;
  const { opening } = early;
  if (opening === undefined) throw new Error('internal: no agent-to-agent path was opened for the transfer');
  await op.reconnecting('TRANSFER', async () => {
    const remaining = work.filter((p) => !results.some((r) => r.pair === p));
    let path: BrokeredPath;
    if (op.retries === 0) path = await opening;
    else {
      await removeStalePeer(dst, op.id, socketIndex, deps.signal);
      socketIndex = op.retries;
      path = await openBrokeredPath(run.src, dst, remaining, op.id, deps.signal, socketIndex);
    }
    try {
      for (const pair of remaining) results.push(await pullPair(run, plan, pair, path, stagingOf));
    } finally {
      if (socketIndex > 0) await path.close().catch(() => undefined);
    }
  });
  return results;
}
