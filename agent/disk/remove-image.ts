/**
 * RemoveImage: deletes one image file under the roots — a disk that a sync
 * removed from the destination VM. It can do no more than WriteRanges with a
 * replacing commit already could (both are confined to the roots), and it
 * removes only regular files, never a directory or a symlink target outside.
 * With libvirt at hand it also refuses (FAILED_PRECONDITION, naming the
 * domain) to delete a file any defined domain still uses as a disk or NVRAM:
 * by the time a sync removes a disk, the destination VM has been redefined
 * without it, so any user left is another VM.
 */
import { lstat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { errnoCode, failedPrecondition, invalidArgument, KvmcloneError } from '../../shared/errors.js';
import type { RemoveImageResponse } from '../../shared/generated/kvmclone/agent/v1/RemoveImageResponse.js';
import type { ImageRoots } from '../paths/image-roots.js';
import type { LibvirtPort } from '../libvirt/libvirt-port.js';
import { filesInUse, userOf } from '../libvirt/domain-users.js';

/** Removes `path` (confined); absent is success with removed = false. */
export async function removeImage(path: string, roots: ImageRoots, libvirt?: LibvirtPort, signal?: AbortSignal): Promise<RemoveImageResponse> {
  let resolved: string;
  try {
    resolved = await roots.existing(path, 'path');
  } catch (err) {
    if (err instanceof KvmcloneError && err.code === 'NOT_FOUND') return { removed: false };
    throw err;
  }
  const st = await lstat(resolved);
  if (!st.isFile()) throw invalidArgument(`path: ${resolved} is not a regular file`);
  if (libvirt !== undefined) {
    const user = userOf(await filesInUse(libvirt, undefined, signal), path, resolved);
    if (user !== undefined) throw failedPrecondition(`path: ${resolved} is used by domain '${user}'; it was not removed`);
  }
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
