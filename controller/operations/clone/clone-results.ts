/**
 * The result objects a clone ends with (recorded in the history, printed by
 * --json): a dry run's plan, a finished interrupted clone, a full clone.
 */
import type { OperationRun } from '../operation-run.js';
import type { LivePath } from '../live/live-path.js';
import type { CloneFacts, CloneRequest } from './preflight.js';
import type { CommitFile, InterruptedCommit } from './finish-commit.js';
import type { StagedFile } from './transfer-files.js';

/** A dry run: the plan, nothing copied. */
export function dryRunResult(op: OperationRun, req: CloneRequest, facts: CloneFacts): Record<string, unknown> {
  return {
    ok: true,
    operation: 'clone',
    id: op.id,
    vm: req.vm,
    destVm: req.destVm,
    dryRun: true,
    plan: { files: facts.files, space: facts.space },
    bytesOnWire: 0,
    seconds: op.seconds(),
  };
}

/** What every result of a clone that made its copy begins with (in this key order): which operation, which VM, where. */
function resultHead(op: OperationRun, req: CloneRequest): Record<string, unknown> {
  return { ok: true, operation: 'clone', id: op.id, vm: req.vm, destVm: req.destVm, from: req.from, to: req.to };
}

/** An interrupted clone finished by this run: what it had committed, no byte sent again. */
export function finishedResult(op: OperationRun, req: CloneRequest, commit: InterruptedCommit, done: readonly CommitFile[]): Record<string, unknown> {
  return {
    ...resultHead(op, req),
    uuid: commit.uuid,
    finished: commit.operationId,
    disks: done.map((f) => ({ target: f.targetPath, role: f.role })),
    bytesOnWire: 0,
    seconds: op.seconds(),
  };
}

/** A clone run to its end: each file copied, its bytes and digest; through a live view, its consistency and what was read. */
export function cloneResult(
  op: OperationRun,
  req: CloneRequest,
  facts: CloneFacts,
  uuid: string,
  live: LivePath | undefined,
  copied: { staged: readonly StagedFile[]; bytesRead: ReadonlyMap<string, number> },
): Record<string, unknown> {
  const { staged, bytesRead } = copied;
  return {
    ...resultHead(op, req),
    uuid,
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
}
