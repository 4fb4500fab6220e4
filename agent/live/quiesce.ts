/**
 * Quiesce: the guest's filesystems frozen just around the start of a backup
 * job, so the point in time is filesystem-consistent rather than
 * crash-consistent. libvirt 9.0's backup API has no quiesce flag, so it is
 * freeze → begin → thaw, the thaw in a `finally`; both are bounded by a
 * timeout because a guest agent that stops answering would otherwise leave
 * the guest frozen (ARCHITECTURE, "Running VMs").
 */
import type { Logger } from 'pino';
import { failedPrecondition, KvmcloneError } from '../../shared/errors.js';
import type { LibvirtLivePort, LibvirtPort } from '../libvirt/libvirt-port.js';

/** try: freeze when the guest agent answers; require: or fail; off: never. */
export type QuiesceMode = 'try' | 'require' | 'off';

/** What the view's consistency turned out to be. */
export type Consistency = 'filesystem' | 'crash';

/**
 * Runs `start` with the guest frozen when `mode` allows and the guest agent
 * answers; thaws in a `finally`. Resolves with the consistency reached.
 */
export async function quiescedStart<T>(
  libvirt: LibvirtPort & LibvirtLivePort,
  vm: string,
  mode: QuiesceMode,
  timeoutMs: number,
  log: Logger,
  start: () => Promise<T>,
): Promise<{ consistency: Consistency; plan: T }> {
  if (mode === 'off') return { consistency: 'crash', plan: await start() };
  let frozen = false;
  try {
    await libvirt.fsFreeze(vm, timeoutMs);
    frozen = true;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    if (mode === 'require') throw failedPrecondition(`${vm}: its filesystems could not be frozen (${why}); install and start qemu-guest-agent in the guest, or use --quiesce=try`);
    log.info({ vm, reason: why }, 'guest filesystems not frozen: the view is crash-consistent');
    // A freeze that timed out may still happen later: thaw to be sure (a thaw of a thawed guest is harmless).
    if (err instanceof KvmcloneError && err.code === 'DEADLINE_EXCEEDED') await libvirt.fsThaw(vm, timeoutMs).catch(() => undefined);
  }
  try {
    return { consistency: frozen ? 'filesystem' : 'crash', plan: await start() };
  } finally {
    if (frozen) {
      try {
        await libvirt.fsThaw(vm, timeoutMs);
      } catch (err) {
        log.error({ vm, err }, 'could not thaw the guest filesystems after the backup started: thaw them by hand (virsh domfsthaw)');
      }
    }
  }
}
