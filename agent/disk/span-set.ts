/**
 * A set of byte spans kept as sorted, merged intervals.
 *
 * WriteRanges uses it to know which bytes of a new staging file this stream
 * has written: a zero range over untouched bytes of a new (sparse) file needs
 * nothing, but one over bytes written earlier in the same stream must be
 * punched, or a re-sent range would leave stale data behind. Writes arrive
 * mostly in offset order, so adding at the end is O(1) and the set stays as
 * small as the number of data runs.
 */
export class SpanSet {
  /** Sorted, disjoint, non-touching: starts[i] < ends[i] < starts[i + 1]. */
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];

  /** Number of disjoint intervals held. */
  get size(): number {
    return this.starts.length;
  }

  /** Index of the first interval whose end is >= offset (binary search). */
  private firstEndingAtOrAfter(offset: number): number {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ends[mid] < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Adds [offset, offset + length), merging with every interval it overlaps or touches. */
  add(offset: number, length: number): void {
    if (length <= 0) return;
    const end = offset + length;
    const last = this.ends.length - 1;
    if (last < 0 || offset > this.ends[last]) {
      this.starts.push(offset);
      this.ends.push(end);
      return;
    }
    const i = this.firstEndingAtOrAfter(offset);
    let j = i;
    while (j < this.starts.length && this.starts[j] <= end) j += 1;
    if (i === j) {
      this.starts.splice(i, 0, offset);
      this.ends.splice(i, 0, end);
      return;
    }
    const start = Math.min(offset, this.starts[i]);
    const stop = Math.max(end, this.ends[j - 1]);
    this.starts.splice(i, j - i, start);
    this.ends.splice(i, j - i, stop);
  }

  /** The intervals held, in offset order. */
  list(): { offset: number; length: number }[] {
    return this.starts.map((start, i) => ({ offset: start, length: this.ends[i] - start }));
  }

  /** True when any byte of [offset, offset + length) is in the set. */
  overlaps(offset: number, length: number): boolean {
    if (length <= 0) return false;
    const i = this.firstEndingAtOrAfter(offset + 1);
    return i < this.starts.length && this.starts[i] < offset + length;
  }

  /**
   * The parts of `spans` (sorted, disjoint) not in the set, in order: what a
   * resumed in-place pull still has to ask the source for.
   */
  missingFrom(spans: readonly { offset: number; length: number }[]): { offset: number; length: number }[] {
    const out: { offset: number; length: number }[] = [];
    for (const span of spans) {
      let at = span.offset;
      const end = span.offset + span.length;
      for (let i = this.firstEndingAtOrAfter(at + 1); i < this.starts.length && at < end; i += 1) {
        const start = this.starts[i];
        if (start >= end) break;
        if (start > at) out.push({ offset: at, length: start - at });
        at = Math.max(at, this.ends[i]);
      }
      if (at < end) out.push({ offset: at, length: end - at });
    }
    return out;
  }
}
