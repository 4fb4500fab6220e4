/**
 * Start-up clean-up of live views a killed agent left behind: the backup
 * jobs it began (found by their NBD socket, which only this agent names
 * that way — a job another tool began is never touched), then their scratch
 * files and sockets. Runs before the agent serves, so no operation can be
 * using them.
 */
import type { Logger } from 'pino';
import type { LibvirtLivePort, LibvirtPort } from '../libvirt/libvirt-port.js';
import { isOwnBackupSocket, removeLeftovers } from './scratch-files.js';

/** Ends kvmclone's leftover backup jobs and removes leftover files; never throws. */
export async function endStaleLiveViews(libvirt: LibvirtPort & LibvirtLivePort, runtimeDir: string, scratchDir: string, log: Logger): Promise<{ jobs: number; files: number }> {
  let jobs = 0;
  try {
    const signal = AbortSignal.timeout(15_000);
    for (const d of await libvirt.listDomains({ signal })) {
      if (d.state !== 'running' && d.state !== 'paused') continue;
      try {
        const job = await libvirt.backupJob(d.name, { signal });
        if (job === undefined || !isOwnBackupSocket(runtimeDir, job.socket)) continue;
        await libvirt.abortJob(d.name);
        jobs += 1;
        log.warn({ vm: d.name, socket: job.socket }, 'ended a backup job a previous run of the agent left behind');
      } catch (err) {
        log.error({ vm: d.name, err }, 'could not check or end a leftover backup job');
      }
    }
  } catch (err) {
    log.warn({ err }, 'libvirtd not reachable at start-up: leftover backup jobs (if any) are not ended');
  }
  const files = await removeLeftovers(scratchDir, runtimeDir, new Set(), log).catch(() => 0);
  return { jobs, files };
}
