/**
 * File operations for which a missing file is an answer, not an error: the
 * agent's clean-ups (stale sockets, per-operation peer sockets, backup
 * scratch files, a removed domain's NVRAM) race with other removers and with
 * crashes, and "already gone" is what they wanted. Any other failure still
 * throws.
 */
import type { Stats } from 'node:fs';
import { lstat, stat, unlink } from 'node:fs/promises';
import { errnoCode } from '../../shared/errors.js';

/** Whether `path` exists, links followed (false only when it does not: ENOENT). */
export async function exists(path: string): Promise<boolean> {
  return (await statIfPresent(path, stat)) !== undefined;
}

/** lstat of `path`, or undefined when nothing is there (ENOENT). */
export function lstatIfPresent(path: string): Promise<Stats | undefined> {
  return statIfPresent(path, lstat);
}

async function statIfPresent(path: string, how: (path: string) => Promise<Stats>): Promise<Stats | undefined> {
  try {
    return await how(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** Unlinks `path`; resolves true when it removed it, false when nothing was there (ENOENT). */
export async function unlinkIfPresent(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}
