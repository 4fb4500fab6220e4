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
import { link, lstat, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { alreadyExists, errnoCode, failedPrecondition, KvmcloneError } from '../../shared/errors.js';
import type { AbortStagingRequest__Output } from '../../shared/generated/kvmclone/agent/v1/AbortStagingRequest.js';
import type { AbortStagingResponse__Output } from '../../shared/generated/kvmclone/agent/v1/AbortStagingResponse.js';
import type { CommitStagingRequest__Output } from '../../shared/generated/kvmclone/agent/v1/CommitStagingRequest.js';
import type { CommitStagingResponse__Output } from '../../shared/generated/kvmclone/agent/v1/CommitStagingResponse.js';
import { checkId } from '../../shared/validation.js';
import type { ImageRoots } from '../paths/image-roots.js';
import { checkImageChain, hasQcow2Magic, type ImageFormat } from '../images/image-header.js';
import { openStagingLocked, stagingPathFor } from './staging-file.js';

/** fsync of a directory: makes a link, rename or unlink in it durable. */
async function syncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Checks the header chain of an open, locked staging file (see
 * image-header.ts); a refused one is removed and the refusal rethrown. Its
 * backing file may not exist yet: a base staged by the same operation is
 * committed after the overlay.
 * @param format what the caller knows the image to be; without it a file
 *   starting with the qcow2 magic is checked as qcow2 and anything else is raw
 */
export async function checkStagedImage(fh: FileHandle, staging: string, roots: ImageRoots, format?: ImageFormat): Promise<void> {
  const fmt = format ?? ((await hasQcow2Magic(fh)) ? 'qcow2' : 'raw');
  try {
    await checkImageChain(staging, fmt, { roots, allowMissingBacking: true, field: 'staging image' }, fh);
  } catch (err) {
    if (err instanceof KvmcloneError && (err.code === 'PERMISSION_DENIED' || err.code === 'DATA_LOSS')) {
      await unlink(staging).catch(() => undefined);
      throw new KvmcloneError(err.code, `${err.message}; the staging file was removed`);
    }
    throw err;
  }
}

/**
 * Moves a staging file onto its target; ALREADY_EXISTS when the target exists
 * and `replace` is false; PERMISSION_DENIED or DATA_LOSS (staging removed)
 * when its header names anything unexpected.
 */
export async function commitStaging(request: CommitStagingRequest__Output, roots: ImageRoots, signal: AbortSignal, format?: ImageFormat): Promise<CommitStagingResponse__Output> {
  const target = await roots.forCreate(request.targetPath, 'target_path');
  const id = checkId(request.stagingId, 'staging_id');
  const staging = stagingPathFor(target, id);
  const fh = await openStagingLocked(staging, id, constants.O_RDONLY);
  try {
    await checkStagedImage(fh, staging, roots, format);
    await fh.sync();
    signal.throwIfAborted();
    if (request.replace) {
      const existing = await lstat(target).catch(() => undefined);
      if (existing !== undefined && !existing.isFile()) throw failedPrecondition(`target_path: ${target} exists and is not a regular file; it is not replaced`);
      await rename(staging, target);
    } else {
      try {
        await link(staging, target);
      } catch (err) {
        const errno = errnoCode(err);
        if (errno === 'EEXIST') throw alreadyExists(`target_path: ${target} already exists; commit with replace to overwrite it`);
        if (errno === 'EPERM' || errno === 'ENOTSUP' || errno === 'EOPNOTSUPP') {
          throw failedPrecondition(`target_path: the filesystem of ${dirname(target)} has no hard links, so a no-clobber commit is impossible; commit with replace`);
        }
        throw err;
      }
      await unlink(staging);
    }
    await syncDirectory(dirname(target));
    const st = await fh.stat();
    return { path: target, size: st.size, allocatedSize: st.blocks * 512 };
  } finally {
    await fh.close();
  }
}

/** Removes a staging file; one that is already gone is success with removed = false. */
export async function abortStaging(request: AbortStagingRequest__Output, roots: ImageRoots): Promise<AbortStagingResponse__Output> {
  const id = checkId(request.stagingId, 'staging_id');
  let target: string;
  try {
    target = await roots.forCreate(request.targetPath, 'target_path');
  } catch (err) {
    // The target's directory is gone, and the staging file with it.
    if (err instanceof KvmcloneError && err.code === 'NOT_FOUND') return { removed: false };
    throw err;
  }
  const staging = stagingPathFor(target, id);
  let fh;
  try {
    fh = await openStagingLocked(staging, id, constants.O_RDONLY);
  } catch (err) {
    if (err instanceof KvmcloneError && err.code === 'NOT_FOUND') return { removed: false };
    throw err;
  }
  try {
    await unlink(staging);
  } finally {
    await fh.close();
  }
  return { removed: true };
}
