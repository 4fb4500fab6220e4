/**
 * TRANSFER and VERIFY: the brokered agent-to-agent path and the pulls over it.
 *
 * The source agent issues a ticket for exactly the files of this operation;
 * its peer socket is forwarded to the controller and re-exposed on the
 * destination host at a fresh per-operation path; the destination agent
 * pulls each file through it into a staging file. The controller sees
 * progress only. Each file's digest (computed by the destination from what it
 * wrote) is compared with the source's own digest of the original.
 */
import { basename, dirname } from 'node:path';
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

/** Staging files whose removal is already on a revert stack. */
const registered = new WeakMap<RevertStack, Set<string>>();

/** A staging file path as agents name them: `.<name>.<id>.kvmclone-staging` beside the target. */
const STAGING_NAME = /^\.[^/]+\.[a-z0-9][a-z0-9-]{7,63}\.kvmclone-staging$/;

/**
 * Registers the removal of a staging file: through its agent, or — when that
 * agent is gone (killed mid-transfer) — with `rm` over the SSH connection, so
 * a failed clone leaves nothing on the destination either way. An SSH account
 * that runs no commands cannot do the latter: the revert then names the file
 * left behind and why.
 */
function registerStagingRemoval(revert: RevertStack, dst: HostSession, targetPath: string, stagingId: string, stagingPath: string): void {
  // A pull resumed within the run announces the same staging file again: one removal is enough.
  const known = registered.get(revert) ?? new Set<string>();
  registered.set(revert, known);
  if (known.has(stagingPath)) return;
  known.add(stagingPath);
  revert.push(`remove staging file ${stagingPath} on ${dst.host}`, async () => {
    try {
      // A pull that was just cancelled may still hold the file's lock for a moment (ABORTED): try again.
      for (let attempt = 1; ; attempt += 1) {
        try {
          await dst.call(dst.clients.disk, dst.clients.disk.abortStaging, { targetPath, stagingId });
          return;
        } catch (err) {
          if (!(err instanceof KvmcloneError && err.code === 'ABORTED') || attempt >= 20) throw err;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      }
    } catch (err) {
      if (!(err instanceof KvmcloneError && (err.code === 'UNAVAILABLE' || err.code === 'DEADLINE_EXCEEDED'))) throw err;
      if (dirname(stagingPath) !== dirname(targetPath) || !STAGING_NAME.test(basename(stagingPath))) throw err;
      // An account that runs no commands (the dedicated kvmclone account: nologin shell) cannot do this:
      // say what is left and why, instead of a bare rm failure.
      const left = (why: string): KvmcloneError =>
        new KvmcloneError(
          'UNAVAILABLE',
          `staging file ${stagingPath} is left on ${dst.host}: its agent did not answer, and removing it over SSH failed (${why}); an SSH account without a shell cannot run rm: remove it as root once the agent is back`,
        );
      const removed = await dst.connection.exec(['rm', '-f', '--', stagingPath], { timeoutMs: 30_000 }).catch((e: unknown) => {
        throw left(e instanceof Error ? e.message : String(e));
      });
      if (removed.code !== 0) throw left(removed.stderr.trim() || `rm exited with status ${removed.code}`);
    }
  });
}

/**
 * Pulls one file (any PullImage mode), reporting progress under `file.label`;
 * a staging file is put on the revert stack as soon as the agent names it.
 * Resolves with the final event.
 */
export function pullFile(
  dst: HostSession,
  request: Record<string, unknown>,
  file: Pick<PlannedFile, 'label' | 'targetPath'>,
  reporter: Reporter,
  settings: Pick<TransferSettings, 'noProgressMs' | 'onInterrupted' | 'rateLimit' | 'compress' | 'streams'>,
  revert: RevertStack,
  signal: AbortSignal,
  onStaging?: (stagingId: string, stagingPath: string) => void,
): Promise<PullProgress__Output> {
  return new Promise((resolve, reject) => {
    const call = dst.clients.transfer.pullImage({
      ...request,
      ...(settings.rateLimit !== undefined && settings.rateLimit > 0 && { rateLimit: settings.rateLimit }),
      ...(settings.compress !== undefined && settings.compress !== 'COMPRESS_OFF' && { compress: settings.compress }),
      ...(settings.streams !== undefined && settings.streams > 1 && { streams: settings.streams }),
    });
    let last: PullProgress__Output | undefined;
    let watchdog: NodeJS.Timeout | undefined;
    const arm = (): void => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        call.cancel();
        const at = last === undefined ? 'before its first byte' : `at byte ${last.bytesDone} of ${last.bytesTotal}${last.phase === 'apply' ? ' (applying)' : ''}`;
        finish(
          new KvmcloneError(
            'DEADLINE_EXCEEDED',
            `${file.label} (${file.targetPath} on ${dst.host}) stalled ${at}: no progress for ${Math.round(settings.noProgressMs / 1000)} s; giving up`,
          ),
        );
      }, settings.noProgressMs);
    };
    const onAbort = (): void => call.cancel();
    const finish = (err?: unknown): void => {
      clearTimeout(watchdog);
      signal.removeEventListener('abort', onAbort);
      if (err !== undefined && last !== undefined && last.bytesTransferred > 0) settings.onInterrupted?.(last.bytesTransferred);
      if (err !== undefined) reject(signal.aborted ? new KvmcloneError('CANCELLED', 'interrupted') : err instanceof KvmcloneError ? err : fromStatus(err, dst.host));
      else if (last?.done) resolve(last);
      else reject(new KvmcloneError('UNAVAILABLE', `${dst.host}: the pull of ${file.label} ended without its final report`));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    arm();
    call.on('data', (event: PullProgress__Output) => {
      if (last === undefined && event.stagingId !== '') {
        registerStagingRemoval(revert, dst, file.targetPath, event.stagingId, event.stagingPath);
        onStaging?.(event.stagingId, event.stagingPath);
      }
      // An in-place pull retried after a dropped connection continues the journal its first attempt left on the destination.
      if (last === undefined && event.stagingId === '' && event.phase === 'transfer' && event.bytesDone > 0) {
        reporter.info(`  ${file.label}: resuming the sync journal on ${dst.host}: ${formatBytes(event.bytesDone)} of ${formatBytes(event.bytesTotal)} already there`);
      }
      if (event.phase === 'apply' && last?.phase !== 'apply') reporter.info(`  ${file.label}: journal complete on ${dst.host}, applying it in place`);
      last = event;
      arm();
      reporter.progress(file.label, event.bytesDone, event.bytesTotal);
    });
    call.on('error', (err) => finish(err));
    call.on('end', () => finish());
  });
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
  const staged: StagedFile[] = [];
  const queue = [...files];
  // The first failure stops the other pulls: no point finishing copies that will be reverted.
  const stop = new AbortController();
  const outer = signal;
  signal = AbortSignal.any([outer, stop.signal]);
  const pullAndVerify = async (file: PlannedFile): Promise<void> => {
    const live = settings.sourceFor?.(file);
    const resumed = live ? undefined : await resumePoint(src, dst, file, settings, reporter, signal);
    let final: Pick<PullProgress__Output, 'stagingId' | 'digest' | 'bytesTransferred' | 'bytesData' | 'bytesTotal'>;
    if (resumed && resumed.ranges.length === 0) {
      // Everything arrived before the interruption: only the digest is left to check.
      const { digest, size } = await dst.call(dst.clients.disk, dst.clients.disk.digestImage, { path: resumed.stagingPath }, signal, file.virtualSize || file.allocatedSize);
      registerStagingRemoval(revert, dst, file.targetPath, resumed.stagingId, resumed.stagingPath);
      final = { stagingId: resumed.stagingId, digest, bytesTransferred: 0, bytesData: 0, bytesTotal: size };
    } else {
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
      final = await pullFile(dst, request, file, reporter, settings, revert, signal, (id, p) => settings.onStaging?.(file, id, p));
    }
    // Asked after the pull: a source agent that read the whole file for it digested it on the way and answers
    // from memory; otherwise (a resumed pull) it reads the file now.
    // A resumed pull's source is read whole now: a deadline for that many bytes, not a control call's.
    const expected = await src.call(src.clients.disk, src.clients.disk.digestImage, live?.digest ?? { path: file.sourcePath }, signal, file.virtualSize || file.allocatedSize);
    if (expected.digest !== final.digest) {
      throw dataLoss(`${file.label}: the copy on ${dst.host} does not match the source (${final.digest} vs ${expected.digest})`);
    }
    reporter.itemDone(file.label, `${formatBytes(final.bytesTransferred)} sent of ${formatBytes(final.bytesTotal)}, verified ${final.digest.slice(0, 23)}…`);
    // an agent older than bytes_data leaves it 0: it never compresses, so the data is what crossed the wire
    const done: StagedFile = {
      file,
      stagingId: final.stagingId,
      digest: final.digest,
      bytesTransferred: final.bytesTransferred,
      bytesData: final.bytesData || final.bytesTransferred,
    };
    staged.push(done);
    settings.onVerified?.(done);
  };
  const worker = async (): Promise<void> => {
    try {
      for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
        signal.throwIfAborted();
        await pullAndVerify(file);
      }
    } catch (err) {
      stop.abort();
      throw err;
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(settings.concurrency, files.length)) }, worker);
  const results = await Promise.allSettled(workers);
  outer.throwIfAborted();
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
  if (failures.length > 0) throw failures.find((e) => !(e instanceof KvmcloneError && e.code === 'CANCELLED')) ?? failures[0];
  return staged;
}
