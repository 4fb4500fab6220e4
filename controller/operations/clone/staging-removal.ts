/**
 * The undo of a staging file: every staging file a pull creates is put on
 * the revert stack as soon as the destination agent names it, so a failed
 * or interrupted clone leaves nothing behind on the destination.
 */
import { basename, dirname } from 'node:path';
import { KvmcloneError } from '../../../shared/errors.js';
import type { RevertStack } from '../../../shared/revert-stack.js';
import type { HostSession } from '../../transport/host-session.js';

/**
 * How many times AbortStaging is asked while the agent answers ABORTED: a
 * pull that was just cancelled may still hold the file's lock for a moment.
 * With ABORT_STAGING_RETRY_MS, about five seconds in all.
 */
export const ABORT_STAGING_ATTEMPTS = 20;

/** The pause between two AbortStaging attempts that met ABORTED (the cancelled pull letting go of the lock). */
export const ABORT_STAGING_RETRY_MS = 250;

/** How long the `rm` over SSH may take when the agent is gone. */
export const REMOVE_OVER_SSH_TIMEOUT_MS = 30_000;

/** Staging files whose removal is already on a revert stack. */
const registered = new WeakMap<RevertStack, Set<string>>();

/** A staging file path as agents name them: `.<name>.<id>.kvmclone-staging` beside the target. */
const STAGING_NAME = /^\.[^/]+\.[a-z0-9][a-z0-9-]{7,63}\.kvmclone-staging$/;

/** AbortStaging through the agent, asked again while a just-cancelled pull still holds the file's lock (ABORTED). */
async function abortStaging(dst: HostSession, targetPath: string, stagingId: string): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await dst.call(dst.clients.disk, dst.clients.disk.abortStaging, { targetPath, stagingId });
      return;
    } catch (err) {
      if (!(err instanceof KvmcloneError && err.code === 'ABORTED') || attempt >= ABORT_STAGING_ATTEMPTS) throw err;
      await new Promise((resolve) => setTimeout(resolve, ABORT_STAGING_RETRY_MS));
    }
  }
}

/**
 * The fallback when the agent did not answer: `rm` over the SSH connection,
 * only for a path that is a staging file beside its target (else `err`, the
 * agent's failure, stands).
 */
async function removeOverSsh(dst: HostSession, targetPath: string, stagingPath: string, err: unknown): Promise<void> {
  if (!(err instanceof KvmcloneError && (err.code === 'UNAVAILABLE' || err.code === 'DEADLINE_EXCEEDED'))) throw err;
  if (dirname(stagingPath) !== dirname(targetPath) || !STAGING_NAME.test(basename(stagingPath))) throw err;
  // An account that runs no commands (the dedicated kvmclone account: nologin shell) cannot do this:
  // say what is left and why, instead of a bare rm failure.
  const left = (why: string): KvmcloneError =>
    new KvmcloneError(
      'UNAVAILABLE',
      `staging file ${stagingPath} is left on ${dst.host}: its agent did not answer, and removing it over SSH failed (${why}); an SSH account without a shell cannot run rm: remove it as root once the agent is back`,
    );
  const removed = await dst.connection.exec(['rm', '-f', '--', stagingPath], { timeoutMs: REMOVE_OVER_SSH_TIMEOUT_MS }).catch((e: unknown) => {
    throw left(e instanceof Error ? e.message : String(e));
  });
  if (removed.code !== 0) throw left(removed.stderr.trim() || `rm exited with status ${removed.code}`);
}

/**
 * Registers the removal of a staging file: through its agent, or — when that
 * agent is gone (killed mid-transfer) — with `rm` over the SSH connection, so
 * a failed clone leaves nothing on the destination either way. An SSH account
 * that runs no commands cannot do the latter: the revert then names the file
 * left behind and why.
 */
export function registerStagingRemoval(revert: RevertStack, dst: HostSession, targetPath: string, stagingId: string, stagingPath: string): void {
  // A pull resumed within the run announces the same staging file again: one removal is enough.
  const known = registered.get(revert) ?? new Set<string>();
  registered.set(revert, known);
  if (known.has(stagingPath)) return;
  known.add(stagingPath);
  revert.push(`remove staging file ${stagingPath} on ${dst.host}`, async () => {
    try {
      await abortStaging(dst, targetPath, stagingId);
    } catch (err) {
      await removeOverSsh(dst, targetPath, stagingPath, err);
    }
  });
}
