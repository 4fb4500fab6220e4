/**
 * TRANSFER and VERIFY: the brokered agent-to-agent path and the pulls over it.
 *
 * The source agent issues a ticket for exactly the files of this operation;
 * its peer socket is forwarded to the controller and re-exposed on the
 * destination host at a fresh per-operation path; the destination agent
 * pulls each file through it into a staging file. The controller sees
 * progress only. Each file's digest (computed by the destination from what it
 * wrote) is compared with the source's own digest of the original.
 * One pull is pull-file.ts; the undo of its staging file, staging-removal.ts.
 */
import type { ClientReadableStream } from '@grpc/grpc-js';
import { dataLoss, KvmcloneError } from '../../../shared/errors.js';
import { fromStatus } from '../../../shared/from-status.js';
import type { PullProgress__Output } from '../../../shared/generated/kvmclone/agent/v1/PullProgress.js';
import type { TicketEvent__Output } from '../../../shared/generated/kvmclone/agent/v1/TicketEvent.js';
import type { RevertStack } from '../../../shared/revert-stack.js';
import type { Reporter } from '../../cli/reporter.js';
import { formatBytes } from '../../cli/reporter.js';
import type { HostSession } from '../../transport/host-session.js';
import type { PlannedFile } from './clone-plan.js';
import { DEFAULT_BLOCK_SIZE } from '../../../shared/block-hash.js';
import { diffBlocks, type DiffRange } from '../sync/block-diff.js';
import { hashStream } from '../sync/hash-streams.js';
import { exposePeer, peerSocketId } from '../peer-forward.js';
import { pullFile } from './pull-file.js';
import { registerStagingRemoval } from './staging-removal.js';

/** A file that arrived in a verified staging file. */
export interface StagedFile {
  file: PlannedFile;
  stagingId: string;
  digest: string;
  bytesTransferred: number;
  /** The plain data bytes those carried (--compress: more than bytesTransferred). */
  bytesData: number;
}

/** Settings of the transfer. */
export interface TransferSettings {
  operationId: string;
  concurrency: number;
  /** Abort when a pull reports no progress for this long. */
  noProgressMs: number;
  /** Most bytes per second the source agent sends for this operation (--bwlimit); 0 or absent for none. */
  rateLimit?: number;
  /** PullImage's compress field (--compress); absent for plain chunks. */
  compress?: 'COMPRESS_OFF' | 'COMPRESS_ZSTD' | 'COMPRESS_AUTO';
  /** Connections a whole-file pull reads its source over (transfer.streams); absent or 1 for one. */
  streams?: number;
  /** Staging files an interrupted run of the same clone left on the destination, by target path. */
  resume?: ReadonlyMap<string, { stagingId: string; stagingPath: string }>;
  /** Told as soon as the destination names a file's staging file (for the history, so a rerun can resume). */
  onStaging?: (file: PlannedFile, stagingId: string, stagingPath: string) => void;
  /** Told as each file is verified (a reconnecting run does not pull it again). */
  onVerified?: (staged: StagedFile) => void;
  /** Told the bytes a pull had sent when it was interrupted (they were on the wire all the same). */
  onInterrupted?: (bytesTransferred: number) => void;
  /**
   * A live clone reads a disk from the source's point-in-time view instead of
   * its file: the pull request's view path, layer, format and ticket, and
   * where the source's digest is asked. Undefined for a plain file.
   */
  sourceFor?: (file: PlannedFile) => LiveSource | undefined;
}

/** How a file of a live clone is read at the source. */
export interface LiveSource {
  /** Fields that replace the plain file's in the PullImage request. */
  request: { sourcePath: string; ticket: string; layer?: 'EXTENT_LAYER_GUEST'; format?: string };
  /** The DigestImage request that gives the source's digest. */
  digest: { path: string; layer?: 'EXTENT_LAYER_GUEST' };
}

