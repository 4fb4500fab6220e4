/**
 * Restore points on disk: what they are called, what they say about
 * themselves, and how the ones beside an image are found.
 *
 * A restore point is the undo record of one in-place pull: a file in the
 * sync journal's format (journal-format.ts) holding the image as it was over
 * exactly the spans that pull overwrote, with the image's old size in its
 * header, so applying it like a journal takes the image back. Its
 * description (digest, time, label, keep) is a note record inside the file,
 * so a point is one file and a rename moves all of it.
 *
 * Names, beside the image `img` (same directory, so same filesystem):
 *
 * - `.img.kvmclone-undo` — the undo record of the pull under way (pending):
 *   written and sealed before that pull's journal commits. It becomes a
 *   point only once the journal with the same id has committed; a pending
 *   undo without such a journal is discarded by journal recovery.
 * - `.img.kvmclone-point-<id>` — a kept point; ids are decimal, larger is
 *   newer (milliseconds since the epoch when made, or one more than the
 *   newest point, whichever is larger).
 *
 * Neither is a leftover (agent/leftovers/leftover-names.ts knows the names
 * and never lists them): a point is kept data, and a pending undo is
 * settled by journal recovery together with its journal.
 *
 * The newest point also carries, as an extended attribute, the state of
 * the image its pull left (digest and file identity, the "tip"): a restore
 * first checks the image is still in that state, since rolling back through
 * undo records from any other state would not give the point's bytes.
 */
import { basename, dirname, join } from 'node:path';
import { readdir } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { errnoCode } from '../../shared/errors.js';
import { fsetxattr, lgetxattr } from '../native/libc.js';
import type { FileIdentity } from '../disk/hash-memory.js';

const UNDO_SUFFIX = '.kvmclone-undo';
const POINT_INFIX = '.kvmclone-point-';
const UNDO_NAME = /^\.(.+)\.kvmclone-undo$/;
const POINT_NAME = /^\.(.+)\.kvmclone-point-([0-9]{1,19})$/;

/** Most points an image may keep (a bound on what one request can ask the agent to hold). */
export const MAX_KEEP_POINTS = 64;

/** The name of the pending undo record of `image` (a path or a name). */
export function undoNameFor(image: string): string {
  return `.${basename(image)}${UNDO_SUFFIX}`;
}

/** The name of point `id` of `image`. */
export function pointNameFor(image: string, id: bigint): string {
  return `.${basename(image)}${POINT_INFIX}${id}`;
}

/** What a directory entry's name says, if it is a pending undo or a point. */
export function parseRestorePointName(name: string): { kind: 'undo'; image: string } | { kind: 'point'; image: string; id: bigint } | undefined {
  const p = POINT_NAME.exec(name);
  if (p) return { kind: 'point', image: p[1], id: BigInt(p[2]) };
  const u = UNDO_NAME.exec(name);
  return u ? { kind: 'undo', image: u[1] } : undefined;
}

/** A point's description, the note record inside it. */
export interface PointNote {
  readonly id: string;
  /** Unix milliseconds when the pull committed. */
  readonly createdMs: number;
  /** Digest (DigestImage form, file as stored) of the image the point restores. */
  readonly digest: string;
  readonly label: string;
  readonly operationId: string;
  /** How many points the pull that made it asked to keep (recovery prunes to it). */
  readonly keep: number;
}

/** The note's bytes. */
export function encodePointNote(note: PointNote): Buffer {
  return Buffer.from(JSON.stringify({ kvmclonePoint: 1, ...note }), 'utf8');
}

/** Parses a note; undefined when the text is not a point's description (the journal is then no point). */
export function decodePointNote(text: Buffer | undefined): PointNote | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (v.kvmclonePoint !== 1 || typeof v.id !== 'string' || typeof v.createdMs !== 'number' || typeof v.digest !== 'string') return undefined;
  return {
    id: v.id,
    createdMs: v.createdMs,
    digest: v.digest,
    label: typeof v.label === 'string' ? v.label : '',
    operationId: typeof v.operationId === 'string' ? v.operationId : '',
    keep: typeof v.keep === 'number' ? v.keep : 0,
  };
}

/** A point found beside an image. */
export interface PointFile {
  readonly id: bigint;
  readonly name: string;
  readonly path: string;
}

/** The points beside `image`, newest first (by name only; their content is checked by whoever uses them). */
export async function listPointFiles(image: string): Promise<PointFile[]> {
  const dir = dirname(image);
  const own = basename(image);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
  const points: PointFile[] = [];
  for (const name of names) {
    const parsed = parseRestorePointName(name);
    if (parsed?.kind === 'point' && parsed.image === own) points.push({ id: parsed.id, name, path: join(dir, name) });
  }
  return points.sort((a, b) => (a.id > b.id ? -1 : a.id < b.id ? 1 : 0));
}

/** The id of a new point: now in milliseconds, or one past the newest point when the clock is behind it. */
export function nextPointId(existing: readonly PointFile[], nowMs: number = Date.now()): bigint {
  const newest = existing[0]?.id ?? 0n;
  const now = BigInt(Math.floor(nowMs));
  return now > newest ? now : newest + 1n;
}

/** The attribute the newest point keeps the image's state in. */
const TIP_XATTR = 'user.kvmclone.point-tip';

/** The state an image was left in by the pull of the newest point. */
export interface PointTip {
  readonly digest: string;
  /**
   * What `digest` is of: the file as stored, or what the guest sees through
   * the image's format (a live sync's, or a restore of a live sync's point).
   * Of a raw image the two are the same; of a qcow2 they differ.
   */
  readonly layer: 'file' | 'guest';
  readonly identity: FileIdentity;
}

/**
 * Records `tip` on the point open in `fh`. Best effort (a filesystem without
 * user attributes keeps none): a restore without a tip digests the image
 * instead of trusting it, and checks the result either way.
 */
export function recordTip(fh: FileHandle, tip: PointTip): boolean {
  const { identity } = tip;
  const text = JSON.stringify({
    digest: tip.digest,
    layer: tip.layer,
    dev: String(identity.dev),
    ino: String(identity.ino),
    size: String(identity.size),
    mtimeNs: String(identity.mtimeNs),
    ctimeNs: String(identity.ctimeNs),
  });
  try {
    fsetxattr(fh.fd, TIP_XATTR, Buffer.from(text, 'utf8'));
    return true;
  } catch {
    return false;
  }
}

/** The tip recorded on the point at `path`, or undefined. */
export function recordedTip(path: string): PointTip | undefined {
  let raw: Buffer | undefined;
  try {
    raw = lgetxattr(path, TIP_XATTR, 1024);
  } catch {
    return undefined;
  }
  if (raw === undefined) return undefined;
  try {
    const v = JSON.parse(raw.toString('utf8')) as Record<string, string>;
    const big = (key: string): bigint => BigInt(v[key] ?? 'x');
    // A tip without a layer was recorded before live syncs kept points: by a file-layer pull.
    return {
      digest: String(v.digest),
      layer: v.layer === 'guest' ? 'guest' : 'file',
      identity: { dev: big('dev'), ino: big('ino'), size: big('size'), mtimeNs: big('mtimeNs'), ctimeNs: big('ctimeNs') },
    };
  } catch {
    return undefined;
  }
}
