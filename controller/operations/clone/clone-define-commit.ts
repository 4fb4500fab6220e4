/**
 * The clone's steps on the destination once every file is verified
 * (run-clone.ts runs them in order): DEFINE the copy under its new name
 * and UUID, COMMIT each staging file into place, START it if asked. DEFINE
 * and COMMIT are journalled first (finish-commit.ts), so a controller that
 * stops between them leaves the end to the next run.
 */
import { KvmcloneError } from '../../../shared/errors.js';
import type { OperationDeps, OperationRun } from '../operation-run.js';
import type { CloneFacts, CloneRequest } from './preflight.js';
import { rewriteDomainXml } from './domain-xml-rewrite.js';
import type { StagedFile } from './transfer-files.js';
import type { HostSession } from '../../transport/host-session.js';
import { COMMIT_ORDER, commitOne, domainUuid, type CommitRecord } from './finish-commit.js';

/** START: the copy is started and must be running. */
export async function startCopy(op: OperationRun, dst: HostSession, req: CloneRequest): Promise<void> {
  op.step('START');
  const startedVm = await dst.call(dst.clients.domain, dst.clients.domain.startDomain, { name: req.destVm, operationId: op.id });
  if (startedVm.domain?.state !== 'DOMAIN_STATE_RUNNING') {
    throw new KvmcloneError('FAILED_PRECONDITION', `${req.destVm} was cloned but is ${startedVm.domain?.state ?? 'unknown'} after start`);
  }
  op.reporter.info(`  ${req.destVm} is running on ${req.to}`);
}

/**
 * The undo of DEFINE, pushed before the call: a definition whose answer was
 * lost (libvirtd or the connection gone mid-call) may exist all the same.
 * Only a domain of that name with this clone's UUID is undefined.
 */
async function undefineOurs(dst: HostSession, name: string, uuid: string, removeStorage: boolean): Promise<void> {
  if ((await domainUuid(dst, name)) !== uuid) return;
  await dst.call(dst.clients.domain, dst.clients.domain.undefineDomain, { name, storage: removeStorage ? 'STORAGE_POLICY_REMOVE' : 'STORAGE_POLICY_KEEP' });
}

/** The copy's definition: the source's, with the new name and UUID, each copied file's path, and the links down if asked. */
function rewriteForCopy(req: CloneRequest, facts: CloneFacts): ReturnType<typeof rewriteDomainXml> {
  const diskPaths = new Map<string, string>(facts.source.disks.filter((d) => d.path !== '').map((d) => [d.path, d.path]));
  for (const f of facts.files) if (f.role === 'disk') diskPaths.set(f.sourcePath, f.targetPath);
  const nvram = facts.files.find((f) => f.role === 'nvram');
  return rewriteDomainXml(facts.source.xml, {
    name: req.destVm,
    sourceName: req.vm,
    uuid: facts.uuid,
    diskPaths,
    ...(nvram && { nvramPath: nvram.targetPath }),
    ...(facts.tpmStatePath !== undefined && { tpmStatePath: facts.tpmStatePath }),
    ...(req.linkDown === true && { linkDown: true }),
  });
}

/**
 * What DEFINE hands to COMMIT: the journal of files to commit, and the
 * target paths committed so far (once any is, DEFINE's undo removes the
 * copy's storage with its definition).
 */
export interface DefinedCopy {
  uuid: string;
  record: CommitRecord;
  committed: Set<string>;
}

/**
 * DEFINE: the commit is journalled before anything is defined, and the undo
 * pushed before the call (see undefineOurs); the definition itself is
 * retried across a reconnect.
 */
export async function defineCopy(
  op: OperationRun,
  req: CloneRequest,
  deps: Pick<OperationDeps, 'reporter' | 'store' | 'signal'>,
  dst: HostSession,
  facts: CloneFacts,
  staged: readonly StagedFile[],
): Promise<DefinedCopy> {
  op.step('DEFINE');
  const rewritten = rewriteForCopy(req, facts);
  const committed = new Set<string>();
  // The journal of DEFINE and COMMIT: a controller that stops from here on leaves them to the next run (finish-commit.ts).
  const record: CommitRecord = {
    uuid: rewritten.uuid,
    files: staged.map((s) => ({ targetPath: s.file.targetPath, stagingId: s.stagingId, role: s.file.role, label: s.file.label })),
  };
  deps.store.event(op.id, 'commit', record);
  op.revert.push(`undefine ${req.destVm} on ${req.to}`, () => undefineOurs(dst, req.destVm, rewritten.uuid, committed.size > 0));
  // The clone holds destVm's lock: the agent defines and starts it only with this operation's id. Defining the
  // same XML again is a no-op, so a dropped connection or a restarted agent costs a reconnect, not the run.
  await op.reconnecting('DEFINE', () => dst.call(dst.clients.domain, dst.clients.domain.defineDomain, { xml: rewritten.xml, operationId: op.id }, deps.signal));
  deps.reporter.info(`  defined ${req.destVm} on ${req.to}: UUID ${rewritten.uuid}${rewritten.macs.length ? `, MAC ${rewritten.macs.map((m) => m.to).join(', ')}` : ''}`);
  return { uuid: rewritten.uuid, record, committed };
}

/**
 * COMMIT: each staging file linked into place, disks first and backing
 * files last (COMMIT_ORDER), each recorded as it lands; after a reconnect
 * the files not yet recorded are committed again, one already in place
 * counting as done.
 */
export async function commitCopy(op: OperationRun, deps: Pick<OperationDeps, 'store' | 'signal'>, dst: HostSession, defined: DefinedCopy): Promise<void> {
  op.step('COMMIT');
  const { record, committed } = defined;
  await op.reconnecting('COMMIT', async (attempt) => {
    for (const f of [...record.files].sort((a, b) => COMMIT_ORDER[a.role] - COMMIT_ORDER[b.role])) {
      if (committed.has(f.targetPath)) continue;
      deps.signal.throwIfAborted();
      // Not cut off by an interrupt: a commit runs to its end, then the revert takes it back.
      await commitOne(dst, f, attempt > 0);
      committed.add(f.targetPath);
      deps.store.event(op.id, 'committed', { targetPath: f.targetPath });
    }
  });
}
