/**
 * DomainService: the libvirt control plane of one host — inventory, what a
 * VM's storage is made of, and lifecycle. Every name is checked before libvirt
 * sees it; a definition is admitted only if the domain policy allows it
 * (agent/libvirt/domain-policy.ts: an allow-list of elements, every host path
 * confined by kind) and every disk image's chain, read from its headers, stays
 * under the roots and agrees with the XML (agent/images/definition-chains.ts). DefineDomain and StartDomain respect the operation locks
 * (HoldLock), and storage removal never deletes a file another domain uses.
 */
import { lstat, realpath, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KvmcloneError, errnoCode, failedPrecondition, invalidArgument } from '../../shared/errors.js';
import { checkAbsolutePath, checkVmName } from '../../shared/validation.js';
import type { DomainServiceHandlers } from '../../shared/generated/kvmclone/agent/v1/DomainService.js';
import type { DomainSummary } from '../../shared/generated/kvmclone/agent/v1/DomainSummary.js';
import type { DomainState__Output } from '../../shared/generated/kvmclone/agent/v1/DomainState.js';
import type { DiskInfo } from '../../shared/generated/kvmclone/agent/v1/DiskInfo.js';
import type { DescribeDomainResponse } from '../../shared/generated/kvmclone/agent/v1/DescribeDomainResponse.js';
import type { UndefineDomainRequest__Output } from '../../shared/generated/kvmclone/agent/v1/UndefineDomainRequest.js';
import type { ShutdownDomainRequest__Output } from '../../shared/generated/kvmclone/agent/v1/ShutdownDomainRequest.js';
import { qemuImgChain, qemuImgInfo, type QemuImageInfo } from '../images/qemu-img.js';
import { sniffFormat } from '../images/image-header.js';
import { checkDefinitionChains } from '../images/definition-chains.js';
import { readDomainFacts, type DomainDisk, type DomainFacts } from '../libvirt/domain-xml.js';
import { checkDefinition, definitionRefusals, inSystemPlace } from '../libvirt/domain-policy.js';
import { filesInUse, userOf } from '../libvirt/domain-users.js';
import type { DomainRecord, DomainStateName, LibvirtPort } from '../libvirt/libvirt-port.js';
import type { ImageRoots } from '../paths/image-roots.js';
import { tpmStateFiles } from '../libvirt/tpm-state-files.js';
import { CommandError } from '../process/run-command.js';
import { withErrnoPath } from '../disk/errno-path.js';
import { unary, type CallContext, type RpcDeps } from '../rpc/handlers.js';
import type { LockRegistry } from '../transfer/lock-registry.js';

/** Largest domain XML accepted by DefineDomain (real ones are a few KiB). */
export const MAX_DOMAIN_XML_BYTES = 1024 * 1024;
/** Longest ShutdownDomain wait accepted. */
export const MAX_SHUTDOWN_WAIT_SECONDS = 3600;
/** How often ShutdownDomain looks at the state while it waits. */
const SHUTDOWN_POLL_MS = 250;
/** Where libvirt keeps swtpm state, one directory per domain UUID. */
export const DEFAULT_SWTPM_STATE_ROOT = '/var/lib/libvirt/swtpm';

export interface DomainServiceDeps {
  rpc: RpcDeps;
  libvirt: LibvirtPort;
  roots: ImageRoots;
  /** libvirt's swtpm state directory; tests point it elsewhere. */
  swtpmStateRoot?: string;
  /**
   * The agent's operation locks (shared with TransferService's HoldLock):
   * DefineDomain and StartDomain of a locked VM are refused unless they
   * carry the holder's operation id. Tests without locks leave it out.
   */
  locks?: LockRegistry;
}

const STATES: Readonly<Record<DomainStateName, DomainState__Output>> = {
  nostate: 'DOMAIN_STATE_NOSTATE',
  running: 'DOMAIN_STATE_RUNNING',
  blocked: 'DOMAIN_STATE_BLOCKED',
  paused: 'DOMAIN_STATE_PAUSED',
  shutdown: 'DOMAIN_STATE_SHUTDOWN',
  shutoff: 'DOMAIN_STATE_SHUTOFF',
  crashed: 'DOMAIN_STATE_CRASHED',
  pmsuspended: 'DOMAIN_STATE_PMSUSPENDED',
};

