/**
 * The fields that every result line of a sync (offline or live, dry run or
 * not) has in common, in the order scripts read them. The offline sync
 * (run-sync.ts, sync-hash-plan.ts) and the live one (../live/) build their
 * lines from these, so the two kinds of sync keep one format.
 */
import type { OperationRun } from '../operation-run.js';
import type { SyncRequest } from './run-sync.js';
import type { SyncPair } from './sync-plan.js';

/** What a sync's result line starts with: which operation, of which VM into which copy. */
export function syncResultHead(op: Pick<OperationRun, 'id'>, req: Pick<SyncRequest, 'vm' | 'destVm'>): { ok: true; operation: 'sync'; id: string; vm: string; destVm: string } {
  return { ok: true, operation: 'sync', id: op.id, vm: req.vm, destVm: req.destVm };
}

/** What a sync's result line says of each disk before its own counts: which file went into which. */
export function pairResultFields(pair: Pick<SyncPair, 'sourcePath' | 'targetPath' | 'kind' | 'virtualSize'>): {
  source: string;
  target: string;
  kind: SyncPair['kind'];
  virtualSize: SyncPair['virtualSize'];
} {
  return { source: pair.sourcePath, target: pair.targetPath, kind: pair.kind, virtualSize: pair.virtualSize };
}
