/**
 * ReplyReader: cuts the server's transmission-phase byte stream into simple
 * replies and structured chunks, checking every header against the sizes the
 * spec allows before believing it (a length from the wire decides how much
 * memory is allocated and where bytes are copied). It only frames; which
 * request a reply belongs to is the ReplyHandler's business (NbdClient's is
 * in nbd-in-flight.ts).
 */
import { type KvmcloneError } from '../../shared/errors.js';
import {
  CHUNK_HEADER_BYTES,
  MAX_METADATA_CHUNK_BYTES,
  MAX_PAYLOAD_BYTES,
  NBD_REPLY_FLAG_DONE,
  NBD_REPLY_TYPE_BLOCK_STATUS,
  NBD_REPLY_TYPE_FLAG_ERROR,
  NBD_REPLY_TYPE_NONE,
  NBD_REPLY_TYPE_OFFSET_DATA,
  NBD_REPLY_TYPE_OFFSET_HOLE,
  NBD_SIMPLE_REPLY_MAGIC,
  NBD_STRUCTURED_REPLY_MAGIC,
  SIMPLE_REPLY_BYTES,
  protocolError,
  readU64,
} from './nbd-protocol.js';

/**
 * The header of a structured reply chunk. ReplyReader reuses one object for
 * every chunk, so it is valid only during the handler call that receives it.
 */
export interface ChunkHeader {
  flags: number;
  type: number;
  cookie: number;
  /** Payload bytes after the 20-byte header. */
  length: number;
}

/** Where ReplyReader delivers what it cuts out of the stream. Anything it throws fails the reader. */
export interface ReplyHandler {
  /** A simple reply (16 bytes, never with a payload once structured replies are on). */
  simpleReply(cookie: number, error: number): void;
  /**
   * An NBD_REPLY_TYPE_OFFSET_DATA chunk starts: returns the buffer its
   * `length` bytes for export `offset` are copied into (exactly `length`
   * bytes long), or undefined to drop them.
   */
  dataStart(header: ChunkHeader, offset: number, length: number): Buffer | undefined;
  /**
   * A complete chunk. For OFFSET_DATA this comes after the bytes are in the
   * buffer from dataStart, and `payload` is the 8-byte offset only. `payload`
   * may point into a reused read buffer: valid only during the call.
   */
  chunk(header: ChunkHeader, payload: Buffer): void;
}

const EMPTY = Buffer.alloc(0);
const ERROR_CHUNK_LIMIT = 14 + 4096 + 1024;

/** Checks a structured chunk header against the payload sizes the spec allows for its type. */
function checkChunk(h: ChunkHeader): void {
  const { type, length } = h;
  const bad = (why: string): KvmcloneError => protocolError(`chunk type ${type} for cookie ${h.cookie} with ${length} payload bytes: ${why}`);
  if (type === NBD_REPLY_TYPE_NONE) {
    if (length !== 0) throw bad('a NONE chunk has no payload');
    if ((h.flags & NBD_REPLY_FLAG_DONE) === 0) throw bad('a NONE chunk must be the last');
  } else if (type === NBD_REPLY_TYPE_OFFSET_DATA) {
    if (length < 9 || length > MAX_PAYLOAD_BYTES + 8) throw bad('data outside 1 byte to 32 MiB');
  } else if (type === NBD_REPLY_TYPE_OFFSET_HOLE) {
    if (length !== 12) throw bad('a hole chunk is 12 bytes');
  } else if (type === NBD_REPLY_TYPE_BLOCK_STATUS) {
    if (length < 12 || (length - 4) % 8 !== 0 || length > MAX_METADATA_CHUNK_BYTES) throw bad('not a context id and 1 to 2^21 extents');
  } else if ((type & NBD_REPLY_TYPE_FLAG_ERROR) !== 0) {
    if (length < 6 || length > ERROR_CHUNK_LIMIT) throw bad('an error chunk is 6 bytes and a message of at most 4 KiB');
  } else {
    throw bad('unknown chunk type');
  }
}

/**
 * Cuts the transmission-phase byte stream into simple replies and structured
 * chunks, however the stream is split into reads. Data chunk payloads are
 * copied once, straight into the buffer the handler names; while such a
 * chunk is in progress `directTarget` exposes the rest of that buffer so the
 * socket can even read into it without the one copy. After any error (bad
 * magic, a length the spec does not allow, an exception from the handler)
 * the reader stays failed: the stream has no resynchronisation point.
 */
export class ReplyReader {
  /** Header bytes: up to 20 of the chunk header, then 8 of an OFFSET_DATA offset. */
  private readonly head = Buffer.allocUnsafe(CHUNK_HEADER_BYTES + 8);
  private headFill = 0;
  private headNeed = 4;
  private state: 'head' | 'dataOffset' | 'data' | 'payload' = 'head';
  private readonly header: ChunkHeader = { flags: 0, type: 0, cookie: 0, length: 0 };
  private payload: Buffer = EMPTY;
  private payloadFill = 0;
  private target: Buffer | undefined;
  private dataFill = 0;
  private dataLength = 0;
  private failure: { err: unknown } | undefined;

  constructor(private readonly handler: ReplyHandler) {}

