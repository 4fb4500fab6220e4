/**
 * The DEFINE step of a sync: the destination's definition follows the
 * source's (memory, vCPUs, devices) while keeping its own name, UUID, MACs
 * and paths. Shared by the offline and the live sync.
 */
import type { DescribeDomainResponse__Output } from '../../../shared/generated/kvmclone/agent/v1/DescribeDomainResponse.js';
import type { HostSession } from '../../transport/host-session.js';
import { interfaceMacs } from '../clone/domain-xml-read.js';
import { randomMac, rewriteDomainXml } from '../clone/domain-xml-rewrite.js';
import { isStateFile, type SyncPair } from './sync-plan.js';

/** Redefines `destVm` on `dst` after `source`'s definition, as part of operation `names.operationId`. */
export async function defineFollowingSource(
  dst: HostSession,
  source: DescribeDomainResponse__Output,
  dest: DescribeDomainResponse__Output,
  pairs: readonly SyncPair[],
  names: { vm: string; destVm: string; operationId: string },
  signal: AbortSignal,
): Promise<void> {
  const destMacs = interfaceMacs(dest.xml);
  const diskPaths = new Map<string, string>(source.disks.filter((d) => d.path !== '').map((d) => [d.path, d.path]));
  for (const p of pairs) if (p.kind !== 'remove' && !isStateFile(p)) diskPaths.set(p.sourcePath, p.targetPath);
  const nvram = pairs.find((p) => p.label === 'nvram');
  const rewritten = rewriteDomainXml(source.xml, {
    name: names.destVm,
    sourceName: names.vm,
    uuid: dest.domain?.uuid ?? '',
    diskPaths,
    ...(nvram && { nvramPath: nvram.targetPath }),
    newMac: () => destMacs.shift() ?? randomMac(),
  });
  // The operation holds destVm's lock: the agent defines it only as part of this operation.
  await dst.call(dst.clients.domain, dst.clients.domain.defineDomain, { xml: rewritten.xml, operationId: names.operationId }, signal);
}
