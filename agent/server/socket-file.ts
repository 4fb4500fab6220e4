/**
 * The agent's unix socket is its only door, and its file permissions are the
 * access control. This module prepares the directory (created 0755 by root,
 * refused if others could write to it), clears a stale socket left by a crash
 * (but never one a live agent is serving), and sets mode and group after bind.
 * Each of the agent's sockets (admin, read-only, peer) goes through it.
 */
import { connect } from 'node:net';
import { chmod, chown, lstat, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { failedPrecondition } from '../../shared/errors.js';
import { lstatIfPresent, unlinkIfPresent } from '../paths/if-present.js';

/** True when something accepts connections at the unix socket `path` (a live agent, a live forward). */
export function isListening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Makes the socket's directory safe and removes a stale socket at `path`. */
export async function prepareSocketPath(path: string): Promise<void> {
  const dir = dirname(path);
  const created = await mkdir(dir, { recursive: true, mode: 0o755 });
  // The agent runs with umask 077; directories it creates for the socket are 0755 all the same.
  if (created !== undefined) {
    for (let d = dir; d.length >= created.length; d = dirname(d)) await chmod(d, 0o755);
  }
  const dirStat = await lstat(dir);
  if (!dirStat.isDirectory()) throw failedPrecondition(`socket directory ${dir} is not a directory`);
  if ((dirStat.mode & 0o002) !== 0 && (dirStat.mode & 0o1000) === 0) {
    throw failedPrecondition(`socket directory ${dir} is writable by everyone: refusing to serve there`);
  }
  await removeStaleSocket(path, 'another agent');
}

/**
 * Clears the way for a new socket at `path`, for the agent's own sockets and
 * the qemu-nbd ones it starts alike: nothing there is fine, a stale socket
 * (nobody accepts on it: its server crashed) is removed, and anything else
 * is refused: a file that is not a socket, or a socket that `server` (who
 * the refusal names) still serves on.
 */
export async function removeStaleSocket(path: string, server: string): Promise<void> {
  const existing = await lstatIfPresent(path);
  if (existing === undefined) return;
  if (!existing.isSocket()) throw failedPrecondition(`${path} exists and is not a socket: refusing to replace it`);
  if (await isListening(path)) throw failedPrecondition(`${server} is already serving on ${path}`);
  await removeSocket(path);
}

/**
 * Applies the configured mode and group to the bound socket. The group is a
 * numeric id: names are resolved through NSS when the config is loaded
 * (agent/config/group-lookup.ts).
 */
export async function secureSocket(path: string, mode: number, group: number | undefined): Promise<void> {
  if (group !== undefined) await chown(path, -1, group);
  await chmod(path, mode);
}

/** Removes the socket file on shutdown (ignores a missing one). */
export async function removeSocket(path: string): Promise<void> {
  await unlinkIfPresent(path);
}
