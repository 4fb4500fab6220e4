/**
 * The restore point of one in-place pull with keep_points: checking the
 * request, sealing the undo record before the journal commits, and after
 * the apply recording the state the pull left on the new point (its "tip",
 * restore-point-files.ts), which a restore checks the image against.
 *
 * The point's digest is the image's before the pull — the state restoring to
 * the point gives back. The sync's own HashBlocks pass usually left the
 * image's block hashes in memory (agent/disk/hash-memory.ts), so it costs
 * nothing; otherwise the image is read once.
 *
 * A GUEST-layer pull (a live sync) keeps its point at the guest layer: the
 * undo is read through a read-only qemu-nbd of the image and applied back
 * through the format, and the point's digest is of what the guest saw. For
 * a qcow2 that digest comes from the newest point's tip when the image is
 * still exactly as the previous pull left it (no read), else from one read
 * of the image through qemu-nbd.
 */
import { constants, type BigIntStats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { DEFAULT_BLOCK_SIZE, ImageDigest } from '../../shared/block-hash.js';
import { invalidArgument } from '../../shared/errors.js';
import type { PullImageRequest__Output } from '../../shared/generated/kvmclone/agent/v1/PullImageRequest.js';
import { digestFile } from '../disk/block-hasher.js';
import { identityOf, sameIdentity, type HashMemory } from '../disk/hash-memory.js';
import type { ConfinedDir } from '../paths/confined-dir.js';
import { JournalWriter } from './journal-writer.js';
import { encodePointNote, listPointFiles, MAX_KEEP_POINTS, pointNameFor, recordedTip, recordTip, undoNameFor, type PointTip } from './restore-point-files.js';
import { captureUndo, type UndoTotals } from './undo-capture.js';
import { fileUndoSource, guestUndoSource } from './undo-sources.js';
import type { GuestFormat } from '../guest/guest-client.js';
import { guestDigest } from '../guest/guest-hashes.js';
import { withGuestImage } from '../guest/guest-image.js';

/** Longest point_label kept. */
const MAX_LABEL_CHARS = 200;

/** keep_points of a request, checked: 0 to MAX_KEEP_POINTS, with a label of bounded length. */
export function checkKeepPoints(req: PullImageRequest__Output): number {
  const keep = req.keepPoints ?? 0;
  if (keep === 0) return 0;
  if (keep > MAX_KEEP_POINTS) throw invalidArgument(`keep_points: at most ${MAX_KEEP_POINTS} restore points are kept per image, not ${keep}`);
  if ((req.pointLabel ?? '').length > MAX_LABEL_CHARS) throw invalidArgument(`point_label: at most ${MAX_LABEL_CHARS} characters`);
  return keep;
}

/** What keepUndo needs from the pull. */
export interface UndoContext {
  /** The image, open since the pull began: the inode its journal is bound to. */
  readonly held: FileHandle;
  readonly dir: ConfinedDir;
  readonly target: string;
  /** The image as the journal began. */
  readonly image: BigIntStats;
  /** The size after the apply. */
  readonly size: number;
  readonly journal: JournalWriter;
  readonly pointId: bigint;
  readonly keep: number;
  readonly req: PullImageRequest__Output;
  readonly deps: { readonly hashMemory: HashMemory; readonly runtimeDir: string };
  readonly log: Logger;
  /** A GUEST-layer pull: the image's format, which the undo is read and applied through. */
  readonly guest?: { readonly format: GuestFormat };
}

/** Digest of the image as it is now: from remembered block hashes when they are of exactly this state, else read. */
async function digestNow(held: FileHandle, target: string, hashMemory: HashMemory, signal: AbortSignal): Promise<string> {
  const st = await held.stat({ bigint: true });
  const remembered = hashMemory.recall(target, identityOf(st), DEFAULT_BLOCK_SIZE);
  if (remembered === undefined) return digestFile(held, Number(st.size), signal);
  return ImageDigest.of(Number(st.size), remembered);
}

/**
 * The digest of a qcow2's guest view as the newest point's pull (or
 * restore) left it, when the image is still in exactly that state (same
 * file identity) and the tip is of the guest view; undefined otherwise.
 */
async function guestDigestFromTip(held: FileHandle, target: string, dir: ConfinedDir): Promise<string | undefined> {
  const newest = (await listPointFiles(target))[0];
  if (newest === undefined) return undefined;
  const tip = recordedTip(dir.pathOf(newest.name));
  if (tip === undefined || tip.layer !== 'guest') return undefined;
  return sameIdentity(identityOf(await held.stat({ bigint: true })), tip.identity) ? tip.digest : undefined;
}

/**
 * Writes and seals the pending undo record of the pull's journal (every
 * record is in it), with the point's description. Throws with the undo
 * removed when anything fails; the caller then discards the journal.
 */
export async function keepUndo(c: UndoContext, signal: AbortSignal): Promise<UndoTotals> {
  const undo = await JournalWriter.create(join(dirname(c.target), undoNameFor(c.target)), c.target, c.dir);
  try {
    const base = { dev: c.image.dev, ino: c.image.ino, newSize: c.size, spans: c.journal.writtenSpans(), id: c.pointId };
    const noteFor = (digest: string): Buffer =>
      encodePointNote({ id: String(c.pointId), createdMs: Date.now(), digest, label: c.req.pointLabel ?? '', operationId: c.req.operationId, keep: c.keep });
    const guest = c.guest;
    if (guest === undefined) {
      const digest = await digestNow(c.held, c.target, c.deps.hashMemory, signal);
      return await captureUndo({ ...base, source: fileUndoSource(c.held), oldSize: Number(c.image.size), note: noteFor(digest) }, undo, signal);
    }
    // Read through the same layer the journal writes: a read-only qemu-nbd of the untouched image.
    return await withGuestImage(c.target, guest.format, { writable: false, runtimeDir: c.deps.runtimeDir, signal }, async (image) => {
      // A raw image is its own guest view: its file digest (remembered hashes when the PLAN just hashed it) is the guest one.
      const digest =
        guest.format === 'raw'
          ? await digestNow(c.held, c.target, c.deps.hashMemory, signal)
          : ((await guestDigestFromTip(c.held, c.target, c.dir)) ?? (await guestDigest(image.client, signal)));
      const layer = guest.format === 'qcow2' ? 'guest-qcow2' : 'guest-raw';
      return captureUndo({ ...base, source: guestUndoSource(image.client), layer, oldSize: image.size, note: noteFor(digest) }, undo, signal);
    });
  } catch (err) {
    await undo.discard();
    await c.dir.sync().catch(() => undefined);
    throw err;
  } finally {
    // Sealed or discarded: the lock goes, so the settle can take the undo and make it a point.
    await undo.close();
  }
}

/** Records on point `id` the state the pull left the image in. Best effort: a restore without it digests the image instead. */
export async function recordPointTip(dir: ConfinedDir, target: string, id: bigint, tip: PointTip, log: Logger): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await dir.openFile(pointNameFor(target, id), constants.O_RDWR, 'restore point');
  } catch (err) {
    log.warn({ err, point: String(id) }, 'the new restore point is not beside the image after the apply');
    return;
  }
  try {
    if (!recordTip(fh, tip)) log.info({ point: String(id) }, "the filesystem keeps no user attributes: a restore will digest the image to check it is the newest point's state");
  } finally {
    await fh.close();
  }
}
