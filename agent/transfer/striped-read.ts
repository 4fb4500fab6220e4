/**
 * A whole-file pull over several connections to the source's peer socket
 * (PullImageRequest.streams): on a long link one SSH channel's window caps
 * what one connection can carry (2 MiB in flight per channel in OpenSSH),
 * while each connection to a forwarded socket is a channel of its own. The
 * file is cut into stripes dealt round-robin to the connections; each reads
 * its stripes in order, and the pieces are merged back into file order here,
 * so the staging writer and the streaming digest (stream-digest.ts) see
 * exactly what one whole-file read would give them. A stream that runs
 * ahead waits in its own buffers (its HTTP/2 window), so memory is bounded
 * by streams × window.
 */
import type { ReadRangesResponse__Output } from '../../shared/generated/kvmclone/agent/v1/ReadRangesResponse.js';
import { dataLoss } from '../../shared/errors.js';

/** Bytes of one stripe: whole 64 KiB blocks, large enough that a stream's requests stay few. */
export const STRIPE_BYTES = 16 * 1024 * 1024;

/** One range of a ReadRanges request. */
export interface StripeRange {
  offset: number;
  length: number;
}

/** The ranges stream `i` of `streams` reads: every streams-th stripe of a `size`-byte file, from the i-th. */
export function stripeRanges(size: number, streams: number, stripe = STRIPE_BYTES): StripeRange[][] {
  const out: StripeRange[][] = Array.from({ length: streams }, () => []);
  for (let k = 0, offset = 0; offset < size; k++, offset += stripe) out[k % streams]?.push({ offset, length: Math.min(stripe, size - offset) });
  return out;
}

function offsetOf(message: ReadRangesResponse__Output): number {
  if (message.data) return message.data.offset;
  if (message.zero) return message.zero.offset;
  throw dataLoss('the source sent a ReadRanges message with neither data nor zero');
}

function endOf(message: ReadRangesResponse__Output): number {
  return message.data ? message.data.offset + message.data.data.length : (message.zero?.offset ?? 0) + (message.zero?.length ?? 0);
}

/**
 * The messages of several streams merged into file order. Each stream must
 * give its pieces in increasing offset order over disjoint stripes (as a
 * ReadRanges of sorted ranges does); a piece that starts before the end of
 * one already given is DATA_LOSS. Ending early (return, throw) ends every stream.
 */
export async function* mergeInOrder(streams: readonly AsyncIterator<ReadRangesResponse__Output>[]): AsyncGenerator<ReadRangesResponse__Output> {
  const heads = await Promise.all(streams.map((s) => s.next()));
  let end = 0;
  try {
    for (;;) {
      let pick = -1;
      let least = Infinity;
      heads.forEach((h, i) => {
        if (h.done !== true) {
          const at = offsetOf(h.value);
          if (at < least) [pick, least] = [i, at];
        }
      });
      const head = heads[pick];
      const stream = streams[pick];
      if (head === undefined || head.done === true || stream === undefined) return;
      if (least < end) throw dataLoss(`the source sent the piece at offset ${least} after one that ended at ${end}`);
      end = endOf(head.value);
      yield head.value;
      heads[pick] = await stream.next();
    }
  } finally {
    await Promise.allSettled(streams.flatMap((s) => (s.return ? [s.return()] : [])));
  }
}
