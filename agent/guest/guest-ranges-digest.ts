/**
 * The RangesDigest (shared/block-hash.ts) of some ranges of a guest view: the
 * check of a changed-block sync. The source computes it from the blocks it
 * sent (BlockHashLog), the destination by reading the ranges back after the
 * apply; both hash each 64 KiB block the same way (the all-zero hash for a
 * block of zeros, whether it was a hole or data).
 */
import { blockHash, DEFAULT_BLOCK_SIZE, HASH_BYTES, isAllZero, RangesDigest, ZERO_HASH } from '../../shared/block-hash.js';
import type { ByteSpan } from '../disk/request-limits.js';
import type { GuestFormat, GuestReader } from './guest-client.js';
import { withGuestImage } from './guest-image.js';

/** Largest read when a block's hash must be read. */
const READ_BYTES = 4 * 1024 * 1024;

/**
 * Block hashes of what a ReadRanges of a view sent, by block offset: data
 * pieces and zero ranges, observed as they go out. Ranges are on the block
 * grid, so every block is seen whole.
 */
export class BlockHashLog {
  private readonly hashes = new Map<number, Buffer>();

  /** Records the blocks of a data chunk (`offset` on the grid; the last piece may be short). */
  data(offset: number, data: Uint8Array, pieceHashes?: Uint8Array): void {
    for (let at = 0, i = 0; at < data.length; at += DEFAULT_BLOCK_SIZE, i += 1) {
      const piece = data.subarray(at, Math.min(data.length, at + DEFAULT_BLOCK_SIZE));
      const given = pieceHashes && (offset + at) % DEFAULT_BLOCK_SIZE === 0 ? Buffer.from(pieceHashes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES)) : undefined;
      this.hashes.set(offset + at, isAllZero(piece) ? ZERO_HASH : (given ?? blockHash(piece)));
    }
  }

  /** Records a zero range's blocks. */
  zero(offset: number, length: number): void {
    for (let at = offset; at < offset + length; at += DEFAULT_BLOCK_SIZE) this.hashes.set(at, ZERO_HASH);
  }

  /** The hash of the block at `offset`, if it was sent. */
  get(offset: number): Buffer | undefined {
    return this.hashes.get(offset);
  }
}

/** Reads in flight while a ranges digest reads blocks back. */
const READ_DEPTH = 8;

/**
 * The RangesDigest of `ranges` (normalized, on the block grid but for the
 * image's end) of an export of `size` bytes; blocks `known` has are not read.
 * The rest is read with a few requests in flight (a changed-block sync reads
 * back a thousand or more scattered blocks).
 */
export async function digestGuestRanges(reader: GuestReader, ranges: readonly ByteSpan[], size: number, known?: BlockHashLog): Promise<string> {
  const reads: { offset: number; length: number; hashes?: Buffer[] }[] = [];
  const plan: ({ known: Buffer } | { read: (typeof reads)[number] })[][] = ranges.map((r) => {
    const parts: ({ known: Buffer } | { read: (typeof reads)[number] })[] = [];
    for (let at = r.offset; at < r.offset + r.length;) {
      const have = known?.get(at);
      if (have) {
        parts.push({ known: have });
        at += DEFAULT_BLOCK_SIZE;
        continue;
      }
      const read = { offset: at, length: Math.min(READ_BYTES, r.offset + r.length - at) };
      reads.push(read);
      parts.push({ read });
      at += read.length;
    }
    return parts;
  });
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < reads.length; i = next++) {
      const read = reads[i];
      const data = await reader.read(read.offset, read.length);
      read.hashes = [];
      for (let p = 0; p < data.length; p += DEFAULT_BLOCK_SIZE) read.hashes.push(blockHash(data.subarray(p, Math.min(data.length, p + DEFAULT_BLOCK_SIZE))));
    }
  };
  await Promise.all(Array.from({ length: Math.min(READ_DEPTH, reads.length) }, worker));
  const digest = new RangesDigest(size);
  ranges.forEach((r, i) => {
    const hashes = (plan[i] ?? []).flatMap((part) => ('known' in part ? [part.known] : (part.read.hashes ?? [])));
    digest.range(r.offset, r.length, Buffer.concat(hashes));
  });
  return digest.digest();
}

/**
 * The RangesDigest of `ranges` of the image at `resolved` as the guest sees
 * it, read back through a read-only qemu-nbd: the destination's side of a
 * changed-block sync's check.
 */
export async function digestImageRanges(resolved: string, format: GuestFormat, ranges: readonly ByteSpan[], runtimeDir: string, signal: AbortSignal): Promise<string> {
  return withGuestImage(resolved, format, { writable: false, runtimeDir, signal }, (image) => digestGuestRanges(image.client, ranges, image.size));
}
