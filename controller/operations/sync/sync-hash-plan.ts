/**
 * PLAN of an offline sync (run-sync.ts): both agents hash their side of each
 * paired image at once and the controller compares the hashes, so only the
 * changed blocks are moved later. The source's whole-image digest is made
 * from the same hashes. A dry run ends here with what would move; otherwise
 * disks to add or remove are confirmed and the destination's room for the
 * journals (and restore points) is checked before anything is written.
 */
import { DEFAULT_BLOCK_SIZE, HASH_BYTES, ImageDigest } from '../../../shared/block-hash.js';
import { failedPrecondition } from '../../../shared/errors.js';
import { formatBytes } from '../../cli/reporter.js';
import type { OperationRun } from '../operation-run.js';
import { requireEqualBases, type MappedBase } from './backing-chains.js';
import { diffBlocks, type BlockDiff, type DiffProgress } from './block-diff.js';
import { hashStream } from './hash-streams.js';
import { checkInPlaceSpace } from './point-space.js';
import type { SyncDeps, SyncRequest, SyncSides } from './run-sync.js';
import type { SyncPair } from './sync-plan.js';
import { syncResultHead } from './sync-result-fields.js';

/** An offline sync past PREFLIGHT: what each of its steps works with. */
export interface OfflineSync extends SyncSides {
  readonly op: OperationRun;
  readonly req: SyncRequest;
  readonly deps: SyncDeps;
  /** --keep N (0 when absent). */
  readonly keep: number;
}

/** What PLAN found. */
export interface HashPlan {
  readonly diffs: Map<SyncPair, BlockDiff>;
  /** The source's whole-image digest of each compared pair, from the same hashes: no second pass over the source. */
  readonly sourceDigests: Map<SyncPair, string>;
  readonly changedBlocks: number;
  readonly changedBytes: number;
}

/** Bytes in a diff's ranges. */
function rangeBytes(diff: Pick<BlockDiff, 'ranges'>): number {
  return diff.ranges.reduce((n, r) => n + r.length, 0);
}

/** True when an updated pair has something to pull: changed blocks, or a resize even without one. */
export function needsPull(d: BlockDiff | undefined): boolean {
  return d !== undefined && (d.ranges.length > 0 || d.sourceSize !== d.destSize);
}

/**
 * Compares one pair's hash streams, feeding the source's hashes into its
 * whole-image digest as they pass. A dropped connection or restarted agent
 * continues the comparison from the first block not yet compared (the
 * streams are asked again from there), and the digest skips blocks it
 * already has.
 */
async function diffPair({ op, src, dst, deps }: OfflineSync, pair: SyncPair): Promise<{ diff: BlockDiff; digest: string | undefined }> {
  const { signal } = deps;
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
  return { diff, digest: digest?.digest() };
}

/**
 * PLAN: the backing files both copies stand on must hold the same bytes
 * (each copy keeps its own chain); then each updated pair is hashed on both
 * sides and compared. What would change is reported and recorded.
 */
export async function planByHashes(run: OfflineSync, bases: readonly MappedBase[]): Promise<HashPlan> {
  const { op, req, deps, src, dst, pairs } = run;
  const { reporter, store, signal } = deps;
  op.step('PLAN', bases.length > 0 ? `comparing ${bases.length} backing file(s), then hashing both sides` : 'hashing both sides');
  await requireEqualBases(src, dst, bases, req, signal);
  const diffs = new Map<SyncPair, BlockDiff>();
  const sourceDigests = new Map<SyncPair, string>();
  for (const pair of pairs.filter((p) => p.kind === 'update')) {
    const { diff, digest } = await diffPair(run, pair);
    diffs.set(pair, diff);
    if (digest !== undefined) sourceDigests.set(pair, digest);
    const resize = diff.sourceSize !== diff.destSize ? `, resize ${formatBytes(diff.destSize)} -> ${formatBytes(diff.sourceSize)}` : '';
    reporter.itemDone(`${pair.label} hash`, `${diff.changedBlocks} of ${diff.blocks} blocks differ (${formatBytes(rangeBytes(diff))} to fetch at most${resize})`);
  }
  for (const p of pairs.filter((x) => x.kind !== 'update'))
    reporter.info(`  ${p.label}: ${p.kind === 'add' ? `new at the source: copy to ${p.targetPath}` : `gone at the source: remove ${p.targetPath}`}`);
  const changedBlocks = [...diffs.values()].reduce((n, d) => n + d.changedBlocks, 0);
  const changedBytes = [...diffs.values()].reduce((n, d) => n + rangeBytes(d), 0);
  store.event(op.id, 'plan', { changedBlocks, changedBytes, pairs });
  return { diffs, sourceDigests, changedBlocks, changedBytes };
}

/** A dry run ends after PLAN: what each pair would move, recorded as a plan. */
export function succeedDryRun({ op, req, pairs }: OfflineSync, { diffs, changedBlocks, changedBytes }: HashPlan): number {
  const disks = pairs.map((p) => ({
    label: p.label,
    kind: p.kind,
    source: p.sourcePath,
    target: p.targetPath,
    changedBlocks: diffs.get(p)?.changedBlocks ?? 0,
    changedBytes: diffs.get(p)?.ranges.reduce((m, r) => m + r.length, 0) ?? 0,
  }));
  return op.succeed({
    ...syncResultHead(op, req),
    dryRun: true,
    changedBlocks,
    changedBytes,
    disks,
    bytesOnWire: 0,
    seconds: op.seconds(),
  });
}

/**
 * Disks added or removed on the destination change the VM, not only its
 * data: asked before (or refused without --yes). A TPM state file new at the
 * source (swtpm saved more state) is no disk change to confirm.
 */
export async function confirmDiskChanges({ req, deps, pairs }: OfflineSync): Promise<void> {
  const structural = pairs.filter((p) => p.kind !== 'update' && !(p.makeParents === true));
  if (
    structural.length > 0 &&
    !(await deps.confirmDiskChanges(`${structural.length} disk(s) would be added or removed on ${req.to} (${structural.map((p) => `${p.kind} ${p.label}`).join(', ')}). Go ahead?`))
  ) {
    throw failedPrecondition(`disks would be added or removed on ${req.to} (${structural.map((p) => `${p.kind} ${p.label}`).join(', ')}); confirm, or pass --yes`);
  }
}

/**
 * The journals (and with --keep the restore points) need room beside the
 * images before anything moves: a sync that would fill the destination's
 * filesystem halfway is refused up front.
 */
export async function checkRoom({ req, deps, dst, pairs, keep }: OfflineSync, { diffs }: HashPlan): Promise<void> {
  const space = await checkInPlaceSpace(
    dst,
    pairs.filter((p) => p.kind === 'update' && needsPull(diffs.get(p))).map((p) => ({ targetPath: p.targetPath, diff: diffs.get(p) as BlockDiff })),
    keep,
    deps.signal,
  );
  if (keep > 0)
    deps.reporter.info(`  restore points: keeping the newest ${keep}; this sync's takes about ${formatBytes(space.reduce((n, s) => n + s.neededBytes, 0) / 2)} on ${req.to}`);
}
