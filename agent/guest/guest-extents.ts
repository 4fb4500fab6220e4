/**
 * Extent maps of an NBD export: any meta context as flagged extents, and
 * base:allocation as the data / hole / zero extents the rest of the data
 * plane speaks (agent/disk/extent-map.ts), on guest offsets.
 *
 * Servers answer block status in pieces, may stop short of the span asked
 * for, and may run past it; the walk here asks again from where an answer
 * stopped and clips what runs past, so callers always get the span covered
 * exactly once, in order. Only NBD_STATE_ZERO vouches for zeros: a hole
 * without it (the spec allows one) is data, to be read.
 */
import { dataLoss } from '../../shared/errors.js';
import { mergeExtents, type Extent, type ExtentKind } from '../disk/extent-map.js';
import type { ContextExtent, GuestReader } from './guest-client.js';

/** NBD meta context of allocation status: every server that speaks block status has it. */
export const BASE_ALLOCATION = 'base:allocation';
/** base:allocation bits (NBD spec). */
export const NBD_STATE_HOLE = 1;
export const NBD_STATE_ZERO = 2;

/** Most times a server may answer a block status query with nothing new before the walk gives up. */
const MAX_EMPTY_ANSWERS = 3;

/**
 * Extents of `context` over [offset, offset + length) of `client`'s export,
 * contiguous, in order, clipped to the span. DATA_LOSS when the server skips
 * bytes or keeps answering with nothing.
 */
export async function* contextExtents(client: GuestReader, context: string, offset: number, length: number, signal: AbortSignal): AsyncGenerator<ContextExtent> {
  const end = offset + length;
  let pos = offset;
  let empty = 0;
  while (pos < end) {
    signal.throwIfAborted();
    const before = pos;
    for await (const e of client.extents(context, pos, end - pos, signal)) {
      if (e.length <= 0) continue;
      if (e.offset + e.length <= pos) continue;
      if (e.offset > pos) throw dataLoss(`the NBD server's ${context} map skips bytes ${pos} to ${e.offset}`);
      const stop = Math.min(end, e.offset + e.length);
      yield { offset: pos, length: stop - pos, flags: e.flags };
      pos = stop;
      if (pos >= end) break;
    }
    if (pos !== before) empty = 0;
    else if ((empty += 1) >= MAX_EMPTY_ANSWERS) throw dataLoss(`the NBD server reports no ${context} extents from byte ${pos}`);
  }
}

/** Kind of a base:allocation extent: zeros it vouches for are HOLE (unallocated) or ZERO; all else DATA. */
export function allocationKind(flags: number): ExtentKind {
  if ((flags & NBD_STATE_ZERO) === 0) return 'data';
  return (flags & NBD_STATE_HOLE) !== 0 ? 'hole' : 'zero';
}

/** base:allocation of [offset, offset + length) as data / hole / zero extents (not merged). */
export async function* allocationExtents(client: GuestReader, offset: number, length: number, signal: AbortSignal): AsyncGenerator<Extent> {
  for await (const e of contextExtents(client, BASE_ALLOCATION, offset, length, signal)) yield { offset: e.offset, length: e.length, kind: allocationKind(e.flags) };
}

/**
 * Extents for agent/disk/read-plan.ts planReads, which reads everything but
 * holes: every span vouched for as zeros becomes a 'hole', so it is passed
 * through unread.
 */
export async function* zerosAsHoles(extents: AsyncIterable<Extent>): AsyncGenerator<Extent> {
  for await (const e of extents) yield e.kind === 'data' ? e : { ...e, kind: 'hole' };
}

/**
 * The guest-layer map of a whole export (MapExtents GUEST on a view, or on an
 * image through qemu-nbd): merged data / hole / zero extents covering [0, size).
 */
export function guestExtents(client: GuestReader, signal: AbortSignal): AsyncGenerator<Extent> {
  return mergeExtents(allocationExtents(client, 0, client.size, signal));
}

/**
 * The spans of [offset, offset + length) (default: the whole export) whose
 * `context` flags have any bit of `mask` set, merged — e.g. the dirty blocks
 * of "qemu:dirty-bitmap:backup-vda" with mask 1.
 */
export async function* flaggedSpans(
  client: GuestReader,
  context: string,
  mask: number,
  signal: AbortSignal,
  span: { offset: number; length: number } = { offset: 0, length: client.size },
): AsyncGenerator<{ offset: number; length: number }> {
  let pending: { offset: number; length: number } | undefined;
  for await (const e of contextExtents(client, context, span.offset, span.length, signal)) {
    if ((e.flags & mask) === 0) continue;
    if (pending !== undefined && pending.offset + pending.length === e.offset) pending = { offset: pending.offset, length: pending.length + e.length };
    else {
      if (pending !== undefined) yield pending;
      pending = { offset: e.offset, length: e.length };
    }
  }
  if (pending !== undefined) yield pending;
}

/** Above this many ranges, one allocation walk over their whole span costs fewer round trips than one per range. */
const RANGES_FOR_ONE_WALK = 8;

/**
 * base:allocation of many ascending ranges of an export. A changed-block
 * sync asks for a thousand or more scattered 64 KiB ranges: one walk over
 * their whole span (the server answers in as many extents as the image has
 * runs, usually few) replaces a block-status round trip per range. Ask for
 * the ranges in ascending, non-overlapping order.
 */
export class AllocationCursor {
  private readonly walk: AsyncIterator<Extent> | undefined;
  private current: Extent | undefined;

  constructor(
    private readonly client: GuestReader,
    ranges: readonly { offset: number; length: number }[],
    private readonly signal: AbortSignal,
  ) {
    const first = ranges[0];
    const last = ranges.at(-1);
    if (ranges.length > RANGES_FOR_ONE_WALK && first && last) {
      this.walk = allocationExtents(client, first.offset, last.offset + last.length - first.offset, signal)[Symbol.asyncIterator]();
    }
  }

  /** The allocation extents of [offset, offset + length), clipped to it. */
  async *within(offset: number, length: number): AsyncGenerator<Extent> {
    if (this.walk === undefined) {
      yield* allocationExtents(this.client, offset, length, this.signal);
      return;
    }
    const end = offset + length;
    for (;;) {
      if (this.current === undefined) {
        const next = await this.walk.next();
        if (next.done === true) return;
        this.current = next.value;
      }
      const e = this.current;
      if (e.offset + e.length <= offset) {
        this.current = undefined;
        continue;
      }
      if (e.offset >= end) return;
      const from = Math.max(e.offset, offset);
      const to = Math.min(e.offset + e.length, end);
      yield { offset: from, length: to - from, kind: e.kind };
      if (e.offset + e.length > end) return;
      this.current = undefined;
    }
  }
}
