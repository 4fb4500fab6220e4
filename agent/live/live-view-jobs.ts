/**
 * Backup jobs a live view meets or may leave behind: one of ours still on
 * the domain when a view opens (its agent was killed while libvirtd was
 * unreachable), and one whose begin the end of the call cut short. Jobs of
 * other tools are never touched. The agent's start ends the rest
 * (stale-jobs.ts).
 */
import type { Logger } from 'pino';
import { failedPrecondition } from '../../shared/errors.js';
import { endViewJob } from './end-view-job.js';
import type { LiveViewDeps } from './open-live-view.js';
import { isOwnBackupSocket } from './scratch-files.js';

/**
 * A backup job already on the domain: one of ours that no open view holds (an
 * agent killed while libvirtd was unreachable at its restart) is ended; any
 * other job is another tool's, and is left alone with a refusal.
 */
export async function endOwnStaleJob(deps: LiveViewDeps, vm: string, log: Logger, signal: AbortSignal): Promise<void> {
  const job = await deps.libvirt.backupJob(vm, { signal });
  if (job === undefined) return;
  const held = job.socket !== '' && deps.views.list().some((v) => v.socket === job.socket);
  if (!held && isOwnBackupSocket(deps.runtimeDir, job.socket)) {
    await deps.libvirt.abortJob(vm, { signal });
    log.warn({ vm, socket: job.socket }, 'ended a backup job of an earlier live view that nothing holds any more');
    return;
  }
  throw failedPrecondition(
    `${vm} already runs a backup job (${held ? 'another kvmclone operation copies it' : `not kvmclone's: NBD on ${job.socket || 'TCP'}`}); wait for it to end, or end it with virsh domjobabort`,
  );
}

/** How often, and how far apart, a begin cut short is looked for. */
const UNSEEN_JOB_LOOKS = 5;
const UNSEEN_JOB_LOOK_MS = 400;

/**
 * A backup-begin the call's end cut short (the SSH connection dropped while
 * `virsh backup-begin` ran: virsh is killed, libvirtd carries on) may still
 * start the job a moment later, serving on this operation's socket with no
 * view to end it. Looked for a few times; a job on this socket is ended (the
 * socket file then goes with the leftovers). Another tool's job is left alone.
 */
export async function endJobBegunUnseen(deps: LiveViewDeps, vm: string, socket: string, log: Logger): Promise<void> {
  for (let look = 0; look < UNSEEN_JOB_LOOKS; look += 1) {
    const job = await deps.libvirt.backupJob(vm).catch(() => undefined);
    if (job !== undefined) {
      if (job.socket !== socket) return;
      await endViewJob(deps.libvirt, vm).catch((err: unknown) =>
        log.error({ vm, err }, 'could not end a backup job whose begin was cut short; it is ended at the next agent start or live view'),
      );
      log.warn({ vm, socket }, 'ended a backup job whose begin the end of its call had cut short');
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, UNSEEN_JOB_LOOK_MS));
  }
}