  /** True between replies: no partial header or payload is held. */
  get idle(): boolean {
    return this.state === 'head' && this.headFill === 0;
  }

  /** Consumes `bytes` (which may be reused by the caller once this returns). */
  push(bytes: Buffer): void {
    if (this.failure !== undefined) throw this.failure.err;
    try {
      let at = 0;
      while (at < bytes.length) at = this.step(bytes, at);
    } catch (err) {
      this.failure = { err };
      throw err;
    }
  }

  /**
   * The unfilled rest of the current data chunk's buffer, when a data chunk
   * is in progress and at least `minBytes` remain; bytes read into it are
   * reported with `advanceDirect`.
   */
  directTarget(minBytes: number): Buffer | undefined {
    if (this.state !== 'data' || this.target === undefined || this.dataLength - this.dataFill < minBytes) return undefined;
    return this.target.subarray(this.dataFill, this.dataLength);
  }

  /** The cookie of the data chunk being received, if one is. */
  get dataCookie(): number | undefined {
    return this.state === 'data' ? this.header.cookie : undefined;
  }

  /** Drops the rest of the data chunk being received instead of copying it (its request was abandoned). */
  dropData(): void {
    this.target = undefined;
  }

  /** `n` bytes arrived in the buffer returned by directTarget. */
  advanceDirect(n: number): void {
    if (this.failure !== undefined) throw this.failure.err;
    this.dataFill += n;
    if (this.dataFill === this.dataLength) this.finishData();
  }

  private step(bytes: Buffer, at: number): number {
    switch (this.state) {
      case 'head':
      case 'dataOffset': {
        const n = Math.min(this.headNeed - this.headFill, bytes.length - at);
        bytes.copy(this.head, this.headFill, at, at + n);
        this.headFill += n;
        if (this.headFill === this.headNeed) this.headComplete();
        return at + n;
      }
      case 'data': {
        const n = Math.min(this.dataLength - this.dataFill, bytes.length - at);
        if (this.target !== undefined) bytes.copy(this.target, this.dataFill, at, at + n);
        this.dataFill += n;
        if (this.dataFill === this.dataLength) this.finishData();
        return at + n;
      }
      case 'payload': {
        const want = this.header.length - this.payloadFill;
        if (this.payloadFill === 0 && bytes.length - at >= want) {
          // The whole payload is in this read: no copy.
          this.deliver(bytes.subarray(at, at + want));
          return at + want;
        }
        if (this.payloadFill === 0) this.payload = Buffer.allocUnsafe(this.header.length);
        const n = Math.min(want, bytes.length - at);
        bytes.copy(this.payload, this.payloadFill, at, at + n);
        this.payloadFill += n;
        if (this.payloadFill === this.header.length) this.deliver(this.payload);
        return at + n;
      }
    }
  }

  private headComplete(): void {
    const head = this.head;
    if (this.state === 'dataOffset') {
      const offset = readU64(head, CHUNK_HEADER_BYTES);
      this.dataLength = this.header.length - 8;
      this.dataFill = 0;
      this.state = 'data';
      this.target = this.handler.dataStart(this.header, offset, this.dataLength);
      if (this.target !== undefined && this.target.length !== this.dataLength) throw new Error(`dataStart returned ${this.target.length} bytes for ${this.dataLength}`);
      return;
    }
    if (this.headNeed === 4) {
      const magic = head.readUInt32BE(0);
      if (magic === NBD_SIMPLE_REPLY_MAGIC) this.headNeed = SIMPLE_REPLY_BYTES;
      else if (magic === NBD_STRUCTURED_REPLY_MAGIC) this.headNeed = CHUNK_HEADER_BYTES;
      else throw protocolError(`bad reply magic 0x${magic.toString(16).padStart(8, '0')}`);
      return;
    }
    if (head.readUInt32BE(0) === NBD_SIMPLE_REPLY_MAGIC) {
      const cookie = this.cookieAt(8);
      this.reset();
      this.handler.simpleReply(cookie, head.readUInt32BE(4));
      return;
    }
    const h = this.header;
    h.flags = head.readUInt16BE(4);
    h.type = head.readUInt16BE(6);
    h.cookie = this.cookieAt(8);
    h.length = head.readUInt32BE(16);
    checkChunk(h);
    if (h.type === NBD_REPLY_TYPE_OFFSET_DATA) {
      this.state = 'dataOffset';
      this.headNeed = CHUNK_HEADER_BYTES + 8;
    } else if (h.length === 0) {
      this.deliver(EMPTY);
    } else {
      this.state = 'payload';
      this.payloadFill = 0;
    }
  }

  private cookieAt(at: number): number {
    if (this.head.readUInt32BE(at) !== 0) throw protocolError(`reply for cookie 0x${this.head.toString('hex', at, at + 8)} that was never sent`);
    return this.head.readUInt32BE(at + 4);
  }

  private finishData(): void {
    this.target = undefined;
    this.deliver(this.head.subarray(CHUNK_HEADER_BYTES, CHUNK_HEADER_BYTES + 8));
  }

  private deliver(payload: Buffer): void {
    this.reset();
    this.payload = EMPTY;
    this.handler.chunk(this.header, payload);
  }

  private reset(): void {
    this.state = 'head';
    this.headFill = 0;
    this.headNeed = 4;
  }
}
