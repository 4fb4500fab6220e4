/**
 * NbdClient: one connection to an NBD export over a unix socket — the
 * point-in-time export of a running VM's disk that a QEMU backup job serves
 * (pull mode), or a qemu-nbd the agent started on a destination image.
 *
 * Requests are pipelined: every call puts its request on the socket at once
 * (waiting only for socket backpressure) and replies, which the server may
 * send in any order, are matched by cookie. Reads land in the caller's buffer
 * with at most one copy — none for large chunks, which the socket reads
 * straight into place. How many requests are in flight is the callers'
 * choice (QEMU serves up to 16 per connection at once and simply stops
 * reading beyond that); one call larger than `maxRequest` is cut into
 * pieces of which at most SPLIT_DEPTH are in flight. Prefer requests of
 * 2 MiB: QEMU 7.2's server allocates a fresh buffer per request, and at
 * 4 MiB that costs it 3.5 times the kernel CPU and 2–3 times the time
 * (measured: 1 GiB at 4 × 2 MiB in 0.5–0.7 s, at 4 × 4 MiB 1.3–2.3 s; nbdcopy
 * shows the same).
 *
 * Cancelling: an aborted signal rejects that request at once with the
 * signal's reason. The server still owes the reply; it is read and thrown
 * away, and the connection and the other requests carry on. The exception is
 * a request whose buffer the socket holds at that moment (a write not yet
 * fully handed to the kernel, or a caller-supplied read buffer that the next
 * socket read fills directly): the connection is then dropped, since that is
 * the only way to take the buffer back before the caller reuses it, and the
 * other requests in flight fail with UNAVAILABLE.
 *
 * The parts: connecting is in nbd-connect.ts, the handshake in
 * nbd-handshake.ts, the requests on the socket in nbd-transmission.ts, the
 * socket's read side in nbd-wire.ts, the framing of replies in
 * nbd-reply-reader.ts, and matching them to the requests in flight in
 * nbd-in-flight.ts.
 */
import { KvmcloneError, invalidArgument, notFound, outOfRange, permissionDenied } from '../../shared/errors.js';
import {
  MAX_PAYLOAD_BYTES,
  NBD_CMD_BLOCK_STATUS,
  NBD_CMD_FLAG_NO_HOLE,
  NBD_CMD_FLUSH,
  NBD_CMD_READ,
  NBD_CMD_TRIM,
  NBD_CMD_WRITE,
  NBD_CMD_WRITE_ZEROES,
  NBD_FLAG_CAN_MULTI_CONN,
  NBD_FLAG_READ_ONLY,
  NBD_FLAG_SEND_FLUSH,
  NBD_FLAG_SEND_TRIM,
  NBD_FLAG_SEND_WRITE_ZEROES,
  type NbdExtent,
} from './nbd-protocol.js';
import { connectExport } from './nbd-connect.js';
import type { ExportInfo } from './nbd-handshake.js';
import { newPending, type PendingInit } from './nbd-in-flight.js';
import type { NbdTransmission } from './nbd-transmission.js';

export type { NbdExtent } from './nbd-protocol.js';

/** How `NbdClient.connect` negotiates. */
export interface NbdConnectOptions {
  /** The export to use: a disk target ("vdb") for a backup job, `--export-name` for qemu-nbd. */
  exportName: string;
  /** Metadata contexts to select (base:allocation, qemu:dirty-bitmap:NAME); ones the server lacks are simply absent. */
  metaContexts?: readonly string[];
  signal?: AbortSignal;
  /** Bound on connecting and negotiating; default 30 s. */
  timeoutMs?: number;
}

/** Options of `writeZeroes`. */
export interface WriteZeroesOptions {
  /** Let the server deallocate (punch a hole) instead of writing zeros; default true. */
  mayTrim?: boolean;
  signal?: AbortSignal;
}

/** Pieces of one oversized call in flight at once. */
const SPLIT_DEPTH = 4;
/** Largest effect length of one WRITE_ZEROES, TRIM or BLOCK_STATUS (a multiple of any block size). */
const EFFECT_PIECE_BYTES = 2 ** 31;

/** A connection in the transmission phase. See the module comment. */
export class NbdClient {
  /** Export size in bytes (the guest-visible size of the disk). */
  readonly size: number;
  readonly readOnly: boolean;
  readonly canFlush: boolean;
  readonly canTrim: boolean;
  readonly canWriteZeroes: boolean;
  /** The server's caches are shared between connections: several clients may split the work. */
  readonly canMultiConn: boolean;
  /** Offsets and lengths must be multiples of this (the server's minimum block size). */
  readonly minBlockSize: number;
  /** Requests of at least this size, aligned to it, avoid read-modify-write on the server. */
  readonly preferredBlockSize: number;
  /** Largest READ or WRITE payload sent in one request: the server's maximum, at most 32 MiB. */
  readonly maxRequest: number;

