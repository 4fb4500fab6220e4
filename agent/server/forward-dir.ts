/**
 * The forward directory: where a controller's SSH session binds the
 * per-operation peer sockets (`-R <forward dir>/peer-<id>.sock`) that reach a
 * source agent. sshd binds them as the login user, so with a dedicated
 * unprivileged account (kvmclone) that user must be able to create entries
 * here — and nowhere else the agent looks: the agent's own directory stays
 * root's 0755.
 *
 * Mode 1770, owner root, group = the agent socket's group:
 * - group members (the accounts that may call the admin socket anyway) may
 *   bind; others cannot even look inside;
 * - the sticky bit lets only an entry's owner (or root) unlink or rename it,
 *   so one account in the group cannot remove or replace another's live
 *   socket — even with `StreamLocalBindUnlink yes` on its side;
 * - sshd creates its sockets 0600 (StreamLocalBindMask 0177): only the login
 *   user and root (the destination agent) can connect to them.
 * sshd never removes what it bound, and the unprivileged account runs no
 * commands: the agent removes a socket when the controller asks
 * (RemovePeerSocket) and sweeps dead ones at start-up.
 */
import { chmod, chown, lstat, mkdir, readdir, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isListening } from './socket-file.js';
import { errnoCode, failedPrecondition, invalidArgument } from '../../shared/errors.js';
import { checkAbsolutePath } from '../../shared/validation.js';
import { lstatIfPresent, unlinkIfPresent } from '../paths/if-present.js';

/** Name of the forward directory inside the agent's runtime directory (the socket's directory). */
export const FORWARD_DIR_NAME = 'forward';

/** Per-operation peer sockets: `peer-<id>.sock`, nothing else. */
export const PEER_SOCKET_NAME = /^peer-[a-z0-9][a-z0-9-]{7,63}\.sock$/;

/** Mode of the forward directory when a socket group is configured (see the module comment). */
export const FORWARD_DIR_MODE = 0o1770;

/** The forward directory of an agent whose socket lives in `runtimeDir`. */
export function forwardDirOf(runtimeDir: string): string {
  return join(runtimeDir, FORWARD_DIR_NAME);
}

/** Whether `path` names a per-operation peer socket directly inside `dir`. */
export function isPeerSocketIn(path: string, dir: string): boolean {
  return dirname(path) === dir && PEER_SOCKET_NAME.test(basename(path));
}

/**
 * Creates (or repairs) the forward directory beside the agent's socket:
 * root-owned, group `gid` with mode 1770 — or 0700 when `gid` is undefined
 * (no socket group: only root may log in to bind there). Refuses a path that
 * is not a plain directory. Then removes the peer sockets nobody listens on
 * any more (a controller or sshd that died left them); returns how many.
 */
export async function prepareForwardDir(runtimeDir: string, gid: number | undefined): Promise<{ dir: string; removed: number }> {
  const dir = forwardDirOf(runtimeDir);
  await mkdir(dir, { mode: 0o700 }).catch((err: unknown) => {
    if (errnoCode(err) !== 'EEXIST') throw err;
  });
  const st = await lstat(dir);
  if (!st.isDirectory()) throw failedPrecondition(`forward directory ${dir} exists and is not a directory: refusing to use it`);
  await chown(dir, process.getuid?.() ?? 0, gid ?? process.getgid?.() ?? 0);
  await chmod(dir, gid === undefined ? 0o700 : FORWARD_DIR_MODE);
  let removed = 0;
  for (const name of await readdir(dir)) {
    if (!PEER_SOCKET_NAME.test(name)) continue;
    const path = join(dir, name);
    const entry = await lstat(path).catch(() => undefined);
    if (entry?.isSocket() !== true || (await isListening(path))) continue;
    await unlink(path).then(
      () => (removed += 1),
      () => undefined,
    );
  }
  return { dir, removed };
}

/**
 * RemovePeerSocket: unlinks `<forward dir>/peer-<id>.sock` (a socket, never
 * anything else). The controller has cancelled the forward first; an absent
 * socket is fine (false).
 */
export async function removePeerSocket(path: string, forwardDir: string): Promise<boolean> {
  const p = checkAbsolutePath(path, 'path');
  if (!isPeerSocketIn(p, forwardDir)) throw invalidArgument(`path: ${p} is not a per-operation peer socket (${forwardDir}/peer-<id>.sock)`);
  const st = await lstatIfPresent(p);
  if (st === undefined) return false;
  if (!st.isSocket()) throw failedPrecondition(`${p} is not a socket: not removing it`);
  return unlinkIfPresent(p);
}
