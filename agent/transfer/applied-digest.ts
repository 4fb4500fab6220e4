/**
 * The digest of an image a sync has just changed in place, without reading
 * all of it again: the block hashes remembered from before the change (the
 * sync's own HashBlocks pass, agent/disk/hash-memory.ts), with every block the
 * sync touched — its ranges, and the tail when the size changed — read back
 * from the image and hashed anew.
 *
 * An in-place sync of a qcow2 that keeps its own backing reference
 * (in-place-header.ts) digests the image in the source's form: the hashes of
 * its first bytes are those of the bytes the source sent (`sourceStart`),
 * so the digest compares with the source's; the one difference there is the
 * backing reference the destination kept.
 */
import type { FileHandle } from 'node:fs/promises';
import { blockHash, DEFAULT_BLOCK_SIZE, HASH_BYTES, ImageDigest } from '../../shared/block-hash.js';
import { digestFile, hashBlocks, type HashPlan } from '../disk/block-hasher.js';
import { BufferPool } from '../disk/buffer-pool.js';
import { identityOf, pastFineRacyMargin, wallClockNs, type HashMemory } from '../disk/hash-memory.js';
import { READ_AHEAD_DEPTH, readAhead } from '../disk/read-ahead.js';
import type { ByteSpan } from '../disk/request-limits.js';
import { rememberedDigest } from '../disk/remembered-hashes.js';

/** Spans up to this size are read whole; longer ones go through hashBlocks (holes skipped). */
const SMALL_SPAN_BYTES = 4 * 1024 * 1024;

/** `spans` widened to whole blocks of a `size`-byte file, sorted and merged. */
export function blockSpans(spans: readonly ByteSpan[], size: number, blockSize: number): ByteSpan[] {
  const widened = spans
    .map((s) => ({ start: Math.floor(s.offset / blockSize) * blockSize, end: Math.min(size, Math.ceil((s.offset + s.length) / blockSize) * blockSize) }))
    .filter((s) => s.end > s.start)
    .sort((a, b) => a.start - b.start);
  const merged: ByteSpan[] = [];
  let current: { start: number; end: number } | undefined;
  for (const s of widened) {
    if (current !== undefined && s.start <= current.end) current.end = Math.max(current.end, s.end);
    else {
      if (current !== undefined) merged.push({ offset: current.start, length: current.end - current.start });
      current = { ...s };
    }
  }
  if (current !== undefined) merged.push({ offset: current.start, length: current.end - current.start });
  return merged;
}

/** An apply as the digests below see it: the image's size before and after, and the spans it wrote. */
export interface AppliedChange {
  readonly oldSize: number;
  readonly newSize: number;
  readonly changed: readonly ByteSpan[];
}

/**
 * Digest (DigestImage form) of the open image `fh`, now `newSize` bytes,
 * whose blocks were `before` (every 64 KiB block hash, taken when it was
 * `oldSize` bytes; given up, see hashesAfterApply) except within `changed`.
 */
export async function digestAfterApply(
  fh: FileHandle,
  before: Buffer,
  oldSize: number,
  newSize: number,
  changed: readonly ByteSpan[],
  signal: AbortSignal,
  sourceStart?: Buffer,
): Promise<string> {
  return ImageDigest.of(newSize, await hashesAfterApply(fh, before, { oldSize, newSize, changed }, signal, sourceStart));
}

/**
 * Every 64 KiB block hash of the open image `fh` after an apply, as
 * digestAfterApply takes them: `before`'s (taken ahead of the apply), with
 * the blocks within `changed` (and a resized tail) read back and hashed anew;
 * with `sourceStart`, its first blocks' hashes are those of the source's form.
 * `before` is the caller's to give up: when the size kept its block count it
 * is rewritten in place and returned (a 100 GiB image's list is 25 MiB, and a
 * copy would hold it twice at the destination's peak); else a new list is made.
 */
