/**
 * A domain's state as DomainService answers and checks it: the port's state
 * names on the wire (DomainSummary), and the state an action requires.
 */
import { failedPrecondition } from '../../shared/errors.js';
import type { DomainSummary } from '../../shared/generated/kvmclone/agent/v1/DomainSummary.js';
import type { DomainState__Output } from '../../shared/generated/kvmclone/agent/v1/DomainState.js';
import type { DomainRecord, DomainStateName } from '../libvirt/libvirt-port.js';
import type { DomainServiceDeps } from './domain-service.js';

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

/** The state a running domain needs for an action; FAILED_PRECONDITION in words otherwise. */
export async function requireState(deps: DomainServiceDeps, name: string, signal: AbortSignal, wanted: 'shutoff' | 'active', action: string): Promise<DomainRecord> {
  const record = await deps.libvirt.getDomain(name, { signal });
  if (wanted === 'active' && record.state === 'shutoff') throw failedPrecondition(`cannot ${action} domain '${name}': it is already shut off`);
  if (wanted === 'shutoff' && record.state !== 'shutoff') throw failedPrecondition(`cannot ${action} domain '${name}': it is ${record.state}, not shut off`);
  return record;
}
