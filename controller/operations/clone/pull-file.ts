/**
 * One PullImage call, watched: the destination agent pulls a file over the
 * brokered path while the controller reports its progress, puts the staging
 * file it names on the revert stack, and gives up on a pull that stops
 * moving (timeouts.no_progress). Used by clone, sync and live sync.
 */
import { KvmcloneError } from '../../../shared/errors.js';
import { fromStatus } from '../../../shared/from-status.js';
import type { PullProgress__Output } from '../../../shared/generated/kvmclone/agent/v1/PullProgress.js';
import type { RevertStack } from '../../../shared/revert-stack.js';
import type { Reporter } from '../../cli/reporter.js';
import { formatBytes } from '../../cli/reporter.js';
import type { HostSession } from '../../transport/host-session.js';
import type { PlannedFile } from './clone-plan.js';
import { noProgressWatchdog } from './no-progress-watchdog.js';
import { registerStagingRemoval } from './staging-removal.js';
import type { TransferSettings } from './transfer-files.js';

/** The PullImage request: the caller's fields, and the transfer settings that are not their defaults. */
function pullRequest(request: Record<string, unknown>, settings: Pick<TransferSettings, 'rateLimit' | 'compress' | 'streams'>): Record<string, unknown> {
  return {
    ...request,
    ...(settings.rateLimit !== undefined && settings.rateLimit > 0 && { rateLimit: settings.rateLimit }),
    ...(settings.compress !== undefined && settings.compress !== 'COMPRESS_OFF' && { compress: settings.compress }),
    ...(settings.streams !== undefined && settings.streams > 1 && { streams: settings.streams }),
  };
}

/** The failure of a pull the watchdog gave up on: which file, where, and the byte it stalled at. */
function stalled(file: Pick<PlannedFile, 'label' | 'targetPath'>, host: string, last: PullProgress__Output | undefined, noProgressMs: number): KvmcloneError {
  const at = last === undefined ? 'before its first byte' : `at byte ${last.bytesDone} of ${last.bytesTotal}${last.phase === 'apply' ? ' (applying)' : ''}`;
  return new KvmcloneError('DEADLINE_EXCEEDED', `${file.label} (${file.targetPath} on ${host}) stalled ${at}: no progress for ${Math.round(noProgressMs / 1000)} s; giving up`);
}

/**
 * What a pull's progress event tells beyond its bytes: the staging file it
 * names (put on the revert stack at once), a sync journal an earlier attempt
 * left, the start of an in-place apply. `last` is the event before it.
 */
function announce(
  event: PullProgress__Output,
  last: PullProgress__Output | undefined,
  dst: HostSession,
  file: Pick<PlannedFile, 'label' | 'targetPath'>,
  reporter: Reporter,
  revert: RevertStack,
  onStaging?: (stagingId: string, stagingPath: string) => void,
): void {
  if (last === undefined && event.stagingId !== '') {
    registerStagingRemoval(revert, dst, file.targetPath, event.stagingId, event.stagingPath);
    onStaging?.(event.stagingId, event.stagingPath);
  }
  // An in-place pull retried after a dropped connection continues the journal its first attempt left on the destination.
  if (last === undefined && event.stagingId === '' && event.phase === 'transfer' && event.bytesDone > 0) {
    reporter.info(`  ${file.label}: resuming the sync journal on ${dst.host}: ${formatBytes(event.bytesDone)} of ${formatBytes(event.bytesTotal)} already there`);
  }
  if (event.phase === 'apply' && last?.phase !== 'apply') reporter.info(`  ${file.label}: journal complete on ${dst.host}, applying it in place`);
}

/**
 * Pulls one file (any PullImage mode), reporting progress under `file.label`;
 * a staging file is put on the revert stack as soon as the agent names it.
 * Resolves with the final event.
 */
export function pullFile(
  dst: HostSession,
  request: Record<string, unknown>,
  file: Pick<PlannedFile, 'label' | 'targetPath'>,
  reporter: Reporter,
  settings: Pick<TransferSettings, 'noProgressMs' | 'onInterrupted' | 'rateLimit' | 'compress' | 'streams'>,
  revert: RevertStack,
  signal: AbortSignal,
  onStaging?: (stagingId: string, stagingPath: string) => void,
): Promise<PullProgress__Output> {
  return new Promise((resolve, reject) => {
    const call = dst.clients.transfer.pullImage(pullRequest(request, settings));
    let last: PullProgress__Output | undefined;
    const watchdog = noProgressWatchdog(settings.noProgressMs, () => {
      call.cancel();
      finish(stalled(file, dst.host, last, settings.noProgressMs));
    });
    const onAbort = (): void => call.cancel();
    const finish = (err?: unknown): void => {
      watchdog.stop();
      signal.removeEventListener('abort', onAbort);
      if (err !== undefined && last !== undefined && last.bytesTransferred > 0) settings.onInterrupted?.(last.bytesTransferred);
      if (err !== undefined) reject(signal.aborted ? new KvmcloneError('CANCELLED', 'interrupted') : err instanceof KvmcloneError ? err : fromStatus(err, dst.host));
      else if (last?.done) resolve(last);
      else reject(new KvmcloneError('UNAVAILABLE', `${dst.host}: the pull of ${file.label} ended without its final report`));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    watchdog.arm();
    call.on('data', (event: PullProgress__Output) => {
      announce(event, last, dst, file, reporter, revert, onStaging);
      last = event;
      watchdog.arm();
      reporter.progress(file.label, event.bytesDone, event.bytesTotal);
    });
    call.on('error', (err) => finish(err));
    call.on('end', () => finish());
  });
}
