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
import { errnoCode, failedPrecondition, invalidArgument, KvmcloneError } from '../../shared/errors.js';
import type { RemoveImageResponse } from '../../shared/generated/kvmclone/agent/v1/RemoveImageResponse.js';
import type { ImageRoots } from '../paths/image-roots.js';
import { refuseHardLinked } from '../paths/hard-links.js';
import { openParent, type OpenedParent } from '../paths/open-beneath.js';
import type { LibvirtPort } from '../libvirt/libvirt-port.js';
import { filesInUse, userOf } from '../libvirt/domain-users.js';

/**
 * Removes `path` (confined); absent is success with removed = false. The
 * file's directory is opened once beneath the roots and the file is looked
 * at (regular, one hard link) and unlinked through that descriptor.
 */
export async function removeImage(path: string, roots: ImageRoots, libvirt?: LibvirtPort, signal?: AbortSignal): Promise<RemoveImageResponse> {
  let parent: OpenedParent;
  try {
    parent = await openParent(roots, path, 'path', true);
  } catch (err) {
    if (err instanceof KvmcloneError && err.code === 'NOT_FOUND') return { removed: false };
    throw err;
  }
  const { dir, name, path: resolved } = parent;
  try {
    const st = dir.entry(name);
    if (st === undefined) return { removed: false };
    if (!st.isFile()) throw invalidArgument(`path: ${resolved} is not a regular file`);
    refuseHardLinked(st.nlink, resolved, 'path', 'remove');
    if (libvirt !== undefined) {
      const user = userOf(await filesInUse(libvirt, undefined, signal), path, resolved);
      if (user !== undefined) throw failedPrecondition(`path: ${resolved} is used by domain '${user}'; it was not removed`);
    }
    try {
      dir.unlink(name);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return { removed: false };
      throw err;
    }
    await dir.sync();
    return { removed: true };
  } finally {
    dir.close();
  }
}
