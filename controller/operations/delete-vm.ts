/**
 * `kvmctl delete VM --on HOST [--storage]`: removes a shut-off VM — people
 * clone to test, and then clean up. Without --storage only the definition
 * goes. With it, the agent also removes the images only this VM uses
 * (UndefineDomain STORAGE_POLICY_REMOVE: image files under its roots, NVRAM,
 * TPM state); it never removes a backing file (other images may be built on
 * it), a read-only or shareable image, a block device or a file outside its
 * roots, and it refuses outright when another domain uses one of the images.
 * What was kept is said with the reason. The VM's operation lock is held
 * throughout, the user confirms on a terminal (a script passes --yes), and
 * the deletion is recorded in the history like every operation.
 */
import { failedPrecondition } from '../../shared/errors.js';
import type { DescribeDomainResponse__Output } from '../../shared/generated/kvmclone/agent/v1/DescribeDomainResponse.js';
import { parseHostSpec } from '../transport/host-spec.js';
import { HostSession } from '../transport/host-session.js';
import { confirm } from '../cli/confirm.js';
import { underLock } from './hold-lock.js';
import { OperationRun, type OperationDeps } from './operation-run.js';

/** What to delete. */
export interface DeleteRequest {
  vm: string;
  host: string;
  /** Remove the images only this VM uses too. */
  storage: boolean;
  yes: boolean;
  json: boolean;
}

/** A file a deletion leaves in place, and why. */
export interface KeptFile {
  path: string;
  reason: string;
}

/**
 * The files of `described` that the agent will not remove, with the reason
 * (before the call: what the user is asked about; after it, the same rules
 * account for every file not in `removed`).
 */
export function keptFiles(described: DescribeDomainResponse__Output, removed: ReadonlySet<string>): KeptFile[] {
  const kept: KeptFile[] = [];
  const seen = new Set<string>();
  const keep = (path: string, reason: string): void => {
    if (path === '' || removed.has(path) || seen.has(path)) return;
    seen.add(path);
    kept.push({ path, reason });
  };
  for (const d of described.disks) {
    if (d.readonly) keep(d.path, 'read-only image (an installer ISO or a golden image)');
    else if (d.shareable) keep(d.path, 'shareable image');
    else if (d.device === 'cdrom' || d.device === 'floppy') keep(d.path, `removable media (${d.device})`);
    else keep(d.path, "not a regular file under the agent's image roots");
    for (const b of d.backingChain) keep(b.path, `backing file of ${d.target} (never removed: other images may be built on it)`);
  }
  return kept;
}

/** Runs one delete and returns the exit code. */
export async function runDelete(req: DeleteRequest, deps: OperationDeps): Promise<number> {
  parseHostSpec(req.host);
  const op = new OperationRun(deps, { kind: 'delete', vm: req.vm, destVm: req.vm, from: req.host, to: req.host });
  let session: HostSession | undefined;
  try {
    op.step('PREFLIGHT', `${req.vm} on ${req.host}`);
    session = await HostSession.open(deps.engine, req.host, {
      agentSocket: deps.options.agentSocket,
      callMs: deps.options.timeouts.callMs,
      signal: deps.signal,
      needs: ['domain.describe', 'domain.undefine', 'transfer.lock'],
      operationId: op.id,
      debug: (m) => deps.reporter.debug(m),
    });
    const s = session;
    return await underLock(s, req.vm, op.id, `delete ${req.vm}`, async () => {
      const described = await s.call(s.clients.domain, s.clients.domain.describeDomain, { name: req.vm }, deps.signal);
      const state = (described.domain?.state ?? 'unknown').replace('DOMAIN_STATE_', '').toLowerCase();
      if (state !== 'shutoff') throw failedPrecondition(`${req.vm} on ${req.host} is ${state}: shut it down before deleting it`);
      op.step('PLAN', req.storage ? `undefine ${req.vm} and remove the images only it uses` : `undefine ${req.vm}, keep its images`);
      const files = described.disks.map((d) => d.path).filter((p) => p !== '');
      const question = req.storage
        ? `Delete ${req.vm} on ${req.host} and remove its images (${files.join(', ') || 'none'}; backing, read-only and shared files are kept)?`
        : `Delete the definition of ${req.vm} on ${req.host} (its images stay: ${files.join(', ') || 'none'})?`;
      if (!(await confirm(question, { yes: req.yes, json: req.json, signal: deps.signal, unattended: false }))) {
        throw failedPrecondition(`deleting ${req.vm} on ${req.host} cannot be undone: confirm, or pass --yes`);
      }
      // Still a refusal (exit 3) if the agent refuses: it checks everything (state, images other domains use) before it changes anything.
      op.step('UNDEFINE', req.storage ? 'definition, then the images only this VM uses' : 'definition only');
      const { removedPaths } = await s.call(
        s.clients.domain,
        s.clients.domain.undefineDomain,
        { name: req.vm, storage: req.storage ? 'STORAGE_POLICY_REMOVE' : 'STORAGE_POLICY_KEEP' },
        deps.signal,
      );
      const kept = req.storage ? keptFiles(described, new Set(removedPaths)) : files.map((path) => ({ path, reason: 'kept: delete without --storage' }));
      for (const k of kept) deps.reporter.info(`  kept ${k.path}: ${k.reason}`);
      for (const p of removedPaths) deps.reporter.info(`  removed ${p}`);
      return op.succeed({ ok: true, operation: 'delete', id: op.id, vm: req.vm, host: req.host, storage: req.storage, removedPaths, kept, bytesOnWire: 0, seconds: op.seconds() });
    });
  } catch (thrown) {
    return await op.fail(thrown);
  } finally {
    await session?.close().catch(() => undefined);
    await op.close();
  }
}