/** A port record as the wire's DomainSummary. */
export function toSummary(r: DomainRecord): DomainSummary {
  return { name: r.name, uuid: r.uuid, state: STATES[r.state], persistent: r.persistent, vcpus: r.vcpus, memoryBytes: r.memoryBytes };
}

/**
 * DefineDomain. The XML is checked before libvirt sees it, and libvirt's own
 * reading of it (the definition it stored) is checked again afterwards: if the
 * two readings ever differed, the stored definition is rolled back (the
 * previous one restored, or the new domain undefined) and the call refused.
 */
async function defineDomain(deps: DomainServiceDeps, xml: string, operationId: string, ctx: CallContext): Promise<DomainRecord> {
  if (xml.length === 0) throw invalidArgument('xml: a domain definition is required');
  const bytes = Buffer.byteLength(xml);
  if (bytes > MAX_DOMAIN_XML_BYTES) throw invalidArgument(`xml: ${bytes} bytes is more than the ${MAX_DOMAIN_XML_BYTES} a domain definition may have`);
  const facts = await checkDefinition(xml, 'xml', deps.roots);
  deps.locks?.requireFree(facts.name, operationId, 'define');
  // What the admitted paths themselves name: each disk's chain from its headers, and the XML's <backingStore> against it.
  await checkDefinitionChains(xml, deps.roots);
  const signal = ctx.signal;
  const previous = await deps.libvirt.getDomainXml(facts.name, { signal }).catch((err: unknown) => {
    if (err instanceof KvmcloneError && err.code === 'NOT_FOUND') return undefined;
    throw err;
  });
  const record = await deps.libvirt.defineDomain(xml, { signal });
  // From here on the domain exists: finish (check, or roll back) whatever the signal says.
  try {
    await checkDefinition(await deps.libvirt.getDomainXml(record.name), "libvirt's definition", deps.roots);
  } catch (err) {
    ctx.log.warn({ err, domain: record.name }, 'the stored definition failed the check: rolling back');
    await (previous !== undefined ? deps.libvirt.defineDomain(previous) : deps.libvirt.undefineDomain(record.name, false));
    throw err;
  }
  return record;
}

const REMOVABLE = new Set(['cdrom', 'floppy']);

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}

/**
 * One disk of DescribeDomain. A drive without media, a network disk or a
 * directory (vvfat) has no image: it is listed with zero sizes. Removable
 * media (cdrom, floppy) whose file is missing is listed the same way — a
 * deleted installer ISO is common and is not VM storage. A missing disk or lun
 * image fails the call with FAILED_PRECONDITION naming it: nothing can clone or
 * boot that VM, and an operator should hear so rather than see zeros.
 *
 * Every image is read as the format libvirt opens it with (`<driver type>`,
 * raw when absent), never probed: a raw disk is read with `qemu-img info -f
 * raw` alone (a guest can write any header into a raw disk, and its "backing
 * file" must not be followed); a qcow2's chain is walked from its headers
 * (image-header.ts) and each link read with its format stated. Other
 * formats are refused with FAILED_PRECONDITION naming the disk.
 */
