/**
 * Where a live view's temporary files go, and their clean-up.
 *
 * A backup job in pull mode needs a scratch file per disk (QEMU copies there
 * the old content of every block the guest overwrites while the job runs:
 * at worst the whole disk) and a unix socket for its NBD server. Both are
 * named after the operation, so what a killed agent left behind is found by
 * name at its next start and removed.
 */
import { mkdir, readdir, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { errnoCode, resourceExhausted } from '../../shared/errors.js';
import { unlinkIfPresent } from '../paths/if-present.js';

const SCRATCH_NAME = /^\.kvmclone-scratch\.([a-z0-9][a-z0-9-]{7,63})\.([a-z0-9]+)\.qcow2$/;
const SOCKET_NAME = /^backup-([a-z0-9][a-z0-9-]{7,63})\.sock$/;
const FLAT_SOCKET_NAME = /^flat-([a-z0-9][a-z0-9-]{7,63})\.([a-z0-9]+)\.sock$/;

/** The scratch file of one disk of one operation. */
export function scratchPathFor(scratchDir: string, operationId: string, target: string): string {
  return join(scratchDir, `.kvmclone-scratch.${operationId}.${target}.qcow2`);
}

/** Directory of the backup jobs' NBD sockets (inside the agent's runtime directory). */
export function liveSocketDir(runtimeDir: string): string {
  return join(runtimeDir, 'live');
}

/** The NBD socket of one operation's backup job. */
export function backupSocketFor(runtimeDir: string, operationId: string): string {
  return join(liveSocketDir(runtimeDir), `backup-${operationId}.sock`);
}

/** The NBD socket of one disk of a shut-off view (open-shut-off-view.ts): qemu-nbd serves it, not a backup job. */
export function flatSocketFor(runtimeDir: string, operationId: string, target: string): string {
  return join(liveSocketDir(runtimeDir), `flat-${operationId}.${target}.sock`);
}

/** True when `socket` is a backup socket this agent names (so a job serving on it is kvmclone's). */
export function isOwnBackupSocket(runtimeDir: string, socket: string): boolean {
  const dir = liveSocketDir(runtimeDir);
  return socket.startsWith(`${dir}/`) && SOCKET_NAME.test(socket.slice(dir.length + 1));
}

/** Creates the socket directory (0700: only root and QEMU running as root reach the exports). */
export async function prepareLiveSocketDir(runtimeDir: string): Promise<string> {
  const dir = liveSocketDir(runtimeDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/**
 * RESOURCE_EXHAUSTED unless the scratch directory has room for the worst
 * case: every block of every disk overwritten while the view is open.
 */
export async function checkScratchSpace(scratchDir: string, worstCaseBytes: number): Promise<{ availableBytes: number }> {
  const fs = await statfs(scratchDir, { bigint: true });
  const availableBytes = Number(fs.bavail * fs.bsize);
  if (availableBytes < worstCaseBytes) {
    throw resourceExhausted(
      `too little room for the backup scratch files in ${scratchDir}: ${availableBytes} bytes free, ${worstCaseBytes} needed at worst (the disks' virtual size, if the guest rewrote all of them during the copy); free space there or set live.scratch_dir in the agent's config`,
    );
  }
  return { availableBytes };
}

/**
 * Removes the scratch files and sockets of operations that are not open
 * (`open` holds the ids of live views). Run at start-up, after any job left
 * behind was ended, and after each view closes.
 */
export async function removeLeftovers(scratchDir: string, runtimeDir: string, open: ReadonlySet<string>, log: Logger): Promise<number> {
  let removed = 0;
  const sweep = async (dir: string, pattern: RegExp): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') log.warn({ dir, err }, 'cannot list a directory for live-view leftovers');
      return;
    }
    for (const name of names) {
      const m = pattern.exec(name);
      if (!m || open.has(m[1])) continue;
      try {
        if (await unlinkIfPresent(join(dir, name))) {
          removed += 1;
          log.info({ path: join(dir, name) }, 'removed a live-view leftover');
        }
      } catch (err) {
        log.warn({ path: join(dir, name), err }, 'cannot remove a live-view leftover');
      }
    }
  };
  await sweep(scratchDir, SCRATCH_NAME);
  await sweep(liveSocketDir(runtimeDir), SOCKET_NAME);
  await sweep(liveSocketDir(runtimeDir), FLAT_SOCKET_NAME);
  return removed;
}
