/**
 * From an image's extents to the reads that cover its data. Kept apart from
 * extent-map.ts so that the hashing threads, which need this plan but take
 * their extents from the main thread, load no more than it. (It was first
 * split off because extent-map.ts loaded fs-ext, a native module that crashed
 * worker threads; its replacement, agent/native/fd-calls.ts, is safe there.)
 */
import type { Extent } from './extent-map.js';
import type { PlannedRead } from './read-ahead.js';

/**
 * Turns extents of [start, end) into a read plan: data widened outwards to
 * multiples of `align` (HashBlocks reads whole blocks), cut at multiples of
 * `readSize`, and holes passed through unread.
 */
export async function* planReads(extents: AsyncIterable<Extent> | Iterable<Extent>, start: number, end: number, align: number, readSize: number): AsyncGenerator<PlannedRead> {
  let pos = start;
  for await (const e of extents) {
    if (e.kind === 'hole') continue;
    const from = Math.max(pos, Math.floor(e.offset / align) * align);
    const to = Math.min(end, Math.ceil((e.offset + e.length) / align) * align);
    if (from >= to) continue;
    if (from > pos) yield { offset: pos, length: from - pos, read: false };
    for (let at = from; at < to;) {
      const next = Math.min(to, (Math.floor(at / readSize) + 1) * readSize);
      yield { offset: at, length: next - at, read: true };
      at = next;
    }
    pos = to;
  }
  if (pos < end) yield { offset: pos, length: end - pos, read: false };
}
