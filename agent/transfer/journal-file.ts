/**
 * Where a sync journal lives and how it is opened: `.<image>.kvmclone-journal`
 * beside its image (same directory, so same filesystem), mode 0600, always
 * under an exclusive flock.
 *
 * The lock is the only thing that keeps two pulls (or a pull and start-up
 * recovery in another process) off one image, and flock has a well-known gap:
 * a process may lock a file that its owner has just unlinked, and then
 * believe it holds the journal while the path names another file or nothing.
 * So every open here locks first and then checks that the path still names
 * the locked inode; a loser learns that it lost instead of carrying on.
 */
import { constants } from 'node:fs';
import { lstat, open, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { aborted, errnoCode, KvmcloneError } from '../../shared/errors.js';
import { tryLockExclusive } from '../native/fd-calls.js';
import { ErrnoError } from '../native/libc.js';
import type { ConfinedDir } from '../paths/confined-dir.js';

const JOURNAL_SUFFIX = '.kvmclone-journal';
const JOURNAL_NAME = /^\.(.+)\.kvmclone-journal$/;

/** The journal path of an image (a path already resolved under the roots). */
export function journalPathFor(image: string): string {
  return join(dirname(image), `.${basename(image)}${JOURNAL_SUFFIX}`);
}

/** The image a directory entry is the journal of, or undefined when the name is not a journal's. */
export function imageNameOfJournal(name: string): string | undefined {
  return JOURNAL_NAME.exec(name)?.[1];
}

/** ABORTED for an image whose journal another pull (or process) holds. */
function busy(image: string): Error {
  return aborted(`another pull into ${image} is running (its sync journal is locked); try again when it has finished`);
}

/** Takes the exclusive, non-blocking flock; ABORTED when someone else holds it. */
async function lockExclusive(fh: FileHandle, image: string): Promise<void> {
  if (!tryLockExclusive(fh.fd)) throw busy(image);
}

/** True when `path` still names the inode open in `fh`. */
async function stillNamed(fh: FileHandle, path: string): Promise<boolean> {
  const [held, named] = await Promise.all([fh.stat({ bigint: true }), lstat(path, { bigint: true }).catch(() => undefined)]);
  return named !== undefined && named.dev === held.dev && named.ino === held.ino;
}

/**
 * Creates the journal (O_EXCL, 0600) and locks it. ABORTED when a journal
 * exists (another pull created it after our recovery looked) or was removed
 * by someone who locked it before us.
 */
export async function createJournalLocked(path: string, image: string): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') throw busy(image);
    throw err;
  }
  try {
    await lockExclusive(fh, image);
    if (!(await stillNamed(fh, path))) throw busy(image);
    return fh;
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/**
 * Opens and locks an existing journal; undefined when there is none (or it
 * vanished while we locked it: its owner finished). ABORTED when it is held.
 * A symlink in a journal's place throws ELOOP, for the caller to judge.
 */
export async function openJournalLocked(path: string, image: string): Promise<FileHandle | undefined> {
  for (let attempt = 0; attempt < 3; attempt += 1) {
    let fh: FileHandle;
    try {
      fh = await open(path, constants.O_RDWR | constants.O_NOFOLLOW);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw err;
    }
    try {
      await lockExclusive(fh, image);
      if (await stillNamed(fh, path)) return fh;
    } catch (err) {
      await fh.close();
      throw err;
    }
    // Replaced between our open and our lock: look at whatever the path names now.
    await fh.close();
  }
  throw busy(image);
}

/*
 * The same three operations through the journal's directory held open beneath
 * the roots (agent/paths/open-beneath.ts): no path is resolved again, and no
 * symlink is followed at the journal's name (issue 10, hole 4). In-place
 * pulls and start-up recovery use these; the path forms above remain for
 * tools and tests that have no roots.
 */

/** True when `name` in `dir` still names the inode open in `fh`. */
async function stillNamedIn(fh: FileHandle, dir: ConfinedDir, name: string): Promise<boolean> {
  const held = await fh.stat({ bigint: true });
  const named = dir.identity(name);
  return named !== undefined && named.dev === held.dev && named.ino === held.ino;
}

/** createJournalLocked for the journal `name` in the held directory `dir`. */
export async function createJournalLockedIn(dir: ConfinedDir, name: string, image: string): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    fh = await dir.createFile(name, constants.O_RDWR, 0o600);
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') throw busy(image);
    throw err;
  }
  try {
    await lockExclusive(fh, image);
    if (!(await stillNamedIn(fh, dir, name))) throw busy(image);
    return fh;
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/**
 * openJournalLocked for the journal `name` in the held directory `dir`;
 * undefined when there is none. Anything but a regular file in a journal's
 * place (a symlink) throws ELOOP, for the caller to judge, as the path form does.
 */
export async function openJournalLockedIn(dir: ConfinedDir, name: string, image: string): Promise<FileHandle | undefined> {
  for (let attempt = 0; attempt < 3; attempt += 1) {
    let fh: FileHandle;
    try {
      fh = await dir.openFile(name, constants.O_RDWR, 'journal');
    } catch (err) {
      if (err instanceof KvmcloneError && err.code === 'NOT_FOUND') return undefined;
      if (err instanceof KvmcloneError && err.code === 'FAILED_PRECONDITION') throw new ErrnoError(40, 'ELOOP', `journal ${dir.pathOf(name)}`);
      throw err;
    }
    try {
      await lockExclusive(fh, image);
      if (await stillNamedIn(fh, dir, name)) return fh;
    } catch (err) {
      await fh.close();
      throw err;
    }
    await fh.close();
  }
  throw busy(image);
}
