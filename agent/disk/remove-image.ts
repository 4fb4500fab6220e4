/**
 * RemoveImage: deletes one image file under the roots — a disk that a sync
 * removed from the destination VM. It can do no more than WriteRanges with a
 * replacing commit already could (both are confined to the roots), and it
 * removes only regular files, never a directory or a symlink target outside.
 */
import { lstat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { errnoCode, invalidArgument, KvmcloneError } from '../../shared/errors.js';
import type { RemoveImageResponse } from '../../shared/generated/kvmclone/agent/v1/RemoveImageResponse.js';
import type { ImageRoots } from '../paths/image-roots.js';

/** Removes `path` (confined); absent is success with removed = false. */
export async function removeImage(path: string, roots: ImageRoots): Promise<RemoveImageResponse> {
  let resolved: string;
  try {
    resolved = await roots.existing(path, 'path');
  } catch (err) {
    if (err instanceof KvmcloneError && err.code === 'NOT_FOUND') return { removed: false };
    throw err;
  }
  const st = await lstat(resolved);
  if (!st.isFile()) throw invalidArgument(`path: ${resolved} is not a regular file`);
  try {
    await unlink(resolved);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { removed: false };
    throw err;
  }
  const dir = await open(dirname(resolved), constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return { removed: true };
}
