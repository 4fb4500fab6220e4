/**
 * The requests an NbdClient has on the wire, by cookie, and the ReplyHandler
 * that matches the server's replies to them: the server may answer in any
 * order, so each reply is demultiplexed by its cookie. Content lands in the
 * request's buffer, extents and errors are kept, and the request settles with
 * its last chunk. Whatever breaks the protocol throws, which fails the
 * ReplyReader and with it the connection.
 */
import { type KvmcloneError } from '../../shared/errors.js';
import {
  NBD_CMD_BLOCK_STATUS,
  NBD_CMD_FLUSH,
  NBD_CMD_READ,
  NBD_CMD_TRIM,
  NBD_CMD_WRITE,
  NBD_CMD_WRITE_ZEROES,
  NBD_REPLY_FLAG_DONE,
  NBD_REPLY_TYPE_BLOCK_STATUS,
  NBD_REPLY_TYPE_FLAG_ERROR,
  NBD_REPLY_TYPE_OFFSET_DATA,
  NBD_REPLY_TYPE_OFFSET_HOLE,
  decodeErrorChunk,
  decodeExtents,
  protocolError,
  readU64,
  serverError,
  type NbdExtent,
} from './nbd-protocol.js';
import { type ChunkHeader, type ReplyHandler } from './nbd-reply-reader.js';

/** A request on the wire, until its reply is complete. */
export interface Pending {
  readonly type: number;
  readonly offset: number;
  readonly length: number;
  /** Read: the bytes [offset, offset + length) go here. */
  readonly target?: Buffer;
  /** The target belongs to the caller, who may reuse it once the request settles. */
  readonly callerBuffer: boolean;
  /** Block status: the context id whose chunk is kept. */
  readonly contextId?: number;
  cookie: number;
  /** Read: bytes of data and holes received. */
  covered: number;
  extents?: NbdExtent[];
  error?: KvmcloneError;
  /** Write: the payload has been handed to the kernel. */
  payloadSent: boolean;
  /** Rejected by an abort; the reply is still read, then dropped. */
  abandoned: boolean;
  resolve(): void;
  reject(err: unknown): void;
}

/** What a caller says about a request; the rest of Pending is filled in as it travels. */
export type PendingInit = Pick<Pending, 'type' | 'offset' | 'length' | 'target' | 'callerBuffer' | 'contextId'>;

/** A request not yet sent: no cookie, nothing received, settling does nothing until `send` wires it to a promise. */
export function newPending(init: PendingInit): Pending {
  return { ...init, cookie: 0, covered: 0, payloadSent: false, abandoned: false, resolve: () => {}, reject: () => {} };
}

const COMMAND_NAMES: Record<number, string> = {
  [NBD_CMD_READ]: 'read',
  [NBD_CMD_WRITE]: 'write',
  [NBD_CMD_FLUSH]: 'flush',
  [NBD_CMD_TRIM]: 'trim',
  [NBD_CMD_WRITE_ZEROES]: 'write-zeroes',
  [NBD_CMD_BLOCK_STATUS]: 'block-status',
};

/** "read of 4096 bytes at 0": how errors name a request. */
export function describe(p: Pending): string {
  const name = COMMAND_NAMES[p.type] ?? `command ${p.type}`;
  return p.type === NBD_CMD_FLUSH ? name : `${name} of ${p.length} bytes at ${p.offset}`;
}

/** The requests in flight on one connection, and the handler its ReplyReader delivers to. */
export class InFlight implements ReplyHandler {
  private readonly pending = new Map<number, Pending>();
  private nextCookie = 1;

  /** How many requests await their reply (abandoned ones included: the server still owes it). */
  get size(): number {
    return this.pending.size;
  }

  has(cookie: number): boolean {
    return this.pending.has(cookie);
  }

