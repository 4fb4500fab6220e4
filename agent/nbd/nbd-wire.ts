/**
 * Wire: the read side of an NBD connection's socket, given to
 * `net.connect({ onread })` so that large data chunks are read by the socket
 * straight into the caller's buffer instead of being copied out of Node's.
 */
import { KvmcloneError } from '../../shared/errors.js';
import { protocolError } from './nbd-protocol.js';
import { type ReplyReader } from './nbd-reply-reader.js';

/** Read buffer for headers, metadata and the edges of data chunks. */
const READ_BUFFER_BYTES = 256 * 1024;
/** Data chunks with at least this much left are read by the socket straight into their destination. */
const DIRECT_READ_MIN_BYTES = 64 * 1024;

/**
 * The socket's read side. Bytes go to the handshake inbox first, then to the
 * reply reader; while a large data chunk is in progress the next socket read
 * goes straight into its destination (Node calls `nextBuffer` after every
 * read), and `lentCookie` says whose buffer that is.
 */
export class Wire {
  sink: ((bytes: Buffer) => void) | undefined;
  reader: ReplyReader | undefined;
  onFailure: ((err: KvmcloneError) => void) | undefined;
  lentCookie: number | undefined;
  private readonly scratch = Buffer.allocUnsafe(READ_BUFFER_BYTES);

  nextBuffer(): Buffer {
    const direct = this.reader?.directTarget(DIRECT_READ_MIN_BYTES);
    this.lentCookie = direct === undefined ? undefined : this.reader?.dataCookie;
    return direct ?? this.scratch;
  }

  /** Always true: replies are consumed as they arrive, so reading never pauses. */
  received(n: number, buf: Uint8Array): boolean {
    try {
      if (this.reader === undefined) this.sink?.(this.scratch.subarray(0, n));
      else if (buf === this.scratch) this.reader.push(this.scratch.subarray(0, n));
      else this.reader.advanceDirect(n);
    } catch (err) {
      this.onFailure?.(err instanceof KvmcloneError ? err : protocolError(err instanceof Error ? err.message : String(err)));
    }
    return true;
  }
}
