/**
 * The end of a clone whose controller stopped in DEFINE or COMMIT (killed,
 * or its machine lost) is carried out by the next run of the same clone.
 *
 * Before DEFINE a run records in the history (the controller's journal,
 * written before the step it describes) the UUID it defines the copy with
 * and every verified staging file still to commit; each commit is recorded
 * as it lands. When the next run of the same clone finds that record on an
 * interrupted operation, and the destination holds a domain of that name
 * with that UUID (so nobody else's), it commits what is still staged and
 * ends as the clone would have: no byte is sent again, nothing is undone.
 * A domain of that name with another UUID is not ours: preflight refuses it
 * as for any clone.
 */
import { dataLoss, KvmcloneError } from '../../../shared/errors.js';
import type { OperationEvent } from '../../history/operation-store.js';
import type { HostSession } from '../../transport/host-session.js';
import type { Reporter } from '../../cli/reporter.js';
import type { PlannedFile } from './clone-plan.js';

/** One verified staging file of the record. */
export interface CommitFile {
  targetPath: string;
  stagingId: string;
  role: PlannedFile['role'];
  label: string;
}

/** What a run records before DEFINE (event `commit`); each landed commit is an event `committed`. */
export interface CommitRecord {
  uuid: string;
  files: CommitFile[];
}

/** A record found on an interrupted run, with the commits it saw land. */
export interface InterruptedCommit extends CommitRecord {
  operationId: string;
  committed: ReadonlySet<string>;
}

/** Commits run disks first, then NVRAM and TPM state, backing files last (a half-committed chain never has a dangling overlay). */
export const COMMIT_ORDER: Readonly<Record<PlannedFile['role'], number>> = { disk: 0, nvram: 1, tpm: 1, backing: 2 };

/** The commit record of operation `operationId` in its events, when it got that far. */
export function interruptedCommit(operationId: string, events: readonly OperationEvent[]): InterruptedCommit | undefined {
  let record: CommitRecord | undefined;
  const committed = new Set<string>();
  for (const e of events) {
    if (e.type === 'commit') record = e.data as CommitRecord;
    if (e.type === 'committed') committed.add((e.data as { targetPath: string }).targetPath);
  }
  return record && { ...record, operationId, committed };
}

/**
 * The UUID of domain `name` on the session's host, or undefined when there is
 * none. From the list, not DescribeDomain: a copy defined before its images
 * are committed cannot be described (its disks are missing).
 */
export async function domainUuid(session: HostSession, name: string, signal?: AbortSignal): Promise<string | undefined> {
  const { domains } = await session.call(session.clients.domain, session.clients.domain.listDomains, {}, signal);
  return domains.find((d) => d.name === name)?.uuid;
}

function codeOf(err: unknown): string | undefined {
  return err instanceof KvmcloneError ? err.code : undefined;
}

/**
 * Commits one staged file. When `resumed` (a commit of this file may have
 * landed before a controller or agent stopped: the next run, or a retry after
 * a reconnect), a target already in place counts as done.
 */
export async function commitOne(dst: HostSession, f: CommitFile, resumed: boolean, signal?: AbortSignal): Promise<'committed' | 'was committed'> {
  try {
    await dst.call(dst.clients.disk, dst.clients.disk.commitStaging, { targetPath: f.targetPath, stagingId: f.stagingId, replace: false }, signal);
    return 'committed';
  } catch (err) {
    const code = codeOf(err);
    if (!resumed) throw err;
    // The target exists: linked in place before the stop (the staging name still links the same file; it goes).
    if (code === 'ALREADY_EXISTS') {
      await dst.call(dst.clients.disk, dst.clients.disk.abortStaging, { targetPath: f.targetPath, stagingId: f.stagingId }, signal);
      return 'was committed';
    }
    if (code !== 'NOT_FOUND') throw err;
    // No staging file: committed (its event not recorded), or lost.
    const present = await dst.call(dst.clients.disk, dst.clients.disk.statImage, { path: f.targetPath }, signal).then(
      () => true,
      (e: unknown) => {
        if (codeOf(e) === 'NOT_FOUND') return false;
        throw e;
      },
    );
    if (present) return 'was committed';
    throw dataLoss(
      `${dst.host}: ${f.targetPath} is neither in place nor staged any more; the interrupted clone cannot be finished — remove its copy (kvmctl delete --storage) and clone again`,
    );
  }
}

/**
 * Finishes the interrupted clone when its domain is on the destination with
 * the recorded UUID; resolves with the files in place, or undefined when the
 * run had not defined it (the normal resume of staging files applies).
 */
export async function finishCommit(
  dst: HostSession,
  destVm: string,
  found: InterruptedCommit,
  record: (targetPath: string) => void,
  reporter: Reporter,
  signal: AbortSignal,
): Promise<CommitFile[] | undefined> {
  if ((await domainUuid(dst, destVm, signal)) !== found.uuid) return undefined;
  reporter.info(`finishing clone ${found.operationId}: ${destVm} is defined on ${dst.host} with its UUID ${found.uuid}; committing what it left staged`);
  for (const f of [...found.files].sort((a, b) => COMMIT_ORDER[a.role] - COMMIT_ORDER[b.role])) {
    if (found.committed.has(f.targetPath)) continue;
    const how = await commitOne(dst, f, true, signal);
    record(f.targetPath);
    reporter.info(`  ${f.label}: ${f.targetPath} ${how === 'committed' ? 'committed' : 'was already in place'}`);
  }
  return found.files;
}