  /** Gives `p` a cookie no request in flight holds (32-bit, wrapping) and records it. */
  add(p: Pending): void {
    let cookie = this.nextCookie;
    while (this.pending.has(cookie)) cookie = (cookie + 1) >>> 0;
    this.nextCookie = (cookie + 1) >>> 0;
    p.cookie = cookie;
    this.pending.set(cookie, p);
  }

  /** The connection is gone: no reply will come, so every request fails with `err`. */
  failAll(err: KvmcloneError): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) if (!p.abandoned) p.reject(err);
  }

  simpleReply(cookie: number, error: number): void {
    const p = this.take(cookie);
    if (error === 0 && (p.type === NBD_CMD_READ || p.type === NBD_CMD_BLOCK_STATUS)) throw protocolError(`simple reply to a ${describe(p)}`);
    this.pending.delete(cookie);
    this.settle(p, error === 0 ? undefined : serverError(error, describe(p)));
  }

  dataStart(h: ChunkHeader, offset: number, length: number): Buffer | undefined {
    const p = this.take(h.cookie);
    this.checkContent(p, h, offset, length);
    p.covered += length;
    if (p.abandoned || p.target === undefined) return undefined;
    return p.target.subarray(offset - p.offset, offset - p.offset + length);
  }

  chunk(h: ChunkHeader, payload: Buffer): void {
    const p = this.take(h.cookie);
    if (h.type === NBD_REPLY_TYPE_OFFSET_HOLE) {
      const offset = readU64(payload, 0);
      const length = payload.readUInt32BE(8);
      if (length === 0) throw protocolError('hole of length 0');
      this.checkContent(p, h, offset, length);
      p.covered += length;
      if (!p.abandoned) p.target?.fill(0, offset - p.offset, offset - p.offset + length);
    } else if (h.type === NBD_REPLY_TYPE_BLOCK_STATUS) {
      if (p.type !== NBD_CMD_BLOCK_STATUS) throw protocolError(`block status chunk for a ${describe(p)}`);
      if (payload.readUInt32BE(0) === p.contextId) {
        if (p.extents !== undefined) throw protocolError(`two block status chunks for one context (cookie ${h.cookie})`);
        p.extents = decodeExtents(payload, p.offset, p.length);
      }
    } else if ((h.type & NBD_REPLY_TYPE_FLAG_ERROR) !== 0) {
      const e = decodeErrorChunk(h.type, payload);
      p.error ??= serverError(e.errno, describe(p), e.message);
    } else if (h.type !== NBD_REPLY_TYPE_OFFSET_DATA && h.type !== 0) {
      throw protocolError(`unexpected chunk type ${h.type}`);
    }
    if ((h.flags & NBD_REPLY_FLAG_DONE) === 0) return;
    // Checked while still pending, so a protocol error fails this request along with the connection.
    if (p.error === undefined && p.type === NBD_CMD_READ && p.covered !== p.length) throw protocolError(`${describe(p)} answered with ${p.covered} bytes`);
    if (p.error === undefined && p.type === NBD_CMD_BLOCK_STATUS && p.extents === undefined) throw protocolError(`${describe(p)} answered without the context asked for`);
    this.pending.delete(h.cookie);
    this.settle(p, p.error);
  }

  private take(cookie: number): Pending {
    const p = this.pending.get(cookie);
    if (p === undefined) throw protocolError(`reply for cookie ${cookie}, which is not in flight`);
    return p;
  }

  private settle(p: Pending, err: KvmcloneError | undefined): void {
    if (p.abandoned) return;
    if (err !== undefined) p.reject(err);
    else p.resolve();
  }

  private checkContent(p: Pending, h: ChunkHeader, offset: number, length: number): void {
    if (p.type !== NBD_CMD_READ) throw protocolError(`content chunk for a ${describe(p)}`);
    if (offset < p.offset || offset + length > p.offset + p.length) throw protocolError(`content [${offset}, +${length}) outside the ${describe(p)} (cookie ${h.cookie})`);
  }
}
