/**
 * One memory budget for everything the agent's server streams hold at once.
 *
 * A stream keeps a few reads ahead of the message being sent and a few
 * messages not yet written to HTTP/2 (bounded-sink.ts), each a chunk buffer
 * plus grpc-js's serialized copy of it. Alone, 3 reads ahead and 4 unwritten
 * messages keep one pipe full; with those limits fixed per stream, memory
 * grows with the number of operations: measured on the testbed, 8 clones at
 * once took the source agent from ~170 to ~230 MiB RSS, about 12 MiB per
 * stream. Under many streams the pipe is shared anyway (the aggregate is
 * bound by SSH and CPU, not by one stream's depth), so each stream's limits
 * shrink with the number of streams sending, and what they hold together
 * stays near one budget instead.
 */

/** A stream's current limits; read them per message (they change as other streams start and end). */
export interface SendSlot {
  /** Messages the stream may have handed to grpc-js but not yet written (1..MAX_UNWRITTEN). */
  unwritten(): number;
  /** Reads the stream may keep in flight ahead of the message being sent (1..MAX_READ_DEPTH). */
  readDepth(): number;
  /** The stream ended; its share goes back to the others. Later calls do nothing. */
  leave(): void;
}

/** Unwritten messages of a stream alone: what keeps the window and the socket busy. */
export const MAX_UNWRITTEN = 4;
/** Reads ahead of a stream alone: keeps the disk busy while a chunk is hashed and framed. */
export const MAX_READ_DEPTH = 3;
/**
 * Messages (reads in flight + unwritten) all streams together may hold before
 * their limits shrink. 24 lets up to three streams run at full depth; eight
 * hold 1 read + 2 unwritten each (with the copies grpc-js makes, ~6 chunk
 * buffers per stream, ~48 MiB at the default 1 MiB chunk).
 */
export const SEND_BUDGET_MESSAGES = 24;

/** Counts the streams sending and divides the budget among them. */
export class SendShare {
  private streams = 0;

  constructor(private readonly budget: number = SEND_BUDGET_MESSAGES) {}

  /** Streams now holding a slot. */
  get active(): number {
    return this.streams;
  }

  /** A slot for one stream, until it calls `leave`. */
  join(): SendSlot {
    this.streams += 1;
    let joined = true;
    const share = (): number => Math.max(2, Math.floor(this.budget / Math.max(1, this.streams)));
    const readDepth = (): number => Math.min(MAX_READ_DEPTH, Math.max(1, Math.floor(share() / 3)));
    return {
      readDepth,
      unwritten: () => Math.min(MAX_UNWRITTEN, Math.max(1, share() - readDepth())),
      leave: () => {
        if (!joined) return;
        joined = false;
        this.streams -= 1;
      },
    };
  }
}

/** The agent's one share: every server stream of every socket draws on it. */
export const SEND_SHARE = new SendShare();
