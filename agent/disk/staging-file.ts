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
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { aborted, errnoCode, failedPrecondition, notFound } from '../../shared/errors.js';

interface FsExtFlock {
  flock(fd: number, flags: 'exnb', callback: (err: Error | null) => void): void;
}

const fsExt = createRequire(import.meta.url)('fs-ext') as FsExtFlock;

/** The staging path of `target` (already resolved under a root) for one staging id. */
export function stagingPathFor(target: string, id: string): string {
  return join(dirname(target), `.${basename(target)}.${id}.kvmclone-staging`);
}

/** Takes an exclusive, non-blocking flock; ABORTED when another call holds it. */
export function lockExclusive(fh: FileHandle, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    fsExt.flock(fh.fd, 'exnb', (err) => {
      if (err === null) resolve();
      else if (errnoCode(err) === 'EAGAIN' || errnoCode(err) === 'EWOULDBLOCK') reject(aborted(`${what} is in use by another call (a write, commit or abort of the same staging id)`));
      else reject(err);
    });
  });
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
