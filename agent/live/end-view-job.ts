/**
 * Ending a live view's backup job when the view closes. libvirtd may be
 * restarting at that very moment (a package upgrade, `systemctl restart
 * libvirtd`): the job survives the restart, so giving up on the first
 * "libvirtd is unreachable" would leave it — and its growing scratch files —
 * on the running guest until the next live view or agent start. So an
 * unreachable libvirtd is waited for, within a bound; any other failure is
 * reported at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { KvmcloneError } from '../../shared/errors.js';
import type { LibvirtLivePort } from '../libvirt/libvirt-port.js';

/** How long a closing view waits for libvirtd to come back, and how often it tries. */
export const END_JOB_UNAVAILABLE_MS = 60_000;
const END_JOB_RETRY_MS = 1_000;

/**
 * Ends `vm`'s backup job (abortJob), retrying while libvirtd is unreachable
 * (UNAVAILABLE) for up to `withinMs`; resolves with abortJob's answer, throws
 * its last error otherwise.
 */
export async function endViewJob(libvirt: Pick<LibvirtLivePort, 'abortJob'>, vm: string, withinMs = END_JOB_UNAVAILABLE_MS, retryMs = END_JOB_RETRY_MS): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      return await libvirt.abortJob(vm);
    } catch (err) {
      if (!(err instanceof KvmcloneError && err.code === 'UNAVAILABLE') || Date.now() + retryMs > deadline) throw err;
      await sleep(retryMs);
    }
  }
}
