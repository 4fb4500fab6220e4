/**
 * RebaseStaging: rewrites the backing reference in a staged qcow2 header
 * (`qemu-img rebase -u`, which touches only the header), so a chain copied
 * into another directory points at its copied base. The backing path must lie
 * under the image roots; it may not exist yet when the base is being staged by
 * the same operation and committed after. The backing file's own chain, when
 * it exists, and the rebased header are checked like a commit's
 * (image-header.ts), so a rebase can never make a staged image point outside
 * the roots. The staging file is opened once through its directory (held
 * open beneath the roots) and qemu-img rewrites it through `/dev/fd/3`, the
 * descriptor whose header was just checked — never by path.
 */
import { constants } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { invalidArgument, permissionDenied } from '../../shared/errors.js';
import type { RebaseStagingRequest__Output } from '../../shared/generated/kvmclone/agent/v1/RebaseStagingRequest.js';
import type { RebaseStagingResponse } from '../../shared/generated/kvmclone/agent/v1/RebaseStagingResponse.js';
import { checkId } from '../../shared/validation.js';
import type { ImageRoots } from '../paths/image-roots.js';
import { checkImageChain, checkImageFormat, hasQcow2Magic } from '../images/image-header.js';
import { withParent } from '../paths/open-beneath.js';
import { fdPath, runWithFds } from '../process/run-with-fds.js';
import { checkStagedImage } from './staging-commit.js';
import { openStagingIn, stagingNameFor } from './staging-file.js';

/** Rebases a staging file's header onto `backing_path`. */
export async function rebaseStaging(request: RebaseStagingRequest__Output, roots: ImageRoots, signal: AbortSignal): Promise<RebaseStagingResponse> {
  const target = await roots.forCreate(request.targetPath, 'target_path');
  const id = checkId(request.stagingId, 'staging_id');
  const backing = await roots.forCreate(request.backingPath, 'backing_path');
  const backingFormat = checkImageFormat(request.backingFormat, 'backing_format');
  // The new base, if it is there already, must itself lead nowhere unexpected (checked as the format named).
  const existing = await lstat(backing).catch(() => undefined);
  if (existing !== undefined) {
    if (!existing.isFile()) throw permissionDenied(`backing_path: ${backing} is not a regular file`);
    await checkImageChain(backing, backingFormat, { roots, allowMissingBacking: true, field: 'backing_path' });
  }
  return withParent(roots, target, 'target_path', false, async (parent) => {
    const staged = { dir: parent.dir, name: stagingNameFor(parent.name, id) };
    const fh = await openStagingIn(parent, id, constants.O_RDWR);
    try {
      if (!(await hasQcow2Magic(fh))) throw invalidArgument('target_path: the staged image is not qcow2; only qcow2 images have a backing reference');
      // Its own header first (no data file), before qemu-img opens it.
      await checkStagedImage(fh, staged, roots, 'qcow2');
      await runWithFds('qemu-img', ['rebase', '-u', '-f', 'qcow2', '-b', backing, '-F', backingFormat, fdPath(0)], [fh.fd], { signal, timeoutMs: 60_000 });
      await fh.sync();
      await checkStagedImage(fh, staged, roots, 'qcow2');
      return { backingReference: backing };
    } finally {
      await fh.close();
    }
  });
}
