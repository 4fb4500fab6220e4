/**
 * Storage pools for LibvirtAdapter, through virsh (the binding has no pool
 * calls). Pools are addressed by UUID: virsh takes a pool argument as a UUID
 * first, then as a name.
 */
import { byName } from './by-name.js';
import { KvmcloneError } from '../../shared/errors.js';
import { parseXml } from '../../shared/xml/parse-xml.js';
import { attr, child, textContent } from '../../shared/xml/xml-tree.js';
import type { PoolRecord, PortCallOptions } from './libvirt-port.js';
import type { VirshRunner } from './virsh-runner.js';

/** Every storage pool, by name; one that goes away while listing is left out. */
export async function listStoragePools(virsh: VirshRunner, options?: PortCallOptions): Promise<PoolRecord[]> {
  const uuids = (await virsh.run('list storage pools', ['pool-list', '--all', '--uuid'], options))
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const pools = await Promise.all(
    uuids.map((uuid) =>
      storagePool(virsh, uuid, options).catch((err: unknown) => {
        if (err instanceof KvmcloneError && err.code === 'NOT_FOUND') return undefined; // went away while listing
        throw err;
      }),
    ),
  );
  return pools.filter((p): p is PoolRecord => p !== undefined).sort(byName);
}

async function storagePool(virsh: VirshRunner, uuid: string, options?: PortCallOptions): Promise<PoolRecord> {
  const [xml, info] = await Promise.all([
    virsh.run(`describe storage pool ${uuid}`, ['pool-dumpxml', '--pool', uuid], options),
    virsh.run(`read storage pool ${uuid}`, ['pool-info', '--bytes', '--pool', uuid], options),
  ]);
  const root = parseXml(xml, `XML of storage pool ${uuid}`);
  const field = (label: string): string => new RegExp(`^${label}:\\s*(.*)$`, 'm').exec(info)?.[1]?.trim() ?? '';
  const bytes = (label: string): number => Number(/^\d+/.exec(field(label))?.[0] ?? 0);
  return {
    name: textContent(child(root, 'name')),
    uuid,
    type: attr(root, 'type'),
    path: textContent(child(child(root, 'target'), 'path')).trim(),
    active: field('State') === 'running',
    autostart: field('Autostart') === 'yes',
    capacityBytes: bytes('Capacity'),
    allocationBytes: bytes('Allocation'),
    availableBytes: bytes('Available'),
  };
}
