/**
 * The host as LibvirtAdapter describes it (HostRecord): what virsh says of
 * versions, host and domain capabilities (cached: they change only when
 * libvirtd or the host does) and memory, read into one record.
 */
import type { NodeInfo } from '@unraid/libvirt';
import { parseXml } from '../../shared/xml/parse-xml.js';
import { attr, child, childrenNamed, textContent } from '../../shared/xml/xml-tree.js';
import type { HostRecord, PortCallOptions } from './libvirt-port.js';
import type { VirshRunner } from './virsh-runner.js';

/** How long libvirt's versions and capabilities are reused by hostFacts. */
const STATIC_FACTS_MS = 60_000;

/** virsh's `version --daemon`, `capabilities` and `domcapabilities` ('' where the driver has none). */
export type StaticFacts = [string, string, string];

/**
 * Versions, host and domain capabilities: three virsh runs (~50–90 ms on
 * the testbed) whose answers change only when libvirtd or the host does,
 * kept for STATIC_FACTS_MS so every operation's GetInfo does not pay them.
 */
export class StaticFactsCache {
  private cachedFacts: { at: number; value: Promise<StaticFacts> } | undefined;

  constructor(private readonly virsh: VirshRunner) {}

  get(options?: PortCallOptions): Promise<StaticFacts> {
    const now = Date.now();
    if (this.cachedFacts === undefined || now - this.cachedFacts.at > STATIC_FACTS_MS) {
      const value = Promise.all([
        this.virsh.run('read versions', ['version', '--daemon'], options),
        this.virsh.run('read host capabilities', ['capabilities'], options),
        // Which named CPU models a guest can be given here (for the clone's CPU preflight).
        this.virsh.run('read domain capabilities', ['domcapabilities'], options).catch((err: unknown) => {
          if (err instanceof Error && /not supported|unsupported/i.test(err.message)) return '';
          throw err;
        }),
      ]);
      const entry = { at: now, value };
      this.cachedFacts = entry;
      // A failure is not kept: the next call asks again.
      value.catch(() => {
        if (this.cachedFacts === entry) this.cachedFacts = undefined;
      });
    }
    return this.cachedFacts.value;
  }
}

/**
 * The HostRecord from the binding's hostname and node info, the static facts,
 * and virsh `nodememstats` ('' for a driver without memory statistics).
 */
export function hostRecord(node: { hostname: string; info: NodeInfo }, [version, capabilities, domcaps]: StaticFacts, memory: string): HostRecord {
  const customMode = domcaps ? childrenNamed(child(parseXml(domcaps, 'virsh domcapabilities'), 'cpu'), 'mode').find((m) => attr(m, 'name') === 'custom') : undefined;
  const usableCpuModels = childrenNamed(customMode, 'model')
    .filter((m) => attr(m, 'usable') === 'yes')
    .map((m) => textContent(m).trim());
  const caps = parseXml(capabilities, 'virsh capabilities');
  const kvm = childrenNamed(caps, 'guest').some((g) => childrenNamed(child(g, 'arch'), 'domain').some((d) => attr(d, 'type') === 'kvm'));
  const cpu = child(child(caps, 'host'), 'cpu');
  const kib = (key: string): number => Number(/^(\S+)\s*:\s*(\d+) KiB$/m.exec(memory.split('\n').find((l) => l.startsWith(key)) ?? '')?.[2] ?? 0) * 1024;
  return {
    hostname: node.hostname,
    arch: textContent(child(cpu, 'arch')).trim(),
    cpuModel: textContent(child(cpu, 'model')).trim(),
    cpuFeatures: childrenNamed(cpu, 'feature').map((f) => attr(f, 'name')),
    cpus: node.info.cpus,
    // virNodeGetMemoryStats reads MemTotal/MemFree; virNodeGetInfo can count NUMA node 0 only
    memoryBytes: kib('total') || node.info.memory * 1024,
    freeMemoryBytes: kib('free'),
    libvirtVersion: /^Running against daemon: (\S+)/m.exec(version)?.[1] ?? /^Using library: libvirt (\S+)/m.exec(version)?.[1] ?? '',
    qemuVersion: /^Running hypervisor: QEMU (\S+)/m.exec(version)?.[1] ?? '',
    usableCpuModels,
    kvm,
  };
}