  private constructor(
    private readonly transmission: NbdTransmission,
    readonly socketPath: string,
    readonly exportName: string,
    private readonly info: ExportInfo,
  ) {
    const { flags } = info;
    this.size = info.size;
    this.readOnly = (flags & NBD_FLAG_READ_ONLY) !== 0;
    this.canFlush = (flags & NBD_FLAG_SEND_FLUSH) !== 0;
    this.canTrim = (flags & NBD_FLAG_SEND_TRIM) !== 0;
    this.canWriteZeroes = (flags & NBD_FLAG_SEND_WRITE_ZEROES) !== 0;
    this.canMultiConn = (flags & NBD_FLAG_CAN_MULTI_CONN) !== 0;
    this.minBlockSize = info.minBlock;
    this.preferredBlockSize = info.preferredBlock;
    const max = Math.min(info.maxPayload, MAX_PAYLOAD_BYTES);
    this.maxRequest = Math.max(info.minBlock, max - (max % info.minBlock));
  }

  /**
   * Connects to the NBD server on `socketPath` and negotiates `exportName`.
   * NOT_FOUND when the server has no such export; UNAVAILABLE when nothing
   * listens there or the server refuses; DATA_LOSS when what it says is not
   * NBD; DEADLINE_EXCEEDED after `timeoutMs`.
   */
  static async connect(socketPath: string, options: NbdConnectOptions): Promise<NbdClient> {
    return connectExport(socketPath, options, (transmission, info) => new NbdClient(transmission, socketPath, options.exportName, info));
  }

  /** True when the server granted metadata context `name` (e.g. a dirty bitmap that exists). */
  hasContext(name: string): boolean {
    return this.info.contexts.has(name);
  }

  /**
   * Reads [offset, offset + length): into `into` (returning the first `length`
   * bytes of it) or a new buffer. Holes come back as zeros. Longer than
   * `maxRequest` is split into several requests.
   */
  async read(offset: number, length: number, signal?: AbortSignal, into?: Buffer): Promise<Buffer> {
    this.checkRange('read', offset, length);
    if (into !== undefined && into.length < length) throw invalidArgument(`read of ${length} bytes into a buffer of ${into.length}`);
    const out = into === undefined ? Buffer.allocUnsafe(length) : into.subarray(0, length);
    await this.split(offset, length, this.maxRequest, (o, l) =>
      this.submit({ type: NBD_CMD_READ, offset: o, length: l, target: out.subarray(o - offset, o - offset + l), callerBuffer: into !== undefined }, 0, undefined, signal),
    );
    return out;
  }

  /**
   * Writes `data` at `offset`. The buffer must stay unchanged until the
   * promise settles (the socket sends from it, without a copy).
   */
  async write(offset: number, data: Buffer, signal?: AbortSignal): Promise<void> {
    this.checkWritable('write');
    this.checkRange('write', offset, data.length);
    await this.split(offset, data.length, this.maxRequest, (o, l) =>
      this.submit({ type: NBD_CMD_WRITE, offset: o, length: l, callerBuffer: true }, 0, data.subarray(o - offset, o - offset + l), signal),
    );
  }

  /**
   * Makes the range read as zeros without sending them. With `mayTrim` (the
   * default) the server may deallocate it; without, it stays allocated
   * (NBD_CMD_FLAG_NO_HOLE), e.g. for a preallocated destination.
   */
  async writeZeroes(offset: number, length: number, options: WriteZeroesOptions = {}): Promise<void> {
    const { mayTrim = true, signal } = options;
    this.checkWritable('write-zeroes');
    if (!this.canWriteZeroes) throw new KvmcloneError('UNIMPLEMENTED', `the NBD server at ${this.socketPath} does not support WRITE_ZEROES`);
    this.checkRange('write-zeroes', offset, length);
    const flags = mayTrim ? 0 : NBD_CMD_FLAG_NO_HOLE;
    await this.split(offset, length, EFFECT_PIECE_BYTES, (o, l) =>
      this.submit({ type: NBD_CMD_WRITE_ZEROES, offset: o, length: l, callerBuffer: false }, flags, undefined, signal),
    );
  }

  /** Tells the server the range is no longer needed. A hint: does nothing when the server does not offer TRIM. */
  async trim(offset: number, length: number, signal?: AbortSignal): Promise<void> {
    this.checkWritable('trim');
    this.checkRange('trim', offset, length);
    if (!this.canTrim) return;
    await this.split(offset, length, EFFECT_PIECE_BYTES, (o, l) => this.submit({ type: NBD_CMD_TRIM, offset: o, length: l, callerBuffer: false }, 0, undefined, signal));
  }

