/**
 * The qcow2 header of an image synced in place (FILE layer): checked, and
 * kept on the destination's own backing chain, before the journal commits.
 *
 * A file-layer sync moves the source's changed blocks as stored, and the
 * first block holds the source's header. Two things must not follow from
 * that:
 * - a header naming anything unexpected (an external data file, a protocol,
 *   a backing file outside the image roots, `/dev/sda`) reaching the image:
 *   the header the image will have after the apply is put together in
 *   memory and its whole chain checked before the commit; a refusal
 *   discards the journal and leaves the image as it was;
 * - the destination's chain being undone (hole 7 of issue 10): a copy made
 *   with `--target-dir` was rebased onto its copied base, and the source's
 *   header names the source's path. Where both headers name a backing file,
 *   the header written keeps the destination's backing reference (and
 *   format); everything else in it (tables, sizes, features, extensions) is
 *   the source's. The controller has checked that the bases hold the same
 *   bytes (controller/operations/sync/backing-chains.ts); a source that has
 *   a backing file where the destination has none is refused.
 *
 * So the pieces of the sync that fall in the first HEADER_WINDOW_BYTES are
 * held back from the journal (HeaderWindow) and become one record of the
 * final bytes, written after the others. The digest the pull reports is of
 * the image in the source's form (the header as the source sent it), which
 * is what the controller compares with the source's; the one difference,
 * the backing reference, is the rewrite made here.
 */
import type { FileHandle } from 'node:fs/promises';
import { dataLoss, failedPrecondition, KvmcloneError } from '../../shared/errors.js';
import { checkImageChain, qcow2HeaderOf, type ImageFormat, type Qcow2Header } from '../images/image-header.js';
import { withBackingReference } from '../images/qcow2-backing-rewrite.js';
import type { ImageRoots } from '../paths/image-roots.js';

/** The start of an image held back from the journal: a qcow2 header lives in its first cluster, at most 2 MiB. */
export const HEADER_WINDOW_BYTES = 2 * 1024 * 1024;

type Piece = { offset: number; data: Buffer } | { offset: number; length: number };

/** The pieces of a sync that fall in the first `limit` bytes of the image, kept in arrival order. */
export class HeaderWindow {
  private readonly pieces: Piece[] = [];

  constructor(readonly limit: number = HEADER_WINDOW_BYTES) {}

  /** True when some piece of the sync falls in the window. */
  get touched(): boolean {
    return this.pieces.length > 0;
  }

  /** Keeps the part of a data piece inside the window; returns the part after it, if any, for the journal. */
  takeData(offset: number, data: Buffer): { offset: number; data: Buffer } | undefined {
    if (offset >= this.limit) return { offset, data };
    const inside = Math.min(data.length, this.limit - offset);
    this.pieces.push({ offset, data: Buffer.from(data.subarray(0, inside)) });
    return inside === data.length ? undefined : { offset: offset + inside, data: data.subarray(inside) };
  }

  /** Keeps the part of a zero span inside the window; returns the part after it, if any, for the journal. */
  takeZero(offset: number, length: number): { offset: number; length: number } | undefined {
    if (offset >= this.limit) return { offset, length };
    const inside = Math.min(length, this.limit - offset);
    this.pieces.push({ offset, length: inside });
    return inside === length ? undefined : { offset: offset + inside, length: length - inside };
  }

  /** Writes the kept pieces over `bytes` (the image's first bytes), in the order they came. */
  overlay(bytes: Buffer): void {
    for (const p of this.pieces) {
      if ('data' in p) p.data.copy(bytes, p.offset, 0, Math.max(0, Math.min(p.data.length, bytes.length - p.offset)));
      else bytes.fill(0, p.offset, Math.min(bytes.length, p.offset + p.length));
    }
  }
}

/** What the window becomes: the record to journal (if the first bytes change) and the source's form of them (if it differs). */
export interface HeaderPlan {
  /** The image's first bytes after the apply; undefined when they stay as they are. */
  readonly record?: Buffer;
  /** The first bytes as the source has them, when the record differs from them (the backing reference kept): the digest's view. */
  readonly sourceForm?: Buffer;
  /** The backing reference the header names after the apply ("" for none). */
  readonly backingReference: string;
}

/** What planHeader needs. */
export interface HeaderPlanInput {
  /** The image (resolved under the roots), open; its format is qcow2. */
  readonly target: string;
  readonly fh: FileHandle;
  /** The image's size now and after the apply. */
  readonly currentSize: number;
  readonly newSize: number;
  readonly window: HeaderWindow;
  readonly roots: ImageRoots;
}

async function readStart(fh: FileHandle, currentSize: number, length: number): Promise<Buffer> {
  const bytes = Buffer.alloc(length);
  const wanted = Math.min(length, currentSize);
  let done = 0;
  while (done < wanted) {
    const { bytesRead } = await fh.read(bytes, done, wanted - done, done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return bytes;
}

/**
 * Puts together the first bytes of the qcow2 image `target` as the apply
 * will leave them, keeps the destination's backing reference, and checks the
 * resulting header's whole chain against the roots. DATA_LOSS when the
 * source's bytes would leave no well-formed qcow2 header, FAILED_PRECONDITION
 * when the source has a backing file and the destination none,
 * PERMISSION_DENIED when the header would name anything outside the roots or
 * an external data file. Nothing is written here.
 */
export async function planHeader(input: HeaderPlanInput): Promise<HeaderPlan> {
  const { target, fh, currentSize, newSize, window, roots } = input;
  const length = Math.min(window.limit, newSize);
  const current = await readStart(fh, currentSize, length);
  const now = await qcow2HeaderOf(current, target);
  const composite = Buffer.from(current);
  window.overlay(composite);
  let incoming: Qcow2Header;
  try {
    incoming = await qcow2HeaderOf(composite, `${target} (as the source's bytes would leave it)`);
  } catch (err) {
    if (err instanceof KvmcloneError) throw dataLoss(`${err.message}; the sync was not applied`);
    throw err;
  }
  let final: Buffer = composite;
  if (incoming.backingReference !== '' && (incoming.backingReference !== now.backingReference || incoming.backingFormat !== now.backingFormat)) {
    if (now.backingReference === '') {
      // Where the source's reference would lead here, it must lead nowhere unexpected (PERMISSION_DENIED names it) ...
      await checkImageChain(target, 'qcow2', { roots, topHeader: incoming, field: 'target_path' });
      // ... and even a file under the roots is no base this sync has checked.
      throw failedPrecondition(
        `${target} is a standalone qcow2 image, but the source's header names ${JSON.stringify(incoming.backingReference)} as its backing file: the destination has no base to keep it on; the sync was not applied`,
      );
    }
    final = withBackingReference(composite, incoming.clusterSize, now.backingReference, now.backingFormat as ImageFormat | '', target);
  }
  const header = await qcow2HeaderOf(final, target);
  // The header as it will be, its backing files as they are: every link under the roots, no data file, no protocol.
  await checkImageChain(target, 'qcow2', { roots, topHeader: header, field: 'target_path' });
  return {
    ...(!final.equals(current) && { record: final }),
    ...(final !== composite && !final.equals(composite) && { sourceForm: composite }),
    backingReference: header.backingReference,
  };
}