async function describeDisk(disk: DomainDisk, signal: AbortSignal): Promise<DiskInfo> {
  const info: DiskInfo = {
    target: disk.target,
    device: disk.device,
    path: disk.source,
    format: disk.format,
    virtualSize: 0,
    allocatedSize: 0,
    backingChain: [],
    readonly: disk.readonly,
    shareable: disk.shareable,
    backingReference: '',
  };
  if (disk.source === '' || disk.type === 'dir') return info;
  const name = `disk ${disk.target || '(no target)'}`;
  if (!(await exists(disk.source))) {
    if (REMOVABLE.has(disk.device)) return info;
    throw failedPrecondition(`${name}: ${disk.source} does not exist`);
  }
  // The format libvirt opens it with (its driver type; none means raw: libvirt does not probe), never probed here.
  const format = disk.format === '' ? 'raw' : disk.format;
  if (format !== 'qcow2' && format !== 'raw') throw failedPrecondition(`${name}: libvirt opens ${disk.source} as ${format}; kvmclone reads qcow2 and raw images only`);
  // A raw disk whose guest wrote a qcow2 header, or a qcow2 without one: described as neither.
  const content = await sniffFormat(disk.source);
  if (content !== format) throw failedPrecondition(`${name}: libvirt opens ${disk.source} as ${format}, but its content reads as ${content}`);
  let chain: QemuImageInfo[];
  try {
    chain = format === 'raw' ? [await qemuImgInfo(disk.source, signal, format)] : await qemuImgChain(disk.source, signal, { format });
  } catch (err) {
    if (err instanceof CommandError) throw failedPrecondition(`${name}: qemu-img cannot read ${disk.source}: ${err.stderr}`);
    throw err;
  }
  const [top, ...backing] = chain;
  if (!top) throw failedPrecondition(`${name}: qemu-img described nothing for ${disk.source}`);
  return {
    ...info,
    format: top.format,
    virtualSize: top.virtualSize,
    allocatedSize: top.allocatedSize,
    backingReference: top.backingReference,
    backingChain: backing.map((b) => ({
      path: b.path,
      format: b.format,
      virtualSize: b.virtualSize,
      allocatedSize: b.allocatedSize,
      backingReference: b.backingReference,
    })),
  };
}

/** The swtpm state directory of an emulated TPM, or ''. */
function tpmStatePath(facts: DomainFacts, uuid: string, swtpmRoot: string): string {
  if (facts.tpm?.backend !== 'emulator') return '';
  return facts.tpm.statePath || `${swtpmRoot}/${uuid}`;
}

async function describeDomain(deps: DomainServiceDeps, name: string, signal: AbortSignal): Promise<DescribeDomainResponse> {
  const record = await deps.libvirt.getDomain(name, { signal });
  const xml = await deps.libvirt.getDomainXml(name, { signal });
  const facts = readDomainFacts(xml);
  const disks: DiskInfo[] = [];
  for (const disk of facts.disks) {
    // Reading a disk's header is I/O on a file the error would not name: say which disk could not be read.
    disks.push(
      await describeDisk(disk, signal).catch((err: unknown) => {
        throw withErrnoPath(err, disk.source);
      }),
    );
  }
  const tpmDir = tpmStatePath(facts, record.uuid, deps.swtpmStateRoot ?? DEFAULT_SWTPM_STATE_ROOT);
  return {
    domain: toSummary(record),
    xml,
    disks,
    nvramPath: facts.nvramPath,
    tpmStatePath: tpmDir,
    tpmStateFiles: await tpmStateFiles(deps.roots, tpmDir),
    tpmSecret: facts.tpm?.secret ?? '',
    cpuMode: facts.cpuMode,
    cpuModel: facts.cpuModel,
    policyViolations: definitionRefusals(xml),
  };
}

/** The state a running domain needs for an action; FAILED_PRECONDITION in words otherwise. */
async function requireState(deps: DomainServiceDeps, name: string, signal: AbortSignal, wanted: 'shutoff' | 'active', action: string): Promise<DomainRecord> {
  const record = await deps.libvirt.getDomain(name, { signal });
  if (wanted === 'active' && record.state === 'shutoff') throw failedPrecondition(`cannot ${action} domain '${name}': it is already shut off`);
  if (wanted === 'shutoff' && record.state !== 'shutoff') throw failedPrecondition(`cannot ${action} domain '${name}': it is ${record.state}, not shut off`);
  return record;
}

/**
 * ShutdownDomain: asks the guest to power off (ACPI); with wait_seconds,
 * polls until it is shut off, and fails with DEADLINE_EXCEEDED when the time
 * passes (the request stands; the guest keeps running). Cancel and the call
 * deadline end the wait early.
 */
