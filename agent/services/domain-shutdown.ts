/**
 * ShutdownDomain of DomainService (domain-service.ts): the ACPI power-off
 * request, and the wait for the guest to go off.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { KvmcloneError, invalidArgument } from '../../shared/errors.js';
import { checkVmName } from '../../shared/validation.js';
import type { ShutdownDomainRequest__Output } from '../../shared/generated/kvmclone/agent/v1/ShutdownDomainRequest.js';
import type { DomainRecord } from '../libvirt/libvirt-port.js';
import type { DomainServiceDeps } from './domain-service.js';
import { requireState } from './domain-state.js';

/** Longest ShutdownDomain wait accepted. */
export const MAX_SHUTDOWN_WAIT_SECONDS = 3600;
/** How often ShutdownDomain looks at the state while it waits. */
const SHUTDOWN_POLL_MS = 250;

/**
 * ShutdownDomain: asks the guest to power off (ACPI); with wait_seconds,
 * polls until it is shut off, and fails with DEADLINE_EXCEEDED when the time
 * passes (the request stands; the guest keeps running). Cancel and the call
 * deadline end the wait early.
 */
export async function shutdownDomain(deps: DomainServiceDeps, request: ShutdownDomainRequest__Output, signal: AbortSignal): Promise<DomainRecord> {
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
