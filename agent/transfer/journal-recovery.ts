/**
 * Settling a sync journal: roll it forward into its image, or throw it away.
 *
 * This is the one place that decides, and it decides the same way wherever
 * a journal is met — right after a pull commits it, at the start of the next
 * in-place pull into the image, and at agent start-up for journals a crash
 * left behind. A journal is applied only when it is committed (checkJournal)
 * and names the inode that is at the image's path now; anything else is
 * removed without touching the image. Applying is idempotent (truncate to a
 * fixed size, then writes and punches at fixed offsets, in order), so a crash
 * during an apply is healed by applying again from the start. A journal of
 * the guest layer (live copies) goes through the image's format instead of
 * into the file (apply-target.ts), which needs the agent's runtime directory
 * for the qemu-nbd socket.
 */
import { constants } from 'node:fs';
import { open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { errnoCode, failedPrecondition, KvmcloneError } from '../../shared/errors.js';
import { readExactly } from '../disk/read-ahead.js';
import type { ImageRoots } from '../paths/image-roots.js';
import type { ConfinedDir } from '../paths/confined-dir.js';
import { openDirectory, openImage } from '../paths/open-beneath.js';
import { fileApplyTarget, guestApplyTarget, type ApplyTarget } from './apply-target.js';
import type { JournalHeader } from './journal-format.js';
import { imageNameOfJournal, journalPathFor, openJournalLocked, openJournalLockedIn } from './journal-file.js';
import { syncDirectory } from '../paths/sync-directory.js';
import { checkJournal, forEachRecord, type ReadAt } from './journal-reader.js';
import { discardStaleUndo, pointsBeforeApply, prunePoints } from './restore-point-chain.js';
import { decodePointNote, parseRestorePointName } from './restore-point-files.js';

/** What became of a journal: applied and removed, removed unapplied, or there was none. */
export type JournalOutcome =
  | { readonly outcome: 'none' }
  | { readonly outcome: 'replayed'; readonly header: JournalHeader; readonly records: number; readonly note?: Buffer }
  /** Incomplete or corrupt: removed, image untouched. */
  | { readonly outcome: 'discarded'; readonly reason: string }
  /** Committed, but for another inode (or the image is gone): removed, image untouched. */
  | { readonly outcome: 'foreign'; readonly reason: string };

/** What settling needs besides the journal and the image. */
export interface SettleOptions {
  /** The agent's runtime directory, for the qemu-nbd socket of a guest-layer journal (without it one is left in place). */
  readonly runtimeDir?: string;
  /** Aborts a guest-layer apply's qemu-img and qemu-nbd start (none: an apply after a commit is not to be stopped). */
  readonly signal?: AbortSignal;
  /**
   * The image roots: the journal's directory is then opened beneath them
   * (agent/paths/open-beneath.ts), and the journal and the image are reached
   * through it rather than by path.
   */
  readonly roots?: ImageRoots;
  /** The directory of the journal and its image, already held open beneath the roots (an in-place pull's). */
  readonly dir?: ConfinedDir;
  /** Where what happens to the image's restore points is said (restore-point-chain.ts). */
  readonly log?: Logger;
}

/** The apply target a journal's header asks for. */
function applyTargetFor(header: JournalHeader, fh: FileHandle, image: string, options: SettleOptions): ApplyTarget {
  const layer = header.layer ?? 'file';
  if (layer === 'file') return fileApplyTarget(fh);
  if (options.runtimeDir === undefined) throw failedPrecondition(`the sync journal of ${image} applies through the image format, which needs the agent's runtime directory`);
  return guestApplyTarget(image, layer === 'guest-qcow2' ? 'qcow2' : 'raw', options.runtimeDir, options.signal ?? new AbortController().signal);
}

/** Removes a journal for good: unlinked, and the unlink made durable (through `dir` when it is held). */
async function removeJournal(path: string, dir?: ConfinedDir): Promise<void> {
  if (dir === undefined) {
    await unlink(path).catch((err: unknown) => (errnoCode(err) === 'ENOENT' ? undefined : Promise.reject(err)));
    await syncDirectory(dirname(path));
    return;
  }
  try {
    dir.unlink(basename(path));
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
  await dir.sync();
}

/** Opens the image a journal is for, read-write: through the held directory, beneath the roots, or by path. */
async function openImageFor(image: string, options: SettleOptions): Promise<FileHandle> {
  if (options.dir !== undefined) return options.dir.openFile(basename(image), constants.O_RDWR, 'image');
  if (options.roots !== undefined) return (await openImage(options.roots, image, constants.O_RDWR, 'image')).fh;
  return open(image, constants.O_RDWR | constants.O_NOFOLLOW);
}

/**
 * Applies a committed journal's records to `image` (open as `fh`): resize,
 * data and zeros in order, flush — into the file, or through the format for
 * a guest-layer journal. The apply target is closed either way; a failure
 * leaves the journal in place, to be applied again.
 */
async function replayRecords(header: JournalHeader, fh: FileHandle, image: string, options: SettleOptions, read: ReadAt, size: number): Promise<void> {
  const apply = applyTargetFor(header, fh, image, options);
  try {
    await apply.resize(header.size);
    await forEachRecord(
      read,
      size,
      async (record) => {
        if (record.kind === 'data') await apply.write(record.offset, record.data);
        else if (record.kind === 'zero') await apply.zero(record.offset, record.length);
      },
      () => apply.drain(),
    );
    await apply.flush();
  } catch (err) {
    await apply.close().catch(() => undefined);
    throw err;
  }
  await apply.close();
}

/**
 * Settles the locked journal `fh` at `path` against `image`: applies it
 * (resize, data, zeros, flush — into the file, or through the format for a
 * guest-layer journal — then unlink journal, fsync directory) or removes
 * it. Throws only for I/O failures — and a failure during the apply leaves
 * the journal in place, to be applied again.
 */
export async function settleJournal(fh: FileHandle, path: string, image: string, options: SettleOptions = {}): Promise<JournalOutcome> {
  const st = await fh.stat({ bigint: true });
  const size = Number(st.size);
  const read: ReadAt = (position, length, into) => readExactly(fh, position, length, into);
  const check = st.isFile() ? await checkJournal(read, size) : { state: 'corrupt' as const, reason: 'it is not a regular file' };
  if (check.state !== 'committed') {
    await removeJournal(path, options.dir);
    return { outcome: 'discarded', reason: `${check.state}: ${check.reason}` };
  }
  let target: FileHandle;
  try {
    target = await openImageFor(image, options);
  } catch (err) {
    const gone = errnoCode(err) === 'ENOENT' || (err instanceof KvmcloneError && err.code === 'NOT_FOUND');
    const moved =
      errnoCode(err) === 'ELOOP' || (err instanceof KvmcloneError && (err.code === 'PERMISSION_DENIED' || err.code === 'FAILED_PRECONDITION' || err.code === 'INVALID_ARGUMENT'));
    if (!gone && !moved) throw err;
    await removeJournal(path, options.dir);
    return { outcome: 'foreign', reason: `the image ${image} is ${gone ? 'gone' : 'now a symlink or outside the roots'}` };
  }
  try {
    const ist = await target.stat({ bigint: true });
    // A hard link may name a file outside the roots: the journal is not written into it (agent/paths/hard-links.ts).
    if (ist.nlink > 1n) {
      await removeJournal(path, options.dir);
      return { outcome: 'foreign', reason: `${image} has ${ist.nlink} hard links, and the agent does not write into a hard-linked image` };
    }
    // st_ino decides; st_dev is compared with the journal's own (beside the image, so the same filesystem)
    // rather than with the recorded one, which may legitimately change across a reboot.
    if (!ist.isFile() || ist.ino !== check.header.ino || ist.dev !== st.dev) {
      await removeJournal(path, options.dir);
      return { outcome: 'foreign', reason: `it was written for inode ${check.header.ino} but ${image} is inode ${ist.ino}${ist.isFile() ? '' : ' and not a regular file'}` };
    }
    // The restore points stay a chain: the pending undo of this journal becomes a point, or the points go (restore-point-chain.ts).
    await pointsBeforeApply({ image, dir: options.dir, log: options.log }, check, ist.ino);
    await replayRecords(check.header, target, image, options, read, size);
  } finally {
    await target.close();
  }
  await removeJournal(path, options.dir);
  // A restore (a point applied as a journal) leaves fewer points than before: only a sync's apply prunes.
  if (decodePointNote(check.note) === undefined) {
    await prunePoints({ image, dir: options.dir, log: options.log }).catch((err: unknown) =>
      options.log?.warn({ image, err }, 'older restore points could not be removed; the next sync tries again'),
    );
  }
  return { outcome: 'replayed', header: check.header, records: check.records, ...(check.note !== undefined && { note: check.note }) };
}

/**
 * Settles whatever journal lies beside `image`, logging what was done.
 * ABORTED when another pull holds it. Runs at the start of every in-place
 * pull and, through recoverAllJournals, at agent start-up.
 */
export async function recoverJournal(image: string, log: Logger, options: SettleOptions = {}): Promise<JournalOutcome> {
  if (options.dir === undefined && options.roots !== undefined) {
    let dir: ConfinedDir;
    try {
      dir = await openDirectory(options.roots, dirname(image), 'image');
    } catch (err) {
      // No directory, no journal in it.
      if (err instanceof KvmcloneError && err.code === 'NOT_FOUND') return { outcome: 'none' };
      throw err;
    }
    try {
      return await recoverJournal(image, log, { ...options, dir });
    } finally {
      dir.close();
    }
  }
  const path = journalPathFor(image);
  options = { ...options, log: options.log ?? log };
  const place = { image, dir: options.dir, log: options.log };
  let fh: FileHandle | undefined;
  try {
    fh = options.dir === undefined ? await openJournalLocked(path, image) : await openJournalLockedIn(options.dir, basename(path), image);
  } catch (err) {
    if (errnoCode(err) !== 'ELOOP') throw err;
    await removeJournal(path, options.dir);
    log.warn({ image, journal: path }, 'a symlink stood where a sync journal belongs: removed it');
    return { outcome: 'discarded', reason: 'it was a symlink' };
  }
  if (fh === undefined) {
    // No journal: a pending undo beside the image is of a pull that never committed.
    await discardStaleUndo(place);
    return { outcome: 'none' };
  }
  try {
    const result = await settleJournal(fh, path, image, options);
    if (result.outcome !== 'replayed') await discardStaleUndo(place);
    if (result.outcome === 'replayed')
      log.info({ image, journal: path, records: result.records, size: result.header.size, layer: result.header.layer ?? 'file' }, 'sync journal rolled forward into the image');
    else if (result.outcome === 'discarded') log.warn({ image, journal: path, reason: result.reason }, 'sync journal incomplete or damaged: discarded; image untouched');
    else if (result.outcome === 'foreign') log.warn({ image, journal: path, reason: result.reason }, 'sync journal does not belong to this image: discarded; image untouched');
    return result;
  } finally {
    await fh.close();
  }
}

/** Directories searched at start-up: each root and the directories directly inside it. */
async function journalDirectories(root: string, log: Logger): Promise<string[]> {
  const dirs = [root];
  try {
    for (const entry of await readdir(root, { withFileTypes: true })) if (entry.isDirectory()) dirs.push(join(root, entry.name));
  } catch (err) {
    log.warn({ root, err }, 'cannot list an image root for sync journals');
  }
  return dirs;
}

/**
 * Start-up recovery: settles every journal directly inside each image root
 * and one directory level below, before the agent serves. A journal that
 * cannot be settled (held by another process, an I/O error) is logged and
 * left for the next pull into its image; the agent still starts.
 */
export async function recoverAllJournals(roots: ImageRoots, log: Logger, options: SettleOptions = {}): Promise<Record<JournalOutcome['outcome'] | 'failed', number>> {
  const counts = { none: 0, replayed: 0, discarded: 0, foreign: 0, failed: 0 };
  for (const root of roots.roots) {
    for (const dir of await journalDirectories(root, log)) {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch (err) {
        log.warn({ dir, err }, 'cannot list a directory for sync journals');
        continue;
      }
      // Images with a journal, or with a pending undo record (its pull never committed: discarded).
      const images = new Set<string>();
      for (const name of names) {
        const image = imageNameOfJournal(name) ?? (parseRestorePointName(name)?.kind === 'undo' ? parseRestorePointName(name)?.image : undefined);
        if (image !== undefined) images.add(image);
      }
      for (const image of images) {
        try {
          counts[(await recoverJournal(join(dir, image), log, { ...options, roots })).outcome] += 1;
        } catch (err) {
          counts.failed += 1;
          const held = err instanceof KvmcloneError && err.code === 'ABORTED';
          log.error(
            { image: join(dir, image), err },
            held ? 'sync journal is held by another process: left alone' : 'sync journal could not be settled: left for the next pull into the image',
          );
        }
      }
    }
  }
  return counts;
}
