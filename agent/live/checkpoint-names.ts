/**
 * kvmclone's checkpoints: `kvmclone.<replica-id>.<n>`, one chain per replica
 * (a copy and its source VM). Only names of this form are ever created,
 * used as an incremental base, or deleted: checkpoints other backup tools
 * made (virtnbdbackup keeps its own) are never touched.
 */
import { invalidArgument } from '../../shared/errors.js';
import { ID_PATTERN } from '../../shared/validation.js';

const CHECKPOINT_NAME = /^kvmclone\.([a-z0-9][a-z0-9-]{7,63})\.([1-9][0-9]{0,9})$/;

/** A parsed kvmclone checkpoint name. */
export interface CheckpointName {
  readonly replicaId: string;
  readonly n: number;
}

/** Parses `name`; undefined when it is not a kvmclone checkpoint. */
export function parseCheckpointName(name: string): CheckpointName | undefined {
  const m = CHECKPOINT_NAME.exec(name);
  return m ? { replicaId: m[1], n: Number(m[2]) } : undefined;
}

/** Checks a replica id (the checkpoint namespace). */
export function checkReplicaId(id: string, field = 'replica_id'): string {
  if (!ID_PATTERN.test(id)) throw invalidArgument(`${field}: must be 8 to 64 of a-z, 0-9 and '-', starting with a letter or digit`);
  return id;
}

/** Checks a checkpoint name a caller gave as the incremental base: it must be one of kvmclone's. */
export function checkCheckpointName(name: string, replicaId: string, field: string): string {
  const parsed = parseCheckpointName(name);
  if (parsed === undefined || parsed.replicaId !== replicaId)
    throw invalidArgument(`${field}: ${name.slice(0, 100)} is not a checkpoint of replica ${replicaId} (kvmclone.${replicaId}.<n>)`);
  return name;
}

/** The replica's checkpoints among `names`, oldest first. */
export function replicaCheckpoints(names: readonly string[], replicaId: string): string[] {
  return names
    .map((name) => ({ name, parsed: parseCheckpointName(name) }))
    .filter((c) => c.parsed?.replicaId === replicaId)
    .sort((a, b) => (a.parsed as CheckpointName).n - (b.parsed as CheckpointName).n)
    .map((c) => c.name);
}

/** The next checkpoint name of a replica, after every one of its checkpoints in `names`. */
export function nextCheckpointName(names: readonly string[], replicaId: string): string {
  const last = replicaCheckpoints(names, replicaId).at(-1);
  const n = last === undefined ? 1 : (parseCheckpointName(last) as CheckpointName).n + 1;
  return `kvmclone.${replicaId}.${n}`;
}
