/**
 * The clone's steps that move bytes (run-clone.ts runs them in order): the
 * point-in-time view a live or flattened clone reads from, TRANSFER with
 * each file's VERIFY, and the backing references set once all is verified.
 */
import { pullSettingsFor } from '../transfer-rate.js';
import type { OperationDeps, OperationRun } from '../operation-run.js';
import type { PlannedFile } from './clone-plan.js';
import type { CloneFacts, CloneRequest } from './preflight.js';
import { openBrokeredPath, transferFiles, type LiveSource, type StagedFile, type TransferSettings } from './transfer-files.js';
import type { HostSession } from '../../transport/host-session.js';
import { removeStalePeer } from '../peer-forward.js';
import type { LiveReplicaStore, ReplicaKey } from '../../history/live-replica-store.js';
import { describeConsistency, flatViewRequest, liveViewRequest, viewBytesRead } from '../live/live-view-request.js';
import { openLivePath, type LivePath } from '../live/live-path.js';

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

/**
 * Opens the view the copy reads its disks from, when it needs one: a live
 * clone of a running VM reads one point in time (tied to its replica, for
 * a later delta), a --flatten clone of disks with backing chains reads each
 * chain merged. Otherwise (undefined) the files are read as they are.
 */
export async function openSourceView(
  op: OperationRun,
  req: CloneRequest,
  deps: Pick<OperationDeps, 'reporter' | 'store' | 'signal'>,
  hosts: { src: HostSession; dst: HostSession },
  facts: CloneFacts,
  toCopy: readonly PlannedFile[],
  replica: { replicas: LiveReplicaStore | undefined; replicaKey: ReplicaKey },
): Promise<LivePath | undefined> {
  const { reporter, store } = deps;
  const { src, dst } = hosts;
  const { replicas, replicaKey } = replica;
  let live: LivePath | undefined;
  if (facts.live && req.live && replicas) {
    const replicaId = replicas.replicaId(replicaKey);
    const plainFiles = toCopy.filter((f) => f.role !== 'disk').map((f) => f.sourcePath);
    live = await openLivePath(src, dst, liveViewRequest(req.vm, op.id, replicaId, req.live, undefined), plainFiles, deps.signal);
    reporter.info(`  ${describeConsistency(live.view, req.from)}`);
    store.event(op.id, 'live-view', { consistency: live.view.consistency, checkpoint: live.view.checkpoint, reason: live.view.deltaReason });
  } else if (req.flatten && toCopy.some((f) => f.role === 'disk') && facts.source.disks.some((d) => d.backingChain.length > 0)) {
    const plainFiles = toCopy.filter((f) => f.role !== 'disk').map((f) => f.sourcePath);
    live = await openLivePath(src, dst, flatViewRequest(req.vm, op.id), plainFiles, deps.signal);
    reporter.info(`  ${describeConsistency(live.view, req.from)}`);
    store.event(op.id, 'flat-view', { disks: live.view.disks.map((d) => d.target) });
  }
  return live;
}

/** Where each disk is read in the view `live` (the view's path, the guest layer); a file the view does not hold is read as it is. */
function viewSourceFor(live: LivePath): (file: { role: string; label: string }) => LiveSource | undefined {
  return (file) => {
    const d = file.role === 'disk' ? live.view.disks.find((x) => x.target === file.label) : undefined;
    if (!d) return undefined;
    return { request: { sourcePath: d.viewPath, ticket: live.ticket, layer: 'EXTENT_LAYER_GUEST', format: d.format }, digest: { path: d.viewPath, layer: 'EXTENT_LAYER_GUEST' } };
  };
}

/**
 * TRANSFER with each file's VERIFY, then closes the view. Through a view the
 * copy is not reconnected (the view is one point in time, held by this
 * run's connection); without one a dropped connection resumes it. Resolves
 * with the staged files and, through a view, the bytes read from each disk.
 */
export async function transferStaged(
  op: OperationRun,
  req: CloneRequest,
  deps: Pick<OperationDeps, 'options' | 'store' | 'signal'>,
  hosts: { src: HostSession; dst: HostSession },
  toCopy: readonly PlannedFile[],
  resume: ReadonlyMap<string, { stagingId: string; stagingPath: string }>,
  live: LivePath | undefined,
): Promise<{ staged: StagedFile[]; bytesRead: Map<string, number> }> {
  const { options, store, signal } = deps;
  const { src, dst } = hosts;
  const id = op.id;
  let staged: StagedFile[] = [];
  let bytesRead = new Map<string, number>();
  const settings = {
    operationId: id,
    concurrency: options.transfer.concurrency,
    noProgressMs: options.timeouts.noProgressMs,
    ...pullSettingsFor(options.transfer, req.from, req.to),
    streams: options.transfer.streams,
    resume,
    onStaging: (file: PlannedFile, stagingId: string, stagingPath: string) => store.event(id, 'staged', { targetPath: file.targetPath, stagingId, stagingPath }),
    ...(live && { sourceFor: viewSourceFor(live) }),
  };
  if (toCopy.length > 0 && live) {
    // A live view is one point in time, held by this run's connection to the source: it is not reconnected.
    const path = { ticket: live.fileTicket, remotePeer: live.remotePeer, close: () => live.close() };
    try {
      staged = await transferFiles(src, dst, toCopy, path, op.revert, op.reporter, settings, signal);
      bytesRead = await viewBytesRead(src, id, signal);
    } finally {
      // Ends the live view's backup job on the source as soon as the bytes are in.
      await path.close();
    }
  } else if (toCopy.length > 0) {
    staged = await transferReconnecting(op, src, dst, toCopy, settings, signal);
  }
  await live?.close();
  op.bytesOnWire += staged.reduce((n, s) => n + s.bytesTransferred, 0);
  op.bytesData += staged.reduce((n, s) => n + s.bytesData, 0);
  return { staged, bytesRead };
}

/**
 * VERIFY's end: every digest already matched during TRANSFER; what is left
 * is to point each staged overlay at its backing file's path on the
 * destination, before anything is defined or committed.
 */
export async function verifyAndRebase(
  op: OperationRun,
  req: CloneRequest,
  deps: Pick<OperationDeps, 'reporter' | 'signal'>,
  dst: HostSession,
  staged: readonly StagedFile[],
): Promise<void> {
  op.step('VERIFY', `${staged.length} file(s): each digest computed by ${req.to} from what it wrote equals ${req.from}'s digest of the original`);
  for (const s of staged) {
    if (!s.file.rebase) continue;
    await dst.call(dst.clients.disk, dst.clients.disk.rebaseStaging, { targetPath: s.file.targetPath, stagingId: s.stagingId, ...s.file.rebase }, deps.signal);
    deps.reporter.info(`  ${s.file.label}: backing reference set to ${s.file.rebase.backingPath}`);
  }
}
