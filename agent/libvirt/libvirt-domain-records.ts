/**
 * DomainRecords from the binding's Domain objects, for LibvirtAdapter: state
 * names, vCPUs and memory from virDomainGetInfo, and persistence, which the
 * binding only tells by listing domains.
 */
import { ConnectListAllDomainsFlags, DomainState, type Domain, type Hypervisor } from '@unraid/libvirt';
import type { DomainRecord, DomainStateName } from './libvirt-port.js';

const STATE_NAMES: Readonly<Record<number, DomainStateName>> = {
  [DomainState.NOSTATE]: 'nostate',
  [DomainState.RUNNING]: 'running',
  [DomainState.BLOCKED]: 'blocked',
  [DomainState.PAUSED]: 'paused',
  [DomainState.SHUTDOWN]: 'shutdown',
  [DomainState.SHUTOFF]: 'shutoff',
  [DomainState.CRASHED]: 'crashed',
  [DomainState.PMSUSPENDED]: 'pmsuspended',
};

/** The UUIDs of the domains libvirt lists with `flags` (persistence is known only this way). */
export async function domainUuids(h: Hypervisor, flags: ConnectListAllDomainsFlags): Promise<Set<string>> {
  const domains = await h.connectListAllDomains(flags);
  return new Set(await Promise.all(domains.map((d) => d.getUUIDString())));
}

/** The record of `domain`; `persistent` answers for its UUID and state (from a list already read, or by asking). */
export async function domainRecord(domain: Domain, persistent: (uuid: string, state: DomainStateName) => Promise<boolean>): Promise<DomainRecord> {
  const [name, uuid, info] = await Promise.all([domain.getName(), domain.getUUIDString(), domain.getInfo()]);
  const state = STATE_NAMES[info.state] ?? 'nostate';
  return { name, uuid, state, persistent: await persistent(uuid, state), vcpus: info.nrVirtCpu, memoryBytes: info.maxMem * 1024 };
}

/** Persistence of one domain: an inactive domain always is; an active one if libvirt lists it as persistent. */
export function persistence(h: Hypervisor): (uuid: string, state: DomainStateName) => Promise<boolean> {
  return async (uuid, state) => state === 'shutoff' || (await domainUuids(h, ConnectListAllDomainsFlags.ACTIVE | ConnectListAllDomainsFlags.PERSISTENT)).has(uuid);
}

/** The record of the domain named `name`, as it is now (after a start, resume, shutdown or destroy). */
export function lookupDomainRecord(h: Hypervisor, name: string): Promise<DomainRecord> {
  return h.domainLookupByName(name).then((d) => domainRecord(d, persistence(h)));
}
