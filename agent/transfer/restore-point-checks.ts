/**
 * The checks a restore (restore-points.ts) makes before it changes anything:
 * every point of the chain whole and kept for this very file, no offline
 * point of a qcow2 applied after a live one, and the image still in the
 * state the newest point's pull left — and the digest of the image, of the
 * layer a point was kept of, which is checked again after the rollback.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';
import { dataLoss, failedPrecondition } from '../../shared/errors.js';
import { digestFile } from '../disk/block-hasher.js';
import { identityOf, sameIdentity } from '../disk/hash-memory.js';
import { readExactly } from '../disk/read-ahead.js';
import type { GuestFormat } from '../guest/guest-client.js';
import { digestGuestImage } from '../guest/guest-disk-calls.js';
import type { ConfinedDir } from '../paths/confined-dir.js';
import type { JournalLayer } from './journal-format.js';
import { checkJournal } from './journal-reader.js';
import { openBeside, type PointPlace } from './restore-point-chain.js';
import { decodePointNote, type PointFile, type PointNote, type PointTip } from './restore-point-files.js';

/** The image of a request, opened read-only beneath the roots, with its directory held. */
export interface HeldImage {
  readonly target: string;
  readonly fh: FileHandle;
  readonly dir: ConfinedDir;
}

/** A point checked whole: its description and the layer it is applied through. */
export interface CheckedPoint {
  readonly note: PointNote;
  readonly layer: JournalLayer;
}

/** Checks a point whole before anything is changed: committed, for this inode, with its description. */
export async function checkPoint(place: PointPlace, point: PointFile, image: { dev: bigint; ino: bigint }): Promise<CheckedPoint> {
  const fh = await openBeside(place, point.name);
  try {
    const st = await fh.stat({ bigint: true });
    const check = await checkJournal((p, n, into) => readExactly(fh, p, n, into), Number(st.size));
    if (check.state !== 'committed')
      throw dataLoss(
        `restore point ${point.id} of ${place.image} is damaged (${check.state}: ${check.reason}); nothing was changed — it and the points older than it cannot be restored`,
      );
    if (check.header.ino !== image.ino || st.dev !== image.dev) {
      throw failedPrecondition(
        `restore point ${point.id} was kept for another file than the one at ${place.image} now (it was replaced): its points no longer apply; nothing was changed`,
      );
    }
    const note = decodePointNote(check.note);
    if (note === undefined) throw dataLoss(`restore point ${point.id} of ${place.image} has no description; nothing was changed`);
    return { note, layer: check.header.layer ?? 'file' };
  } finally {
    await fh.close();
  }
}

/** What a digest of the image is taken of: the file as stored, or the guest view through `format`. */
export type DigestKind = { readonly layer: 'file' } | { readonly layer: 'guest'; readonly format: GuestFormat };

/** The image's digest now, of `kind`. */
export async function digestAs(held: HeldImage, kind: DigestKind, runtimeDir: string, signal: AbortSignal): Promise<string> {
  if (kind.layer === 'guest') return (await digestGuestImage(held.target, kind.format, runtimeDir, signal)).digest;
  return digestFile(held.fh, Number((await held.fh.stat()).size), signal);
}

/** The digest kind of a point's layer (its recorded digest is of that kind). */
export function kindOfLayer(layer: JournalLayer): DigestKind {
  return layer === 'file' ? { layer: 'file' } : { layer: 'guest', format: layer === 'guest-qcow2' ? 'qcow2' : 'raw' };
}

/**
 * The image must be in the state the newest point's pull left: by the file
 * identity recorded then (no read), else by digest. Without a recorded tip
 * (a filesystem without user attributes, or the pull's apply was finished
 * by recovery) this cannot be told up front; the final digest check still
 * catches a wrong result.
 */
export async function checkTip(
  held: HeldImage,
  newest: PointFile,
  tip: PointTip | undefined,
  qcow2: boolean,
  deps: { readonly runtimeDir: string },
  log: Logger,
  signal: AbortSignal,
): Promise<void> {
  const st = await held.fh.stat({ bigint: true });
  if (tip === undefined) {
    log.warn(
      { image: held.target, point: String(newest.id) },
      "no record of the state the newest point's sync left: the image is restored without checking it first (the result is still checked by digest)",
    );
    return;
  }
  if (sameIdentity(identityOf(st), tip.identity)) return;
  const digest = await digestAs(held, tip.layer === 'guest' ? { layer: 'guest', format: qcow2 ? 'qcow2' : 'raw' } : { layer: 'file' }, deps.runtimeDir, signal);
  if (digest !== tip.digest) {
    throw failedPrecondition(
      `${held.target} changed after the sync that kept restore point ${newest.id} (its VM ran, or something else wrote it): rolling back through the points from here would not give their state; nothing was changed (remove the points, or sync again to start a new chain)`,
    );
  }
}

/**
 * Refuses (nothing changed) a chain that would apply an offline sync's
 * file-layer point to a qcow2 after a newer live sync's point was applied
 * through the format in the same chain. The agent removes such offline
 * points when the format is first written (restore-point-chain.ts); this
 * holds for points it did not get to remove (copied back by hand, say).
 */
export function refuseMixedQcow2(held: HeldImage, chain: readonly PointFile[], checked: readonly CheckedPoint[]): void {
  let live: string | undefined;
  for (const [i, c] of checked.entries()) {
    const id = String(chain[i]?.id);
    if (c.layer !== 'file') live ??= id;
    else if (live !== undefined) {
      throw failedPrecondition(
        `restore point ${id} of ${held.target} was kept by an offline sync, which keeps the qcow2 file's own bytes, but restore point ${live} was kept by a live sync and is applied through the image's format before it: the file's clusters would no longer be those the point was read from; nothing was changed (restore to a point kept by a live sync, or a newer one)`,
      );
    }
  }
}
