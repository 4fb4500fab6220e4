/**
 * RebaseStaging: rewrites the backing reference in a staged qcow2 header
 * (`qemu-img rebase -u`, which touches only the header), so a chain copied
 * into another directory points at its copied base. The backing path must lie
 * under the image roots; it may not exist yet when the base is being staged by
 * the same operation and committed after.
 */
import { constants } from 'node:fs';
import { invalidArgument } from '../../shared/errors.js';
import type { RebaseStagingRequest__Output } from '../../shared/generated/kvmclone/agent/v1/RebaseStagingRequest.js';
import type { RebaseStagingResponse } from '../../shared/generated/kvmclone/agent/v1/RebaseStagingResponse.js';
import { checkId } from '../../shared/validation.js';
import type { ImageRoots } from '../paths/image-roots.js';
import { qemuImgInfo } from '../images/qemu-img.js';
import { runCommand } from '../process/run-command.js';
import { openStagingLocked, stagingPathFor } from './staging-file.js';

const BACKING_FORMATS = new Set(['qcow2', 'raw']);

/** Rebases a staging file's header onto `backing_path`. */
export async function rebaseStaging(request: RebaseStagingRequest__Output, roots: ImageRoots, signal: AbortSignal): Promise<RebaseStagingResponse> {
  const target = await roots.forCreate(request.targetPath, 'target_path');
  const id = checkId(request.stagingId, 'staging_id');
  const backing = await roots.forCreate(request.backingPath, 'backing_path');
  if (!BACKING_FORMATS.has(request.backingFormat)) throw invalidArgument(`backing_format: ${JSON.stringify(request.backingFormat)} is not qcow2 or raw`);
  const staging = stagingPathFor(target, id);
  const fh = await openStagingLocked(staging, id, constants.O_RDONLY);
  try {
    const info = await qemuImgInfo(staging, signal);
    if (info.format !== 'qcow2') throw invalidArgument(`target_path: the staged image is ${info.format}; only qcow2 images have a backing reference`);
    await runCommand('qemu-img', ['rebase', '-u', '-f', 'qcow2', '-b', backing, '-F', request.backingFormat, staging], { signal, timeoutMs: 60_000 });
    await fh.sync();
    return { backingReference: backing };
  } finally {
    await fh.close();
  }
}