  /**
   * Makes every write already answered durable. Does nothing when the server
   * does not offer FLUSH (the spec forbids sending it then).
   */
  async flush(signal?: AbortSignal): Promise<void> {
    this.transmission.checkOpen();
    if (!this.canFlush) return;
    await this.submit({ type: NBD_CMD_FLUSH, offset: 0, length: 0, callerBuffer: false }, 0, undefined, signal);
  }

  /**
   * One NBD_CMD_BLOCK_STATUS for `context`: extents from `offset`, in order,
   * clamped to the request. The server may cover less than asked (but at
   * least one extent); `extents` loops until the range is covered. The server
   * answers for every context negotiated, so connect with only the contexts
   * that are queried together. NOT_FOUND when the context was not granted.
   */
  async blockStatus(context: string, offset: number, length: number, signal?: AbortSignal): Promise<NbdExtent[]> {
    const contextId = this.info.contexts.get(context);
    if (contextId === undefined) {
      const why = this.info.contextRefusal === '' ? '' : `: ${this.info.contextRefusal}`;
      throw notFound(`the NBD server at ${this.socketPath} did not grant metadata context ${JSON.stringify(context)} for export ${JSON.stringify(this.exportName)}${why}`);
    }
    this.checkRange('block-status', offset, length);
    if (length === 0) return [];
    const p = newPending({ type: NBD_CMD_BLOCK_STATUS, offset, length: Math.min(length, EFFECT_PIECE_BYTES), callerBuffer: false, contextId });
    await this.transmission.send(p, 0, undefined, signal);
    return p.extents ?? [];
  }

  /** Every extent of `context` over [offset, offset + length), adjacent ones with equal flags merged. */
  async *extents(context: string, offset: number, length: number, signal?: AbortSignal): AsyncGenerator<NbdExtent> {
    const end = offset + length;
    let held: NbdExtent | undefined;
    for (let at = offset; at < end;) {
      signal?.throwIfAborted();
      const batch = await this.blockStatus(context, at, end - at, signal);
      for (const e of batch) {
        if (held !== undefined && held.flags === e.flags && held.offset + held.length === e.offset) {
          held.length += e.length;
        } else {
          if (held !== undefined) yield held;
          held = { ...e };
        }
        at = e.offset + e.length;
      }
    }
    if (held !== undefined) yield held;
  }

  /**
   * Ends the session: NBD_CMD_DISC (the server finishes what is in flight,
   * then hangs up), then waits for the socket to close, dropping it after
   * CLOSE_TIMEOUT_MS (nbd-transmission.ts). Idempotent.
   */
  close(): Promise<void> {
    return this.transmission.close();
  }

  private checkWritable(op: string): void {
    this.transmission.checkOpen();
    if (this.readOnly) throw permissionDenied(`${op} on read-only NBD export ${JSON.stringify(this.exportName)} at ${this.socketPath}`);
  }

  private checkRange(op: string, offset: number, length: number): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw invalidArgument(`${op}: offset ${offset} and length ${length} must be non-negative integers`);
    }
    if (offset + length > this.size) throw outOfRange(`${op} of ${length} bytes at ${offset} goes past the end of the ${this.size}-byte export`);
    const min = this.minBlockSize;
    if (min > 1 && (offset % min !== 0 || length % min !== 0))
      throw invalidArgument(`${op}: offset ${offset} and length ${length} must be multiples of the export's ${min}-byte block`);
  }

  /** Runs `one` over pieces of at most `piece` bytes, SPLIT_DEPTH at a time; the first error wins. */
  private async split(offset: number, length: number, piece: number, one: (offset: number, length: number) => Promise<void>): Promise<void> {
    if (length === 0) return;
    if (length <= piece) return one(offset, length);
    const end = offset + length;
    let next = offset;
    let first: { err: unknown } | undefined;
    const worker = async (): Promise<void> => {
      while (next < end && first === undefined) {
        const at = next;
        const n = Math.min(piece, end - at);
        next += n;
        try {
          await one(at, n);
        } catch (err) {
          first ??= { err };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(SPLIT_DEPTH, Math.ceil(length / piece)) }, worker));
    if (first !== undefined) throw first.err;
  }

  private submit(init: Omit<PendingInit, 'contextId'>, flags: number, payload: Buffer | undefined, signal: AbortSignal | undefined): Promise<void> {
    return this.transmission.send(newPending(init), flags, payload, signal);
  }
}
