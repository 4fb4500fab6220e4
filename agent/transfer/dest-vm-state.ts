/**
 * The destination VM check of in-place pulls and restores: an image named
 * as a VM's disk is rewritten only while that VM is shut off, asked of
 * libvirt right before each step that would change it.
 */
import type { PullImageRequest__Output } from '../../shared/generated/kvmclone/agent/v1/PullImageRequest.js';
import { failedPrecondition, KvmcloneError } from '../../shared/errors.js';
import type { LibvirtPort } from '../libvirt/libvirt-port.js';

/** FAILED_PRECONDITION unless `req.dest_vm` (when named) is shut off (in-place pulls, and restores: restore-points.ts). */
export async function requireDestShutOff(
  req: Pick<PullImageRequest__Output, 'destVm' | 'targetPath'>,
  deps: { libvirt?: Pick<LibvirtPort, 'getDomain'> },
  signal: AbortSignal,
  when: string,
): Promise<void> {
  const vm = req.destVm ?? '';
  if (vm === '') return;
  if (deps.libvirt === undefined) throw failedPrecondition(`dest_vm: this agent cannot check the state of domain '${vm}' here; the sync was not applied`);
  const record = await deps.libvirt.getDomain(vm, { signal }).catch((err: unknown) => {
    if (err instanceof KvmcloneError && err.code === 'NOT_FOUND') throw failedPrecondition(`dest_vm: there is no domain '${vm}' on this host; the sync was not applied`);
    throw err;
  });
  if (record.state !== 'shutoff') {
    throw failedPrecondition(
      `domain '${vm}' is ${record.state} ${when}: its disk ${req.targetPath} is not rewritten under a running VM; the sync was not applied (shut it down and sync again)`,
    );
  }
}
