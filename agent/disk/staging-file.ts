/**
 * Where a staging file lives and how it is opened.
 *
 * A staging file sits beside its target (same filesystem, so the commit is a
 * link or rename, never a copy) under a dot-name that cannot be mistaken for
 * an image. Whoever writes, commits or aborts it holds an exclusive flock, so
 * a resumed write, a commit and an abort of the same staging id can never
 * interleave: the second one is refused with ABORTED instead.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { aborted, errnoCode, failedPrecondition, KvmcloneError, notFound } from '../../shared/errors.js';
import { tryLockExclusive } from '../native/fd-calls.js';
import type { OpenedParent } from '../paths/open-beneath.js';

/** The staging file name, in the target's directory, of the target named `name` for one staging id. */
export function stagingNameFor(name: string, id: string): string {
  return `.${name}.${id}.kvmclone-staging`;
}

/** The staging path of `target` (already resolved under a root) for one staging id. */
export function stagingPathFor(target: string, id: string): string {
  return join(dirname(target), stagingNameFor(basename(target), id));
}

/** Takes an exclusive, non-blocking flock; ABORTED when another call holds it. */
export async function lockExclusive(fh: FileHandle, what: string): Promise<void> {
  if (!tryLockExclusive(fh.fd)) throw aborted(`${what} is in use by another call (a write, commit or abort of the same staging id)`);
}

/**
 * Opens an existing staging file without following a symlink in its place,
 * locks it and checks that it is a regular file. NOT_FOUND names the id.
 * @param flags O_RDONLY or O_WRONLY
 */
export async function openStagingLocked(path: string, id: string, flags: number): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    fh = await open(path, flags | constants.O_NOFOLLOW);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw notFound(`staging_id: no staging file ${id} exists beside the target (looked for ${path})`);
    if (errnoCode(err) === 'ELOOP') throw failedPrecondition(`the staging path ${path} is a symlink; refusing to use it`);
    throw err;
  }
  try {
    await lockExclusive(fh, `staging file ${id}`);
    if (!(await fh.stat()).isFile()) throw failedPrecondition(`the staging path ${path} is not a regular file`);
    return fh;
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/**
 * openStagingLocked through the target's directory, held open beneath the
 * roots (agent/paths/open-beneath.ts): the staging file is looked up in that
 * directory only, never through a symlink, and then locked. NOT_FOUND names
 * the id.
 * @param flags O_RDONLY, O_WRONLY or O_RDWR
 */
export async function openStagingIn(parent: OpenedParent, id: string, flags: number): Promise<FileHandle> {
  const name = stagingNameFor(parent.name, id);
  let fh: FileHandle;
  try {
    fh = await parent.dir.openFile(name, flags, 'staging_id');
  } catch (err) {
    if (err instanceof KvmcloneError && err.code === 'NOT_FOUND')
      throw notFound(`staging_id: no staging file ${id} exists beside the target (looked for ${parent.dir.pathOf(name)})`);
    throw err;
  }
  try {
    await lockExclusive(fh, `staging file ${id}`);
    return fh;
  } catch (err) {
    await fh.close();
    throw err;
  }
}