/** Holds the ticket call open; resolves with the ticket. */
function openTicket(src: HostSession, paths: string[], operationId: string): Promise<{ ticket: TicketEvent__Output; call: ClientReadableStream<TicketEvent__Output> }> {
  const call = src.clients.transfer.openTicket({ paths, operationId });
  return new Promise((resolve, reject) => {
    call.once('data', (ticket: TicketEvent__Output) => resolve({ ticket, call }));
    call.once('error', (err) => reject(fromStatus(err, src.host)));
  });
}

/** Opens the brokered path; everything it opens is registered on `revert` (and closed by `close`). */
export async function openBrokeredPath(
  src: HostSession,
  dst: HostSession,
  files: readonly Pick<PlannedFile, 'sourcePath'>[],
  operationId: string,
  signal: AbortSignal,
  attempt = 0,
): Promise<{ ticket: string; remotePeer: string; close(): Promise<void> }> {
  const { ticket, call } = await openTicket(
    src,
    files.map((f) => f.sourcePath),
    operationId,
  );
  const cleanups: (() => Promise<void>)[] = [async () => call.cancel()];
  const close = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };
  try {
    // A fresh peer socket per attempt: the one a dropped connection left behind is still bound on the host.
    const exposed = await exposePeer(src, ticket.peerSocket, dst, peerSocketId(operationId, attempt), signal);
    cleanups.push(() => exposed.close());
    return { ticket: ticket.ticket, remotePeer: exposed.remotePeer, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * Where an interrupted clone left off for `file`: its staging file, if still
 * there, and the block ranges that still differ from the source (found by
 * hashing both, so nothing already in place is sent again).
 */
async function resumePoint(
  src: HostSession,
  dst: HostSession,
  file: PlannedFile,
  settings: TransferSettings,
  reporter: Reporter,
  signal: AbortSignal,
): Promise<{ stagingId: string; stagingPath: string; ranges: DiffRange[] } | undefined> {
  const prior = settings.resume?.get(file.targetPath);
  if (!prior) return undefined;
  try {
    await dst.call(dst.clients.disk, dst.clients.disk.statImage, { path: prior.stagingPath }, signal);
  } catch (err) {
    if (err instanceof KvmcloneError && err.code === 'NOT_FOUND') return undefined;
    throw err;
  }
  const diff = await diffBlocks(hashStream(src, file.sourcePath, signal), hashStream(dst, prior.stagingPath, signal), DEFAULT_BLOCK_SIZE);
  if (diff.sourceSize !== diff.destSize) return undefined;
  reporter.info(`  ${file.label}: resuming staging file ${prior.stagingId} on ${dst.host}: ${diff.changedBlocks} of ${diff.blocks} blocks still to fetch`);
  return { ...prior, ranges: diff.ranges };
}

/** What one transfer works with: both hosts, the brokered path, and where it records, reports and registers undos. */
interface TransferContext {
  src: HostSession;
  dst: HostSession;
  path: { ticket: string; remotePeer: string };
  revert: RevertStack;
  reporter: Reporter;
  settings: TransferSettings;
}

/** What the destination reports of a file in its staging file. */
type StagingReport = Pick<PullProgress__Output, 'stagingId' | 'digest' | 'bytesTransferred' | 'bytesData' | 'bytesTotal'>;

/**
 * Gets `file` into a staging file on the destination: pulled whole, or (a
 * staging file an interrupted run left) only its blocks still missing, or —
 * when all of them arrived before the interruption — just digested.
 */
async function stageFile(ctx: TransferContext, file: PlannedFile, live: LiveSource | undefined, signal: AbortSignal): Promise<StagingReport> {
  const { src, dst, path, revert, reporter, settings } = ctx;
  const resumed = live ? undefined : await resumePoint(src, dst, file, settings, reporter, signal);
  if (resumed && resumed.ranges.length === 0) {
    // Everything arrived before the interruption: only the digest is left to check.
    const { digest, size } = await dst.call(dst.clients.disk, dst.clients.disk.digestImage, { path: resumed.stagingPath }, signal, file.virtualSize || file.allocatedSize);
    registerStagingRemoval(revert, dst, file.targetPath, resumed.stagingId, resumed.stagingPath);
    return { stagingId: resumed.stagingId, digest, bytesTransferred: 0, bytesData: 0, bytesTotal: size };
  }
  const request = {
    peerSocket: path.remotePeer,
    ticket: path.ticket,
    sourcePath: file.sourcePath,
    targetPath: file.targetPath,
    stagingId: resumed?.stagingId ?? '',
    operationId: settings.operationId,
    ranges: resumed?.ranges ?? [],
    mode: 'PULL_MODE_STAGING',
    // A TPM state file goes under the clone's new UUID: the destination makes that directory first.
    ...(file.role === 'tpm' && { makeParents: true }),
    ...live?.request,
  };
  return pullFile(dst, request, file, reporter, settings, revert, signal, (id, p) => settings.onStaging?.(file, id, p));
}

/** TRANSFER and VERIFY of one file: staged on the destination, then its digest there compared with the source's. */
async function pullAndVerify(ctx: TransferContext, file: PlannedFile, signal: AbortSignal): Promise<StagedFile> {
  const { src, dst, reporter, settings } = ctx;
  const live = settings.sourceFor?.(file);
  const final = await stageFile(ctx, file, live, signal);
  // Asked after the pull: a source agent that read the whole file for it digested it on the way and answers
  // from memory; otherwise (a resumed pull) it reads the file now.
  // A resumed pull's source is read whole now: a deadline for that many bytes, not a control call's.
  const expected = await src.call(src.clients.disk, src.clients.disk.digestImage, live?.digest ?? { path: file.sourcePath }, signal, file.virtualSize || file.allocatedSize);
  if (expected.digest !== final.digest) {
    throw dataLoss(`${file.label}: the copy on ${dst.host} does not match the source (${final.digest} vs ${expected.digest})`);
  }
  reporter.itemDone(file.label, `${formatBytes(final.bytesTransferred)} sent of ${formatBytes(final.bytesTotal)}, verified ${final.digest.slice(0, 23)}…`);
  // an agent older than bytes_data leaves it 0: it never compresses, so the data is what crossed the wire
  return {
    file,
    stagingId: final.stagingId,
    digest: final.digest,
    bytesTransferred: final.bytesTransferred,
    bytesData: final.bytesData || final.bytesTransferred,
  };
}

/**
 * Runs `each` over `files`, `concurrency` at a time. The first failure stops
 * the others (no point finishing copies that will be reverted) through the
 * signal `each` is given; an interrupt (`outer`) wins over any failure, and a
 * real failure over the CANCELLED ones it caused.
 */
async function forEachConcurrently(
  files: readonly PlannedFile[],
  concurrency: number,
  outer: AbortSignal,
  each: (file: PlannedFile, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const queue = [...files];
  const stop = new AbortController();
  const signal = AbortSignal.any([outer, stop.signal]);
  const worker = async (): Promise<void> => {
    try {
      for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
        signal.throwIfAborted();
        await each(file, signal);
      }
    } catch (err) {
      stop.abort();
      throw err;
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(concurrency, files.length)) }, worker);
  const results = await Promise.allSettled(workers);
  outer.throwIfAborted();
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
  if (failures.length > 0) throw failures.find((e) => !(e instanceof KvmcloneError && e.code === 'CANCELLED')) ?? failures[0];
}

/** Pulls and verifies every file to copy, `concurrency` at a time. */
export async function transferFiles(
  src: HostSession,
  dst: HostSession,
  files: readonly PlannedFile[],
  path: { ticket: string; remotePeer: string },
  revert: RevertStack,
  reporter: Reporter,
  settings: TransferSettings,
  signal: AbortSignal,
): Promise<StagedFile[]> {
  const ctx: TransferContext = { src, dst, path, revert, reporter, settings };
  const staged: StagedFile[] = [];
  await forEachConcurrently(files, settings.concurrency, signal, async (file, stopping) => {
    const done = await pullAndVerify(ctx, file, stopping);
    staged.push(done);
    settings.onVerified?.(done);
  });
  return staged;
}
