/**
 * Clone preflight: everything that can refuse the clone is checked here,
 * before any byte is written on either host — VM state, name, disks, CPU,
 * memory, target paths and free space. A refusal says what to change.
 */
import { domainStateName } from '../domain-state.js';
import { alreadyExists, failedPrecondition, KvmcloneError, permissionDenied, resourceExhausted } from '../../../shared/errors.js';
import type { DescribeDomainResponse__Output } from '../../../shared/generated/kvmclone/agent/v1/DescribeDomainResponse.js';
import type { HostSession } from '../../transport/host-session.js';
import { formatBytes } from '../../cli/reporter.js';
import { planFiles, spaceNeeded, type PlannedFile } from './clone-plan.js';
import { checkCpuCompatibility } from './cpu-compat.js';
import { domainType } from './domain-xml-read.js';
import { planTpmState, requireTpmState } from './tpm-plan.js';
import { randomUUID } from 'node:crypto';

/** The domain part of DescribeDomain's answer. */
type DomainInfo = NonNullable<DescribeDomainResponse__Output['domain']>;

/** What the user asked for. */
export interface CloneRequest {
  vm: string;
  from: string;
  to: string;
  destVm: string;
  targetDir?: string;
  start: boolean;
  dryRun: boolean;
  /** --live: a running source is copied from a point-in-time view (a shut-off one as usual). */
  live?: LiveOptions;
  /** The clone's network interfaces are defined with their link down (a test failover's throw-away VM). */
  linkDown?: boolean;
  /** --flatten: each disk becomes one standalone image, its backing chain merged (read through a view of the source). */
  flatten?: boolean;
}

/** --live and its settings. */
export interface LiveOptions {
  quiesce: 'try' | 'require' | 'off';
  /** Changed-block tracking: make a checkpoint with each view (--cbt=on). */
  cbt: boolean;
}

/** What preflight established: the source definition, the file plan and the space figures. */
export interface CloneFacts {
  source: DescribeDomainResponse__Output;
  /** The source runs and is copied from a point-in-time view. */
  live: boolean;
  files: PlannedFile[];
  space: { dir: string; availableBytes: number; neededBytes: number }[];
  warnings: string[];
  /** The clone's UUID, chosen before the copy: its TPM state directory is named after it. */
  uuid: string;
  /** The TPM state directory the clone's definition names, when the source's names one. */
  tpmStatePath?: string;
}

async function exists(session: HostSession, path: string, signal: AbortSignal): Promise<boolean> {
  try {
    await session.call(session.clients.disk, session.clients.disk.statImage, { path }, signal);
    return true;
  } catch (err) {
    if (err instanceof KvmcloneError && err.code === 'NOT_FOUND') return false;
    if (err instanceof KvmcloneError && err.code === 'PERMISSION_DENIED') {
      throw permissionDenied(`${session.host}: ${path} is outside the agent's image roots there (${session.info.imageRoots.join(', ')}); choose --target-dir under one of them`);
    }
    throw err;
  }
}

/**
 * Refuses (before any byte moves) a source whose definition holds what an
 * agent's domain policy never defines — host device passthrough, a network
 * script, confinement turned off — naming each element, as DescribeDomain
 * listed them. Shared by clone and sync.
 */
export function refuseByPolicy(source: DescribeDomainResponse__Output, vm: string, host: string, verb: string): void {
  const violations = source.policyViolations ?? [];
  if (violations.length === 0) return;
  throw failedPrecondition(
    `${vm} on ${host} cannot be ${verb}: its definition has what kvmclone never defines on a host (${violations.join('; ')}); remove it from ${vm}'s definition first`,
  );
}

/** The source's definition, refused unless it is shut off, or running (or paused) with --live. */
async function describeSource(req: CloneRequest, src: HostSession, signal: AbortSignal): Promise<{ source: DescribeDomainResponse__Output; domain: DomainInfo; live: boolean }> {
  const source = await src.call(src.clients.domain, src.clients.domain.describeDomain, { name: req.vm }, signal);
  const domain = source.domain;
  if (!domain) throw new KvmcloneError('INTERNAL', `${src.host}: DescribeDomain returned no domain`);
  const running = domain.state === 'DOMAIN_STATE_RUNNING' || domain.state === 'DOMAIN_STATE_PAUSED';
  if (domain.state !== 'DOMAIN_STATE_SHUTOFF' && !(running && req.live)) {
    throw failedPrecondition(
      running
        ? `${req.vm} on ${src.host} is ${domainStateName(domain.state)}: pass --live to copy it from a point-in-time view while it runs, or shut it down first`
        : `${req.vm} on ${src.host} is ${domainStateName(domain.state)}: it must be running (with --live) or shut off`,
    );
  }
  return { source, domain, live: running && req.live !== undefined };
}

