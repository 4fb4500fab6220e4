/**
 * Staging images of guest-layer pulls (live copies): a qcow2 created by
 * qemu-img, or a sparse raw file, of the source view's virtual size, beside
 * the target under the same dot-name, lock and rules as every staging file
 * (agent/disk/staging-file.ts) — so CommitStaging and AbortStaging, which
 * only fsync, link, rename and unlink, take them unchanged.
 */
import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, unlink, type FileHandle } from 'node:fs/promises';
import { dataLoss, failedPrecondition } from '../../shared/errors.js';
import { lockExclusive, openStagingLocked, stagingPathFor } from '../disk/staging-file.js';
import { qemuImgInfo } from '../images/qemu-img.js';
import { CommandError, runCommand } from '../process/run-command.js';
import type { GuestFormat } from './guest-client.js';
import { currentOperationId } from '../leftovers/call-operation.js';
import { recordOperation } from '../leftovers/operation-xattr.js';

/** A staging image held (flocked) by one pull. */
export interface GuestStaging {
  readonly id: string;
  readonly path: string;
  /** Holds the staging lock until closed; the image itself is written through qemu-nbd. */
  readonly fh: FileHandle;
  /** Created by this pull: it reads as zeros wherever the pull has not written, and a failure before it is announced removes it. */
  readonly created: boolean;
}

/** Time allowed for qemu-img create (metadata only). */
const CREATE_TIMEOUT_MS = 120_000;

/** True when `path` still names the inode open in `fh`. */
async function stillNamed(fh: FileHandle, path: string): Promise<boolean> {
  const [held, named] = await Promise.all([fh.stat({ bigint: true }), lstat(path, { bigint: true }).catch(() => undefined)]);
  return named !== undefined && named.dev === held.dev && named.ino === held.ino;
}

/**
 * Creates a new staging image of `size` guest bytes for `target` (resolved):
 * the file exclusively (0600) and locked first, then formatted in place —
 * `qemu-img create -f qcow2 -o compat=1.1` (v3, which persistent dirty
 * bitmaps need) or a sparse raw file. Nothing is left behind on failure.
 */
export async function createGuestStaging(target: string, format: GuestFormat, size: number, signal: AbortSignal): Promise<GuestStaging> {
  const id = randomUUID();
  const path = stagingPathFor(target, id);
  const fh = await open(path, 'wx', 0o600);
  try {
    await lockExclusive(fh, `staging file ${id}`);
    recordOperation(fh, currentOperationId());
    if (format === 'raw') await fh.truncate(size);
    else {
      await runCommand('qemu-img', ['create', '-f', 'qcow2', '-o', 'compat=1.1', path, String(size)], { signal, timeoutMs: CREATE_TIMEOUT_MS });
      // qemu-img formats the existing file in place; it must still be the inode this pull locked.
      if (!(await stillNamed(fh, path))) throw failedPrecondition(`the staging image ${path} was replaced while it was created`);
    }
    return { id, path, fh, created: true };
  } catch (err) {
    await unlink(path).catch(() => undefined);
    await fh.close();
    throw err;
  }
}

/**
 * Reopens (and locks) the staging image `id` of an interrupted pull, checking
 * that it is what the resumed pull declares: a qcow2 of `size` guest bytes,
 * or a raw file of exactly `size` bytes (never probed: its bytes are the guest's).
 * A qcow2 is read as qcow2 (`-f`), its header checked first, and it must name
 * no backing file: the qemu-nbd the pull writes through would open it.
 */
export async function reopenGuestStaging(target: string, id: string, format: GuestFormat, size: number, signal: AbortSignal): Promise<GuestStaging> {
  const path = stagingPathFor(target, id);
  const fh = await openStagingLocked(path, id, constants.O_RDONLY);
  try {
    if (format === 'raw') {
      const actual = (await fh.stat()).size;
      if (actual !== size) throw failedPrecondition(`staging_id: staging image ${id} is ${actual} bytes but the source view is ${size}`);
    } else {
      const info = await qemuImgInfo(path, signal, format).catch((err: unknown) => {
        throw err instanceof CommandError ? failedPrecondition(`staging_id: qemu-img cannot read staging image ${id}: ${err.stderr.slice(0, 300)}`) : err;
      });
      // A staging image this agent made names no other file; one that does was not left by a pull.
      if (info.backingReference !== '')
        throw dataLoss(`staging_id: staging image ${id} names ${JSON.stringify(info.backingReference)} as its backing file; it was not made by a pull and is not resumed`);
      if (info.virtualSize !== size) throw failedPrecondition(`staging_id: staging image ${id} holds ${info.virtualSize} guest bytes but the source view is ${size}`);
    }
    // A resumed staging image now belongs to the operation resuming it (a rerun has a new id).
    recordOperation(fh, currentOperationId());
    return { id, path, fh, created: false };
  } catch (err) {
    await fh.close();
    throw err;
  }
}