async function shutdownDomain(deps: DomainServiceDeps, request: ShutdownDomainRequest__Output, signal: AbortSignal): Promise<DomainRecord> {
  const name = checkVmName(request.name);
  const wait = request.waitSeconds;
  if (wait > MAX_SHUTDOWN_WAIT_SECONDS) throw invalidArgument(`wait_seconds: ${wait} is more than ${MAX_SHUTDOWN_WAIT_SECONDS}`);
  const before = await requireState(deps, name, signal, 'active', 'shut down');
  let record = await deps.libvirt.shutdownDomain(name, { signal });
  const deadline = Date.now() + wait * 1000;
  while (wait > 0 && record.state !== 'shutoff') {
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new KvmcloneError(
        'DEADLINE_EXCEEDED',
        `domain '${name}' did not power off within ${wait} s and is ${record.state}; the shutdown request stands (DestroyDomain powers it off at once)`,
      );
    }
    await sleep(Math.min(SHUTDOWN_POLL_MS, left), undefined, { signal });
    record = await deps.libvirt.getDomain(name, { signal }).catch((err: unknown) => {
      // a transient domain is gone once it is off
      if (!before.persistent && err instanceof KvmcloneError && err.code === 'NOT_FOUND') return { ...before, state: 'shutoff' as const };
      throw err;
    });
  }
  return record;
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

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

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
async function undefineDomain(deps: DomainServiceDeps, request: UndefineDomainRequest__Output, ctx: CallContext): Promise<string[]> {
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

/** Builds the DomainService handlers. */
export function createDomainService(deps: DomainServiceDeps): DomainServiceHandlers {
  const { rpc, libvirt } = deps;
  return {
    ListDomains: unary('DomainService/ListDomains', rpc, async (_request, ctx) => ({
      domains: (await libvirt.listDomains({ signal: ctx.signal })).map(toSummary),
    })),
    // every handler is async: a synchronous throw would escape unary()'s promise chain
    DescribeDomain: unary('DomainService/DescribeDomain', rpc, async (request, ctx) => describeDomain(deps, checkVmName(request.name), ctx.signal)),
    DescribeSecret: unary('DomainService/DescribeSecret', rpc, async (request, ctx) => {
      if (typeof request.uuid !== 'string' || !UUID_PATTERN.test(request.uuid)) throw invalidArgument('uuid: not a UUID');
      const usage = await libvirt.secretUsage(request.uuid.toLowerCase(), { signal: ctx.signal });
      return { defined: usage !== undefined, usageType: usage ?? '' };
    }),
    DefineDomain: unary('DomainService/DefineDomain', rpc, async (request, ctx) => ({ domain: toSummary(await defineDomain(deps, request.xml, request.operationId, ctx)) })),
    StartDomain: unary('DomainService/StartDomain', rpc, async (request, ctx) => {
      const name = checkVmName(request.name);
      deps.locks?.requireFree(name, request.operationId, 'start');
      await requireState(deps, name, ctx.signal, 'shutoff', 'start');
      return { domain: toSummary(await libvirt.startDomain(name, { signal: ctx.signal, paused: request.paused })) };
    }),
    ResumeDomain: unary('DomainService/ResumeDomain', rpc, async (request, ctx) => {
      const name = checkVmName(request.name);
      deps.locks?.requireFree(name, request.operationId, 'resume');
      const record = await deps.libvirt.getDomain(name, { signal: ctx.signal });
      if (record.state !== 'paused') throw failedPrecondition(`cannot resume domain '${name}': it is ${record.state}, not paused`);
      return { domain: toSummary(await libvirt.resumeDomain(name, { signal: ctx.signal })) };
    }),
    ShutdownDomain: unary('DomainService/ShutdownDomain', rpc, async (request, ctx) => ({ domain: toSummary(await shutdownDomain(deps, request, ctx.signal)) })),
    DestroyDomain: unary('DomainService/DestroyDomain', rpc, async (request, ctx) => {
      const name = checkVmName(request.name);
      await requireState(deps, name, ctx.signal, 'active', 'destroy');
      return { domain: toSummary(await libvirt.destroyDomain(name, { signal: ctx.signal })) };
    }),
    UndefineDomain: unary('DomainService/UndefineDomain', rpc, async (request, ctx) => ({ removedPaths: await undefineDomain(deps, request, ctx) })),
  };
}