/** Only file-backed disks can be copied; a shareable disk or a removable medium that stays behind is worth a warning. */
function checkDisks(source: DescribeDomainResponse__Output, req: CloneRequest, src: HostSession, dst: HostSession, warnings: string[]): void {
  for (const disk of source.disks) {
    if (disk.path.startsWith('/dev/')) throw failedPrecondition(`disk ${disk.target} of ${req.vm} is a block device (${disk.path}); only file-backed disks can be cloned`);
    if (disk.shareable) warnings.push(`disk ${disk.target} is shareable: the clone gets its own copy`);
    if ((disk.device === 'cdrom' || disk.device === 'floppy') && disk.path !== '' && src.host !== dst.host) {
      warnings.push(`${disk.device} ${disk.target} keeps ${disk.path}: make sure it exists on ${dst.host}`);
    }
  }
}

/** UEFI variables are read and written by the agents: the NVRAM file must be under both hosts' image roots. */
function checkNvramRoots(source: DescribeDomainResponse__Output, req: CloneRequest, src: HostSession, dst: HostSession): void {
  if (source.nvramPath === '') return;
  const under = (path: string, roots: readonly string[]): boolean => roots.some((r) => path === r || path.startsWith(`${r}/`));
  const nvramDir = source.nvramPath.slice(0, source.nvramPath.lastIndexOf('/'));
  for (const [session, label] of [
    [src, 'source'],
    [dst, 'destination'],
  ] as const) {
    if (!under(source.nvramPath, session.info.imageRoots)) {
      throw failedPrecondition(
        `${req.vm} has UEFI variables in ${source.nvramPath}, outside the image roots of the ${label} agent on ${session.host} (${session.info.imageRoots.join(', ')}); add ${nvramDir} to image_roots in its agent.yaml`,
      );
    }
  }
}

/** The clone's name must be free on the destination. */
async function checkNameFree(req: CloneRequest, dst: HostSession, signal: AbortSignal): Promise<void> {
  const { domains } = await dst.call(dst.clients.domain, dst.clients.domain.listDomains, {}, signal);
  if (domains.some((d) => d.name === req.destVm)) throw alreadyExists(`${dst.host} already has a VM named ${req.destVm}; pick another with --name`);
}

/** The destination must have the memory and CPUs the VM is defined with; returns the CPU compatibility warnings. */
function checkHostCapacity(source: DescribeDomainResponse__Output, domain: DomainInfo, req: CloneRequest, src: HostSession, dst: HostSession): string[] {
  const host = dst.info.host;
  const srcHost = src.info.host;
  if (!host || !srcHost) throw new KvmcloneError('INTERNAL', 'an agent sent no host facts');
  if (domain.memoryBytes > host.memoryBytes) {
    throw failedPrecondition(`${req.vm} needs ${formatBytes(domain.memoryBytes)} of memory; ${dst.host} has ${formatBytes(host.memoryBytes)} in all`);
  }
  if (domain.vcpus > host.cpus) throw failedPrecondition(`${req.vm} has ${domain.vcpus} vCPUs; ${dst.host} has ${host.cpus} CPUs`);
  return checkCpuCompatibility({ mode: source.cpuMode, model: source.cpuModel, domainType: domainType(source.xml) }, srcHost, host, dst.host);
}

/** The disk and NVRAM files to copy; `merged` (a view: live, or --flatten) copies each disk as one standalone image. */
function planDiskFiles(source: DescribeDomainResponse__Output, req: CloneRequest, src: HostSession, dst: HostSession, merged: boolean): PlannedFile[] {
  return planFiles({
    vm: req.vm,
    destVm: req.destVm,
    sameHost: src.host === dst.host,
    targetDir: req.targetDir,
    // A view (live, or --flatten) is the guest's view of each disk: its copy is one standalone image, the chain merged.
    disks: source.disks.map((d) => ({
      target: d.target,
      device: d.device,
      path: d.path,
      format: d.format,
      virtualSize: d.virtualSize,
      allocatedSize: merged ? d.allocatedSize + d.backingChain.reduce((n, b) => n + b.allocatedSize, 0) : d.allocatedSize,
      backingReference: merged ? '' : d.backingReference,
      backingChain: merged ? [] : d.backingChain,
    })),
    nvramPath: source.nvramPath,
  });
}

