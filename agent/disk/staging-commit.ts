/**
 * CommitStaging and AbortStaging: the end of a staging file's life.
 *
 * A commit makes the image appear whole or not at all: the staging file is
 * fsynced, then moved into place with one atomic directory operation, then
 * the directory is fsynced so the move survives a crash. Without `replace` the
 * move is link + unlink, which (unlike rename) refuses an existing target
 * atomically — no check-then-act window in which another writer's image could
 * be clobbered.
 *
 * Before anything is committed, the staged image's header is checked
 * (image-header.ts): whoever wrote it chose its bytes, and a qcow2 header
 * naming `/dev/sda` or another VM's disk as its backing file, or any external
 * data file, would have qemu read that file for the new VM. Such a staging
 * file is removed and the commit refused.
 */
import { constants } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { alreadyExists, errnoCode, failedPrecondition, KvmcloneError } from '../../shared/errors.js';
import type { AbortStagingRequest__Output } from '../../shared/generated/kvmclone/agent/v1/AbortStagingRequest.js';
import type { AbortStagingResponse__Output } from '../../shared/generated/kvmclone/agent/v1/AbortStagingResponse.js';
import type { CommitStagingRequest__Output } from '../../shared/generated/kvmclone/agent/v1/CommitStagingRequest.js';
import type { CommitStagingResponse__Output } from '../../shared/generated/kvmclone/agent/v1/CommitStagingResponse.js';
import { checkId } from '../../shared/validation.js';
import type { ConfinedDir } from '../paths/confined-dir.js';
import { refuseHardLinked } from '../paths/hard-links.js';
import type { ImageRoots } from '../paths/image-roots.js';
import { withParent } from '../paths/open-beneath.js';
import { checkImageChain, hasQcow2Magic, type ImageFormat } from '../images/image-header.js';
import { openStagingIn, stagingNameFor } from './staging-file.js';

/**
 * Checks the header chain of an open, locked staging file (see
 * image-header.ts); a refused one is removed (`name` in `dir`, the target's
 * directory held open) and the refusal rethrown. Its backing file may not
 * exist yet: a base staged by the same operation is committed after the
 * overlay.
 * @param format what the caller knows the image to be; without it a file
 *   starting with the qcow2 magic is checked as qcow2 and anything else is raw
 */
export async function checkStagedImage(fh: FileHandle, staged: { dir: ConfinedDir; name: string }, roots: ImageRoots, format?: ImageFormat): Promise<void> {
  const fmt = format ?? ((await hasQcow2Magic(fh)) ? 'qcow2' : 'raw');
  try {
    await checkImageChain(staged.dir.pathOf(staged.name), fmt, { roots, allowMissingBacking: true, field: 'staging image' }, fh);
  } catch (err) {
    if (err instanceof KvmcloneError && (err.code === 'PERMISSION_DENIED' || err.code === 'DATA_LOSS')) {
      try {
        staged.dir.unlink(staged.name);
      } catch {
        // already gone
      }
      throw new KvmcloneError(err.code, `${err.message}; the staging file was removed`);
    }
    throw err;
  }
}

/**
 * Moves a staging file onto its target; ALREADY_EXISTS when the target exists
 * and `replace` is false; PERMISSION_DENIED or DATA_LOSS (staging removed)
 * when its header names anything unexpected; FAILED_PRECONDITION when the
 * target to replace is not a regular file or is hard-linked.
 *
 * Every step goes through the target's directory, opened once beneath the
 * roots: the staging file is opened there, and the move is renameat2 (replace)
 * or linkat + unlinkat (no replace) between that descriptor and itself, so
 * no path is resolved again between the checks and the move (issue 10,
 * hole 4). renameat2 is bound directly (agent/native/libc.ts) rather than
 * re-verifying the directory's dev/ino around a rename by path: a check
 * around a path operation still leaves a window, the descriptor leaves none.
 */
export async function commitStaging(request: CommitStagingRequest__Output, roots: ImageRoots, signal: AbortSignal, format?: ImageFormat): Promise<CommitStagingResponse__Output> {
  const id = checkId(request.stagingId, 'staging_id');
  return withParent(roots, request.targetPath, 'target_path', false, async (parent) => {
    const { dir, name: target } = parent;
    const staging = stagingNameFor(target, id);
    const fh = await openStagingIn(parent, id, constants.O_RDONLY);
    try {
      await checkStagedImage(fh, { dir, name: staging }, roots, format);
      await fh.sync();
      signal.throwIfAborted();
      if (request.replace) {
        const existing = dir.entry(target);
        if (existing !== undefined && !existing.isFile()) throw failedPrecondition(`target_path: ${parent.path} exists and is not a regular file; it is not replaced`);
        if (existing !== undefined) refuseHardLinked(existing.nlink, parent.path, 'target_path', 'replace');
        dir.rename(staging, target);
      } else {
        try {
          dir.link(staging, target);
        } catch (err) {
          const errno = errnoCode(err);
          if (errno === 'EEXIST') throw alreadyExists(`target_path: ${parent.path} already exists; commit with replace to overwrite it`);
          if (errno === 'EPERM' || errno === 'ENOTSUP' || errno === 'EOPNOTSUPP') {
            throw failedPrecondition(`target_path: the filesystem of ${dir.path} has no hard links, so a no-clobber commit is impossible; commit with replace`);
          }
          throw err;
        }
        dir.unlink(staging);
      }
      await dir.sync();
      const st = await fh.stat();
      return { path: parent.path, size: st.size, allocatedSize: st.blocks * 512 };
    } finally {
      await fh.close();
    }
  });
}

/** Removes a staging file; one that is already gone is success with removed = false. */
export async function abortStaging(request: AbortStagingRequest__Output, roots: ImageRoots): Promise<AbortStagingResponse__Output> {
  const id = checkId(request.stagingId, 'staging_id');
  try {
    return await withParent(roots, request.targetPath, 'target_path', false, async (parent) => {
      const fh = await openStagingIn(parent, id, constants.O_RDONLY);
      try {
        parent.dir.unlink(stagingNameFor(parent.name, id));
      } finally {
        await fh.close();
      }
      return { removed: true };
    });
  } catch (err) {
    // The target's directory is gone, and the staging file with it; or the staging file is.
    if (err instanceof KvmcloneError && err.code === 'NOT_FOUND') return { removed: false };
    throw err;
  }
}
