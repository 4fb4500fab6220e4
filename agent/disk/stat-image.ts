/**
 * StatImage: one image file as both qemu-img and the filesystem see it.
 *
 * The controller plans a copy from these facts: the format decides whether
 * the guest layer may be mapped, the file size is what ReadRanges moves, and
 * the allocated size (not the virtual size) is what the destination must have
 * room for.
 */
import type { FileHandle } from 'node:fs/promises';
import { failedPrecondition, invalidArgument } from '../../shared/errors.js';
import type { StatImageResponse__Output } from '../../shared/generated/kvmclone/agent/v1/StatImageResponse.js';
import type { ImageFormat } from '../images/image-header.js';
import { qemuImgInfoOf } from '../images/qemu-img.js';
import { CommandError } from '../process/run-command.js';

/**
 * Facts about an image opened beneath the roots (`path`: its resolved name),
 * all taken through its descriptor: fstat, and qemu-img on `/dev/fd/3`.
 * The format is the caller's when it knows it, else qcow2 by its magic or raw:
 * never qemu's probe (image-header.ts); a qcow2 naming an external data file
 * is PERMISSION_DENIED.
 */
export async function statImage(image: { fh: FileHandle; path: string }, signal: AbortSignal, format?: ImageFormat): Promise<StatImageResponse__Output> {
  const resolved = image.path;
  const st = await image.fh.stat({ bigint: true });
  if (!st.isFile()) throw invalidArgument(`path: ${resolved} is not a regular file`);
  let info;
  try {
    info = await qemuImgInfoOf(image, signal, format);
  } catch (err) {
    if (err instanceof CommandError) throw failedPrecondition(`path: qemu-img cannot read ${resolved} as an image: ${err.stderr.slice(0, 500)}`);
    throw err;
  }
  return {
    path: resolved,
    format: info.format,
    virtualSize: info.virtualSize,
    fileSize: Number(st.size),
    allocatedSize: Number(st.blocks) * 512,
    backingReference: info.backingReference,
    backingFormat: info.backingFormat,
    dev: Number(st.dev),
    ino: Number(st.ino),
    mtimeNs: st.mtimeNs.toString(),
    ctimeNs: st.ctimeNs.toString(),
  };
}
