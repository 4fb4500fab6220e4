/**
 * Keeping an image's restore points a chain. Point k undoes pull k, so it
 * takes the image back only from the state pull k left — which is why every
 * point needs every newer one, and why any change to the image that comes
 * without a point (a pull without keep_points, a journal whose undo was
 * lost) makes all of them useless: they are then removed rather than left
 * to restore something that was never there.
 *
 * The decisions are taken when a journal is settled (journal-recovery.ts),
 * after it checked committed and bound to the image, before its first
 * record is applied — the same place whether the pull itself, the next
 * pull or the agent's start settles it:
 *
 * - a journal that is itself a point (a restore renamed it there) keeps the
 *   older points: they chain on from the state it restores;
 * - a sync journal with an id: a sealed pending undo with that id becomes
 *   point <id> (a rename, made durable); points then chain on if the newest
 *   is <id>, and are all removed if not;
 * - a sync journal without an id: all points are removed;
 * - a journal written through a qcow2's format (a live sync's, or a restore
 *   of a live sync's point) whose next older point was kept by an offline
 *   sync removes that point and all older ones: an offline point holds the
 *   qcow2 file's own bytes, valid only on the file exactly as its sync left
 *   it, and a write through the format moves clusters (raw images have no
 *   such difference: there every chain restores).
 *
 * A pending undo that is not the undo of a committed journal (its pull
 * never committed) is discarded; after an apply the oldest points beyond
 * the newest point's `keep` are removed.
 */
import { constants } from 'node:fs';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { aborted, errnoCode, KvmcloneError } from '../../shared/errors.js';
import { readExactly } from '../disk/read-ahead.js';
import { RENAME } from '../native/libc.js';
import type { ConfinedDir } from '../paths/confined-dir.js';
import { decodeHeader, decodeRecordHead, HEADER_BYTES, RECORD_HEAD_BYTES, type JournalHeader } from './journal-format.js';
import { openJournalLocked, openJournalLockedIn } from './journal-file.js';
import { syncDirectory } from '../paths/sync-directory.js';
import { checkJournal, type JournalCheck } from './journal-reader.js';
import { decodePointNote, listPointFiles, pointNameFor, undoNameFor, type PointFile, type PointNote } from './restore-point-files.js';

/** Where the image's companions are reached: its directory held beneath the roots, or (tools, tests) by path. */
export interface PointPlace {
  readonly image: string;
  readonly dir?: ConfinedDir;
  readonly log?: Logger;
}

/** Opens `name` beside the image and takes its exclusive flock; undefined when absent, ABORTED when held. */
export async function openLockedBeside(place: PointPlace, name: string): Promise<FileHandle | undefined> {
  return place.dir === undefined ? openJournalLocked(join(dirname(place.image), name), place.image) : openJournalLockedIn(place.dir, name, place.image);
}

/** Opens `name` beside the image read-only (never through a symlink). */
export async function openBeside(place: PointPlace, name: string): Promise<FileHandle> {
  return place.dir === undefined
    ? open(join(dirname(place.image), name), constants.O_RDONLY | constants.O_NOFOLLOW)
    : place.dir.openFile(name, constants.O_RDONLY, 'restore point');
}

