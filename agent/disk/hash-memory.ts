/**
 * Block hashes the agent has already taken of a file, kept while the file
 * provably has not changed since, so it is not read and hashed again.
 *
 * A sync hashes the destination image whole (to find the differing blocks)
 * and, after applying the changes, needs the image's digest: with the hashes
 * remembered, only the changed blocks are read again (on the testbed that
 * turns a ~2 s re-read of a 10 GiB image into ~0.1 s). A dry run followed by
 * the real sync hashes nothing twice either.
 *
 * "Provably unchanged" is the file's identity: device, inode, size, mtime and
 * ctime, taken before and after hashing and again when recalled. ctime cannot
 * be set by a user, but it only moves in timestamp ticks, so a write landing
 * in the same tick as the file's previous change would not show. Hashes are
 * therefore kept only when the file's last change was a margin before the
 * hashing started (git's "racily clean" rule): any later write then falls in
 * a later tick and changes the identity. The margin is racyMarginOf's: a
 * second where the filesystem keeps whole seconds, 50 ms where it keeps finer
 * timestamps (ticks there are the kernel's coarse clock, 1–10 ms).
 */
import type { BigIntStats } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** What identifies one state of a file's contents. */
export interface FileIdentity {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
}

/** The identity of a file from its (bigint) stat. */
export function identityOf(st: BigIntStats): FileIdentity {
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs };
}

/** Whether two identities are of the same file in the same state (device, inode, size, mtime, ctime). */
export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

/** Wall-clock nanoseconds, the clock file timestamps are taken from. */
export function wallClockNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/** How long before hashing starts the file must have last changed, on a filesystem with whole-second timestamps (1 s: coarser than any Linux filesystem's ticks but FAT's). */
export const RACY_MARGIN_NS = 1_000_000_000n;

/**
 * The same where the filesystem keeps sub-second timestamps (ext4 with large
 * inodes, xfs, btrfs, tmpfs): their ctime comes from the kernel's coarse clock,
 * whose tick is 1 to 10 ms (HZ 1000 to 100), or is finer still (multigrain
 * timestamps, Linux 6.13 on); 50 ms leaves room for a late tick.
 */
export const FINE_RACY_MARGIN_NS = 50_000_000n;

/**
 * The racy margin for a file in this state: FINE_RACY_MARGIN_NS when its
 * ctime has a sub-second part (the filesystem keeps them), RACY_MARGIN_NS when
 * it falls on a whole second — a filesystem that keeps whole seconds, or by
 * chance a finer one, where the long margin is merely cautious.
 */
export function racyMarginOf(identity: FileIdentity): bigint {
  return identity.ctimeNs % 1_000_000_000n === 0n ? RACY_MARGIN_NS : FINE_RACY_MARGIN_NS;
}

/**
 * Waits until a file last changed at `identity` is past its racy margin, so
 * that hashes taken from now on can be remembered; resolves false at once,
 * without waiting, when that margin is the whole-second one (a second is too
 * long to hold up a caller for) or the file's ctime is ahead of the clock.
 */
export async function pastFineRacyMargin(identity: FileIdentity, signal: AbortSignal): Promise<boolean> {
  if (racyMarginOf(identity) !== FINE_RACY_MARGIN_NS) return false;
  const waitNs = identity.ctimeNs + FINE_RACY_MARGIN_NS - wallClockNs();
  // A ctime well ahead of the clock (stepped back since the write): no wait, and no telling when the margin has
  // passed. Within the margin it is only Date.now()'s truncation to whole milliseconds, or a little skew.
  if (waitNs > 2n * FINE_RACY_MARGIN_NS) return false;
  // Date.now() counts whole milliseconds: one more makes up for the truncation
  if (waitNs > 0n) await sleep(Number(waitNs / 1_000_000n) + 1, undefined, { signal });
  return true;
}

/** Default cap on remembered hash bytes: 32 MiB holds the 64 KiB block hashes of 128 GiB of images. */
export const DEFAULT_HASH_MEMORY_BYTES = 32 * 1024 * 1024;

/** Block hashes per resolved path, least recently used dropped first, within a byte cap. */
export class HashMemory {
  private readonly entries = new Map<string, { identity: FileIdentity; blockSize: number; hashes: Buffer }>();
  private bytes = 0;

  constructor(private readonly maxBytes: number = DEFAULT_HASH_MEMORY_BYTES) {}

  /** The block hashes of `path` (every block, in order) if they were taken of exactly this state of it. */
  recall(path: string, now: FileIdentity, blockSize: number): Buffer | undefined {
    const entry = this.entries.get(path);
    if (entry === undefined) return undefined;
    if (!sameIdentity(entry.identity, now) || entry.blockSize !== blockSize) {
      this.forget(path);
      return undefined;
    }
    // Most recently used last.
    this.entries.delete(path);
    this.entries.set(path, entry);
    return entry.hashes;
  }

  /**
   * Remembers the hashes of every block of `path`, read between `startedNs`
   * (when the file was `before`) and now (when it is `after`). Refused — and
   * any older entry dropped — when the file changed meanwhile, changed less
   * than its racy margin (racyMarginOf) before the hashing began, or the hashes exceed the cap.
   */
  remember(path: string, before: FileIdentity, after: FileIdentity, startedNs: bigint, blockSize: number, hashes: Buffer): boolean {
    this.forget(path);
    if (!sameIdentity(before, after) || after.ctimeNs + racyMarginOf(after) > startedNs || hashes.length > this.maxBytes) return false;
    while (this.bytes + hashes.length > this.maxBytes) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.forget(oldest.value);
    }
    this.entries.set(path, { identity: after, blockSize, hashes });
    this.bytes += hashes.length;
    return true;
  }

  /** Whether `bytes` of hashes could be remembered at all (a caller need not collect more). */
  canHold(bytes: number): boolean {
    return bytes <= this.maxBytes;
  }

  /** Drops what is remembered of `path`. */
  forget(path: string): void {
    const entry = this.entries.get(path);
    if (entry === undefined) return;
    this.entries.delete(path);
    this.bytes -= entry.hashes.length;
  }

  /** Bytes of hashes held (for tests and diagnostics). */
  get size(): number {
    return this.bytes;
  }
}
