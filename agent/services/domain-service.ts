/**
 * DomainService: the libvirt control plane of one host — inventory, what a
 * VM's storage is made of, and lifecycle. Every name is checked before libvirt
 * sees it; a definition is admitted only if the domain policy allows it
 * (agent/libvirt/domain-policy.ts: an allow-list of elements, every host path
 * confined by kind) and every disk image's chain, read from its headers, stays
 * under the roots and agrees with the XML (agent/images/definition-chains.ts). DefineDomain and StartDomain respect the operation locks
 * (HoldLock), and storage removal never deletes a file another domain uses
 * (domain-removal.ts). ShutdownDomain's wait is in domain-shutdown.ts.
 */
import { KvmcloneError, failedPrecondition, invalidArgument } from '../../shared/errors.js';
import { checkVmName } from '../../shared/validation.js';
import type { DomainServiceHandlers } from '../../shared/generated/kvmclone/agent/v1/DomainService.js';
import type { DiskInfo } from '../../shared/generated/kvmclone/agent/v1/DiskInfo.js';
import type { DescribeDomainResponse } from '../../shared/generated/kvmclone/agent/v1/DescribeDomainResponse.js';
import { qemuImgChain, qemuImgInfo, type QemuImageInfo } from '../images/qemu-img.js';
import { sniffFormat } from '../images/image-header.js';
import { checkDefinitionChains } from '../images/definition-chains.js';
import { readDomainFacts, type DomainDisk } from '../libvirt/domain-xml.js';
import { checkDefinition, definitionRefusals } from '../libvirt/domain-policy.js';
import type { DomainRecord, LibvirtPort } from '../libvirt/libvirt-port.js';
import type { ImageRoots } from '../paths/image-roots.js';
import { tpmStateFiles } from '../libvirt/tpm-state-files.js';
import { CommandError } from '../process/run-command.js';
import { withErrnoPath } from '../disk/errno-path.js';
import { unary, type CallContext, type RpcDeps } from '../rpc/handlers.js';
import type { LockRegistry } from '../transfer/lock-registry.js';
import { DEFAULT_SWTPM_STATE_ROOT, REMOVABLE, UUID_PATTERN, tpmStatePath, undefineDomain } from './domain-removal.js';
import { exists } from '../paths/if-present.js';
import { shutdownDomain } from './domain-shutdown.js';
import { requireState, toSummary } from './domain-state.js';

/** Largest domain XML accepted by DefineDomain (real ones are a few KiB). */
export const MAX_DOMAIN_XML_BYTES = 1024 * 1024;

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