/** Removes `name` beside the image (absent is fine); the caller makes it durable with syncBeside. */
export async function unlinkBeside(place: PointPlace, name: string): Promise<void> {
  try {
    if (place.dir === undefined) await unlink(join(dirname(place.image), name));
    else place.dir.unlink(name);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
}

/** Renames `from` to `to` beside the image, never replacing an existing `to` (EEXIST). */
export async function renameBeside(place: PointPlace, from: string, to: string): Promise<void> {
  if (place.dir !== undefined) return place.dir.rename(from, to, RENAME.NOREPLACE);
  const dir = dirname(place.image);
  // The path form (no roots: tools and tests) checks first; the agent itself always holds the directory.
  const taken = await open(join(dir, to), constants.O_RDONLY | constants.O_NOFOLLOW).then(
    async (fh) => (await fh.close(), true),
    () => false,
  );
  if (taken) throw Object.assign(new Error(`EEXIST: ${join(dir, to)} exists`), { code: 'EEXIST' });
  await rename(join(dir, from), join(dir, to));
}

/** Makes renames and unlinks beside the image durable. */
export async function syncBeside(place: PointPlace): Promise<void> {
  if (place.dir === undefined) await syncDirectory(dirname(place.image));
  else await place.dir.sync();
}

/** A point's header and description, read from its start only (listing; a restore checks the whole file). */
export async function readPointHead(fh: FileHandle): Promise<{ header: JournalHeader; note: PointNote | undefined }> {
  const header = decodeHeader(await readExactly(fh, 0, HEADER_BYTES));
  const head = decodeRecordHead(await readExactly(fh, HEADER_BYTES, RECORD_HEAD_BYTES), header.size);
  const note = head.kind === 'note' ? decodePointNote(await readExactly(fh, HEADER_BYTES + RECORD_HEAD_BYTES, head.length)) : undefined;
  return { header, note };
}

/** Removes `points` (oldest last in the list is fine: any order), durably. */
async function removePoints(place: PointPlace, points: readonly PointFile[]): Promise<void> {
  for (const p of points) await unlinkBeside(place, p.name);
  if (points.length > 0) await syncBeside(place);
}

/**
 * The pending undo beside the image, checked: promoted to point `id` when it
 * is that journal's sealed undo, else removed. Leaves it alone (and says so)
 * when another process holds it.
 */
async function settlePendingUndo(place: PointPlace, id: bigint | undefined, journalIno: bigint | undefined): Promise<'promoted' | 'discarded' | 'none' | 'held'> {
  const name = undoNameFor(place.image);
  let fh: FileHandle | undefined;
  try {
    fh = await openLockedBeside(place, name);
  } catch (err) {
    if (err instanceof KvmcloneError && err.code === 'ABORTED') return 'held';
    if (errnoCode(err) !== 'ELOOP') throw err;
    await unlinkBeside(place, name);
    await syncBeside(place);
    return 'discarded';
  }
  if (fh === undefined) return 'none';
  try {
    const st = await fh.stat({ bigint: true });
    const check: JournalCheck = st.isFile() ? await checkJournal((p, n, into) => readExactly(fh, p, n, into), Number(st.size)) : { state: 'corrupt', reason: 'not a regular file' };
    const matches = check.state === 'committed' && id !== undefined && check.header.id === id && (journalIno === undefined || check.header.ino === journalIno);
    if (matches) {
      await renameBeside(place, name, pointNameFor(place.image, id));
      await syncBeside(place);
      place.log?.info({ image: place.image, point: String(id) }, 'restore point kept: the undo record of the committed sync journal');
      return 'promoted';
    }
    await unlinkBeside(place, name);
    await syncBeside(place);
    place.log?.warn(
      { image: place.image, reason: check.state === 'committed' ? 'its sync journal never committed' : `${check.state}: ${check.reason}` },
      'pending undo record discarded',
    );
    return 'discarded';
  } finally {
    await fh.close();
  }
}

/**
 * Run by settleJournal for a committed journal bound to the image, before
 * its first record is applied (see the module comment). `imageIno` is the
 * image's inode, which a pending undo must be bound to as well.
 */
export async function pointsBeforeApply(place: PointPlace, check: Extract<JournalCheck, { state: 'committed' }>, imageIno: bigint): Promise<void> {
  const throughQcow2 = check.header.layer === 'guest-qcow2';
  if (decodePointNote(check.note) !== undefined) {
    // A restore under way: the older points chain on from what it restores to.
    await settlePendingUndo(place, undefined, undefined);
    if (throughQcow2) await dropOfflineChainBehind(place, 0);
    return;
  }
  const id = check.header.id;
  const pending = await settlePendingUndo(place, id, imageIno);
  if (pending === 'held') throw aborted(`the pending undo record beside ${place.image} is held by another process; the sync journal is left for later`);
  const points = await listPointFiles(place.image);
  if (points.length === 0) return;
  if (id !== undefined && points[0]?.id === id) {
    if (throughQcow2) await dropOfflineChainBehind(place, 1);
    return;
  }
  await removePoints(place, points);
  place.log?.warn(
    { image: place.image, removed: points.map((p) => String(p.id)) },
    'the image is changed by a sync journal without an undo record: its restore points no longer apply and were removed',
  );
}

/**
 * Before a write through a qcow2's format: when the point at `from` (in the
 * newest-first list; 0 when the journal applied is itself a point renamed
 * away) was kept by an offline sync, it and every older point are removed —
 * see the module comment. An unreadable head counts as a file-layer point.
 */
async function dropOfflineChainBehind(place: PointPlace, from: number): Promise<void> {
  const points = await listPointFiles(place.image);
  const next = points[from];
  if (next === undefined) return;
  const fh = await openBeside(place, next.name);
  let layer: string;
  try {
    layer = (await readPointHead(fh).catch(() => undefined))?.header.layer ?? 'file';
  } finally {
    await fh.close();
  }
  if (layer !== 'file') return;
  const old = points.slice(from);
  await removePoints(place, old);
  place.log?.warn(
    { image: place.image, removed: old.map((p) => String(p.id)) },
    "the qcow2 is written through its format: the restore points offline syncs kept before (the file's own bytes) no longer apply and were removed",
  );
}

/** After an apply: the oldest points beyond the newest point's keep are removed. Returns their ids. */
export async function prunePoints(place: PointPlace, keep?: number): Promise<string[]> {
  const points = await listPointFiles(place.image);
  const newest = points[0];
  if (newest === undefined) return [];
  let limit = keep;
  if (limit === undefined) {
    const fh = await openBeside(place, newest.name);
    try {
      limit = (await readPointHead(fh)).note?.keep;
    } finally {
      await fh.close();
    }
  }
  if (limit === undefined || limit <= 0 || points.length <= limit) return [];
  const old = points.slice(limit);
  await removePoints(place, old);
  place.log?.info({ image: place.image, removed: old.map((p) => String(p.id)), keep: limit }, 'older restore points removed');
  return old.map((p) => String(p.id));
}

/** Removes a pending undo nobody holds and no journal goes with (its pull never committed). */
export async function discardStaleUndo(place: PointPlace): Promise<void> {
  const result = await settlePendingUndo(place, undefined, undefined);
  if (result === 'held') place.log?.info({ image: place.image }, 'a pending undo record is held by a running pull: left alone');
}