/** The TPM state to copy under the clone's new UUID, refused while the destination lacks what it needs (swtpm, the secret). */
async function planTpm(
  source: DescribeDomainResponse__Output,
  req: CloneRequest,
  src: HostSession,
  dst: HostSession,
  uuid: string,
  signal: AbortSignal,
): Promise<ReturnType<typeof planTpmState>> {
  if (source.tpmStatePath !== '') requireTpmState([src, dst], req.vm);
  const destSecret = source.tpmSecret === '' ? undefined : await dst.call(dst.clients.domain, dst.clients.domain.describeSecret, { uuid: source.tpmSecret }, signal);
  return planTpmState(source, {
    vm: req.vm,
    destVm: req.destVm,
    uuid,
    from: { host: src.host, imageRoots: src.info.imageRoots },
    to: { host: dst.host, imageRoots: dst.info.imageRoots },
    ...(destSecret && { destSecret }),
  });
}

/**
 * No target path may exist on the destination, except a backing file
 * identical to the source's (by digest): that one is reused, not copied.
 */
async function checkTargets(files: PlannedFile[], src: HostSession, dst: HostSession, signal: AbortSignal): Promise<void> {
  for (const file of files) {
    if (file.action !== 'copy') continue;
    if (!(await exists(dst, file.targetPath, signal))) continue;
    if (file.role === 'backing') {
      const [mine, theirs] = await Promise.all([
        src.call(src.clients.disk, src.clients.disk.digestImage, { path: file.sourcePath }, signal),
        dst.call(dst.clients.disk, dst.clients.disk.digestImage, { path: file.targetPath }, signal),
      ]);
      if (mine.digest === theirs.digest) {
        file.action = 'reuse';
        continue;
      }
      throw alreadyExists(`${dst.host}: ${file.targetPath} exists and differs from the backing file ${file.sourcePath}; use --target-dir`);
    }
    throw alreadyExists(`${dst.host}: ${file.targetPath} already exists; use --name or --target-dir`);
  }
}

/** Each target directory must exist and have room for what goes there; returns the figures for the plan. */
async function checkFreeSpace(files: PlannedFile[], dst: HostSession, signal: AbortSignal): Promise<CloneFacts['space']> {
  const space: CloneFacts['space'] = [];
  // TPM state is a few KiB, in a directory made during the copy (under the clone's new UUID).
  for (const [dir, neededBytes] of spaceNeeded(files.filter((f) => f.role !== 'tpm'))) {
    const free = await dst.call(dst.clients.storage, dst.clients.storage.getFreeSpace, { path: dir }, signal);
    if (free.path !== dir) throw failedPrecondition(`${dst.host}: the target directory ${dir} does not exist`);
    space.push({ dir, availableBytes: free.availableBytes, neededBytes });
    if (free.availableBytes < neededBytes) {
      throw resourceExhausted(
        `${dst.host}: ${dir} has ${formatBytes(free.availableBytes)} free; the clone needs ${formatBytes(neededBytes)} (allocated size of the disks plus 15 %)`,
      );
    }
  }
  return space;
}

/** Runs every check; throws the first refusal. */
export async function preflightClone(req: CloneRequest, src: HostSession, dst: HostSession, signal: AbortSignal): Promise<CloneFacts> {
  const warnings: string[] = [];
  const { source, domain, live } = await describeSource(req, src, signal);
  refuseByPolicy(source, req.vm, src.host, 'cloned');
  checkDisks(source, req, src, dst, warnings);
  checkNvramRoots(source, req, src, dst);
  await checkNameFree(req, dst, signal);
  warnings.push(...checkHostCapacity(source, domain, req, src, dst));

  const files = planDiskFiles(source, req, src, dst, live || req.flatten === true);
  const uuid = randomUUID();
  const tpm = await planTpm(source, req, src, dst, uuid, signal);
  files.push(...tpm.files);
  warnings.push(...tpm.warnings);

  await checkTargets(files, src, dst, signal);
  const space = await checkFreeSpace(files, dst, signal);
  if (live && req.flatten !== true && source.disks.some((d) => d.backingChain.length > 0))
    warnings.push('--live copies what the guest sees: each disk with a backing chain becomes one standalone image on the destination');
  return { source, live, files, space, warnings, uuid, ...(tpm.namedStatePath !== undefined && { tpmStatePath: tpm.namedStatePath }) };
}