export async function hashesAfterApply(fh: FileHandle, before: Buffer, { oldSize, newSize, changed }: AppliedChange, signal: AbortSignal, sourceStart?: Buffer): Promise<Buffer> {
  const blockSize = DEFAULT_BLOCK_SIZE;
  const bytes = Math.ceil(newSize / blockSize) * HASH_BYTES;
  const hashes = before.length === bytes ? before : Buffer.alloc(bytes);
  if (hashes !== before) before.copy(hashes, 0, 0, Math.min(before.length, Math.ceil(Math.min(oldSize, newSize) / blockSize) * HASH_BYTES));
  // A size change rewrites the old last block (now longer or shorter) and everything after it.
  const tailFrom = Math.floor(Math.min(oldSize, newSize) / blockSize) * blockSize;
  const resized = oldSize !== newSize ? [{ offset: tailFrom, length: newSize - tailFrom }] : [];
  // Plain reads, a few in flight: a sync's spans are many and small (a block or a few), so the extent map
  // of hashBlocks costs more per span than reading them (measured: 0.22 s -> 0.05 s for 1609 spans); a
  // grown tail may be large and mostly holes, and goes through hashBlocks.
  const spans = blockSpans([...changed, ...resized], newSize, blockSize);
  const small = spans.filter((span) => span.length <= SMALL_SPAN_BYTES).map((span) => ({ ...span, read: true }));
  // Buffers the size of the longest span read, not of the longest allowed: a sync's are mostly one 64 KiB block.
  const pool = new BufferPool(
    small.reduce((longest, span) => Math.max(longest, span.length), 0),
    READ_AHEAD_DEPTH + 1,
  );
  for await (const { item, data, release } of readAhead(fh, small, signal, READ_AHEAD_DEPTH, pool)) {
    if (data === null) continue;
    for (let at = 0; at < data.length; at += blockSize) {
      blockHash(data.subarray(at, Math.min(data.length, at + blockSize))).copy(hashes, ((item.offset + at) / blockSize) * HASH_BYTES);
    }
    release();
  }
  for (const span of spans.filter((s) => s.length > SMALL_SPAN_BYTES)) {
    const plan = { blockSize, offset: span.offset, length: span.length, batchBlocks: 4096 };
    for await (const batch of hashBlocks(fh, newSize, plan, signal)) batch.hashes.copy(hashes, (batch.offset / blockSize) * HASH_BYTES);
  }
  if (sourceStart !== undefined) overrideStart(hashes, 0, sourceStart, blockSize);
  return hashes;
}

/**
 * The file digest of an image an apply just changed (its blocks its own: no
 * header in the source's form), with its block hashes left in `memory` for
 * the next sync, whose HashBlocks of this image then reads nothing (on the
 * testbed, 0.8 s of a 4 GiB image's warm sync). The hashes are taken once the
 * image's last write is past the racy margin (hash-memory.ts): the 50 ms of a
 * filesystem with sub-second timestamps is waited out; where it keeps whole
 * seconds nothing is remembered. The unchanged blocks' hashes in `before`
 * (undefined: none known, the whole image is read) were taken ahead of the
 * apply, and are given up (rewritten in place into the new list, see
 * hashesAfterApply): like the digest itself, they rest on nothing but the
 * caller being the image's one writer meanwhile (a sync holds the image, its
 * VM shut off, under the operation's lock).
 */
export async function digestRemembering(fh: FileHandle, path: string, memory: HashMemory, before: Buffer | undefined, change: AppliedChange, signal: AbortSignal): Promise<string> {
  const settled = identityOf(await fh.stat({ bigint: true }));
  const remembering = await pastFineRacyMargin(settled, signal);
  const size = Number(settled.size);
  if (before === undefined) return remembering ? rememberedDigest(fh, path, size, memory, signal) : digestFile(fh, size, signal);
  // `settled` is the image's state at the start of the hashing: a write while waiting would differ from it at the end
  const startedNs = wallClockNs();
  const hashes = await hashesAfterApply(fh, before, change, signal);
  if (remembering) memory.remember(path, settled, identityOf(await fh.stat({ bigint: true })), startedNs, DEFAULT_BLOCK_SIZE, hashes);
  return ImageDigest.of(change.newSize, hashes);
}

/**
 * Replaces, in `hashes` (the block hashes of a file from block offset
 * `firstOffset` on), those of the blocks `start` covers from the file's
 * beginning with the hashes of `start`'s bytes; `start` ends on a block
 * boundary or at the end of the file.
 */
function overrideStart(hashes: Buffer, firstOffset: number, start: Buffer, blockSize: number): void {
  for (let at = 0; at < start.length; at += blockSize) {
    if (at < firstOffset) continue;
    const slot = ((at - firstOffset) / blockSize) * HASH_BYTES;
    if (slot >= hashes.length) break;
    blockHash(start.subarray(at, Math.min(start.length, at + blockSize))).copy(hashes, slot);
  }
}

/**
 * Digest (DigestImage form) of the whole open file `fh` of `size` bytes with
 * its first bytes read as `sourceStart` (the source's form of a header the
 * destination rewrote): every block hashed, those hashes replaced.
 */
export async function digestFileAs(fh: FileHandle, size: number, sourceStart: Buffer, signal: AbortSignal): Promise<string> {
  const digest = new ImageDigest(size);
  const plan: HashPlan = { blockSize: DEFAULT_BLOCK_SIZE, offset: 0, length: 0, batchBlocks: 4096 };
  for await (const batch of hashBlocks(fh, size, plan, signal)) {
    const hashes = Buffer.from(batch.hashes);
    overrideStart(hashes, batch.offset, sourceStart, DEFAULT_BLOCK_SIZE);
    digest.update(hashes);
  }
  return digest.digest();
}
