/**
 * UndefineDomain of DomainService (domain-service.ts), and what its
 * STORAGE_POLICY_REMOVE deletes: the plan is made from the definition and the
 * files themselves (under the image roots, regular, named by no other domain)
 * before libvirt drops the definition, and carried out after.
 */
import { lstat, realpath, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { KvmcloneError, errnoCode, failedPrecondition, invalidArgument } from '../../shared/errors.js';
import { checkAbsolutePath, checkVmName } from '../../shared/validation.js';
import type { UndefineDomainRequest__Output } from '../../shared/generated/kvmclone/agent/v1/UndefineDomainRequest.js';
import { readDomainFacts, type DomainFacts } from '../libvirt/domain-xml.js';
import { inSystemPlace } from '../libvirt/domain-policy.js';
import { filesInUse, userOf } from '../libvirt/domain-users.js';
import type { DomainRecord } from '../libvirt/libvirt-port.js';
import type { ImageRoots } from '../paths/image-roots.js';
import type { CallContext } from '../rpc/handlers.js';
import type { DomainServiceDeps } from './domain-service.js';
import { requireState } from './domain-state.js';
import { exists } from '../paths/if-present.js';

/** Where libvirt keeps swtpm state, one directory per domain UUID. */
export const DEFAULT_SWTPM_STATE_ROOT = '/var/lib/libvirt/swtpm';

/** Devices whose media is not VM storage (a deleted installer ISO is common). */
export const REMOVABLE = new Set(['cdrom', 'floppy']);

/** A libvirt domain or secret UUID. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The swtpm state directory of an emulated TPM, or ''. */
export function tpmStatePath(facts: DomainFacts, uuid: string, swtpmRoot: string): string {
  if (facts.tpm?.backend !== 'emulator') return '';
  return facts.tpm.statePath || `${swtpmRoot}/${uuid}`;
}

/** What REMOVE will delete, decided before the domain is undefined. */
interface RemovalPlan {
  files: string[];
  nvram: { path: string; remove: boolean };
  tpmDir: string;
}

/** Resolves a path under the image roots, or undefined when it is missing or outside them. */
async function underRoots(roots: ImageRoots, path: string): Promise<string | undefined> {
  try {
    return await roots.existing(path);
  } catch (err) {
    if (err instanceof KvmcloneError) return undefined;
    throw err;
  }
}

async function planRemoval(deps: DomainServiceDeps, record: DomainRecord, facts: DomainFacts, ctx: CallContext): Promise<RemovalPlan> {
  const keep = (path: string, reason: string): void => ctx.log.info({ domain: record.name, path, reason }, 'undefine: keeping');
  const usedElsewhere = await filesInUse(deps.libvirt, record.name, ctx.signal);
  const refuseShared = (path: string, resolved: string, what: string): void => {
    const other = userOf(usedElsewhere, path, resolved);
    if (other !== undefined) {
      throw failedPrecondition(
        `cannot remove the storage of domain '${record.name}': ${what} ${path} is also used by domain '${other}'; undefine with STORAGE_POLICY_KEEP, or take it out of '${other}' first`,
      );
    }
  };
  const files: string[] = [];
  for (const disk of facts.disks) {
    if (disk.source === '') continue;
    if (disk.type !== 'file') keep(disk.source, `a ${disk.type} disk, not an image file`);
    else if (REMOVABLE.has(disk.device)) keep(disk.source, `removable media (${disk.device})`);
    else if (disk.readonly || disk.shareable) keep(disk.source, disk.readonly ? 'read-only image' : 'shareable image');
    else {
      const resolved = await underRoots(deps.roots, disk.source);
      if (resolved === undefined) keep(disk.source, 'missing, or outside the image roots');
      else if (!(await lstat(resolved)).isFile()) keep(disk.source, 'not a regular file');
      else {
        refuseShared(disk.source, resolved, `disk ${disk.target || '(no target)'}`);
        files.push(resolved);
        // a symlink naming the image goes with it, if it lies in the roots itself
        if (resolved !== disk.source && (await lstat(disk.source)).isSymbolicLink() && deps.roots.contains(await realpath(dirname(disk.source)))) {
          files.push(disk.source);
        }
      }
    }
  }
  const nvram = facts.nvramPath;
  const nvramRemovable = nvram !== '' && ((inSystemPlace('nvram', nvram) && isNormalPath(nvram)) || (await underRoots(deps.roots, nvram)) !== undefined);
  if (nvram !== '' && !nvramRemovable) keep(nvram, "NVRAM missing, or outside the image roots and libvirt's nvram directory");
  if (nvramRemovable) refuseShared(nvram, await realpath(nvram).catch(() => nvram), 'NVRAM');
  let tpmDir = tpmStatePath(facts, record.uuid, deps.swtpmStateRoot ?? DEFAULT_SWTPM_STATE_ROOT);
  const tpmAllowed = facts.tpm?.statePath ? (await underRoots(deps.roots, tpmDir)) !== undefined : UUID_PATTERN.test(record.uuid);
  if (tpmDir !== '' && !tpmAllowed) {
    keep(tpmDir, "TPM state outside the image roots and libvirt's swtpm directory");
    tpmDir = '';
  }
  return { files, nvram: { path: nvram, remove: nvramRemovable }, tpmDir };
}

function isNormalPath(path: string): boolean {
  try {
    return checkAbsolutePath(path) === path;
  } catch {
    return false;
  }
}

/**
 * UndefineDomain. The domain must be shut off. KEEP removes the definition
 * only. REMOVE also deletes, after libvirt has dropped the definition:
 * each disk image that is a file under the image roots, on a disk or lun
 * device, neither readonly nor shareable and named by no other domain; the
 * NVRAM file (deleted by libvirt) when it is under the roots or libvirt's
 * nvram directory; and the swtpm state directory. Everything else is kept and
 * logged: removable media, read-only and shareable images (ISOs, golden
 * images), block devices, files outside the roots, and backing files (other
 * images may depend on them). The response lists what was removed.
 */
export async function undefineDomain(deps: DomainServiceDeps, request: UndefineDomainRequest__Output, ctx: CallContext): Promise<string[]> {
  const policy = request.storage;
  if (policy !== 'STORAGE_POLICY_KEEP' && policy !== 'STORAGE_POLICY_REMOVE') {
    throw invalidArgument('storage: say STORAGE_POLICY_KEEP or STORAGE_POLICY_REMOVE (there is no default, so storage is never removed by accident)');
  }
  const name = checkVmName(request.name);
  const record = await requireState(deps, name, ctx.signal, 'shutoff', 'undefine');
  if (policy === 'STORAGE_POLICY_KEEP') {
    await deps.libvirt.undefineDomain(name, false, { signal: ctx.signal });
    return [];
  }
  const facts = readDomainFacts(await deps.libvirt.getDomainXml(name, { signal: ctx.signal }));
  const plan = await planRemoval(deps, record, facts, ctx);
  const nvramExisted = plan.nvram.remove && (await exists(plan.nvram.path));
  await deps.libvirt.undefineDomain(name, plan.nvram.remove, { signal: ctx.signal });
  // The definition is gone: finish the removal whatever the signal says.
  const removed: string[] = [];
  const failed: string[] = [];
  if (nvramExisted) {
    if (await exists(plan.nvram.path)) failed.push(`${plan.nvram.path} (libvirt left it)`);
    else removed.push(plan.nvram.path);
  }
  const targets = [...plan.files.map((path) => ({ path, dir: false })), ...(plan.tpmDir === '' ? [] : [{ path: plan.tpmDir, dir: true }])];
  for (const { path, dir } of targets) {
    try {
      await rm(path, { recursive: dir });
      removed.push(path);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') failed.push(`${path} (${errnoCode(err) ?? String(err)})`);
    }
  }
  ctx.log.info({ domain: name, removed, failed }, 'undefined with storage removal');
  if (failed.length > 0) {
    throw new KvmcloneError('INTERNAL', `domain '${name}' was undefined, but ${failed.join(', ')} could not be removed; removed: ${removed.join(', ') || 'nothing'}`);
  }
  return removed;
}
