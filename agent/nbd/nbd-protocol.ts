/**
 * The NBD wire protocol as the agent speaks it (doc/proto.md of
 * NetworkBlockDevice/nbd): the numbers, the fixed-size headers and their
 * codecs, and the errno mapping. The reader that cuts the server's
 * transmission-phase byte stream into replies is in nbd-reply-reader.ts.
 *
 * Only what a fixed-newstyle client with structured replies needs is here.
 * Everything the server sends is checked against the spec's sizes before it
 * is believed, because a length read from the wire decides how much memory is
 * allocated and where bytes are copied: a violation is a DATA_LOSS "protocol
 * error", after which the connection cannot be trusted and is dropped.
 */
import { KvmcloneError, dataLoss, type ErrorCode } from '../../shared/errors.js';

// Handshake magics and flags.
/** 'NBDMAGIC', the first 8 bytes from every server. */
export const NBD_INIT_MAGIC = 0x4e42444d41474943n;
/** 'IHAVEOPT': newstyle negotiation, and the prefix of every option the client sends. */
export const NBD_OPTS_MAGIC = 0x49484156454f5054n;
/** What an oldstyle server sends instead of IHAVEOPT. */
export const NBD_CLISERV_MAGIC = 0x00420281861253n;
/** Prefix of every option reply. */
export const NBD_REP_MAGIC = 0x3e889045565a9n;
export const NBD_FLAG_FIXED_NEWSTYLE = 1 << 0;
export const NBD_FLAG_NO_ZEROES = 1 << 1;
export const NBD_FLAG_C_FIXED_NEWSTYLE = 1 << 0;
export const NBD_FLAG_C_NO_ZEROES = 1 << 1;

// Options and option replies.
export const NBD_OPT_ABORT = 2;
export const NBD_OPT_GO = 7;
export const NBD_OPT_STRUCTURED_REPLY = 8;
export const NBD_OPT_SET_META_CONTEXT = 10;
export const NBD_REP_ACK = 1;
export const NBD_REP_INFO = 3;
export const NBD_REP_META_CONTEXT = 4;
/** Bit 31 marks every option error reply. */
export const NBD_REP_FLAG_ERROR = 0x8000_0000;
export const NBD_REP_ERR_UNSUP = NBD_REP_FLAG_ERROR + 1;
export const NBD_REP_ERR_POLICY = NBD_REP_FLAG_ERROR + 2;
export const NBD_REP_ERR_INVALID = NBD_REP_FLAG_ERROR + 3;
export const NBD_REP_ERR_TLS_REQD = NBD_REP_FLAG_ERROR + 5;
export const NBD_REP_ERR_UNKNOWN = NBD_REP_FLAG_ERROR + 6;
export const NBD_REP_ERR_SHUTDOWN = NBD_REP_FLAG_ERROR + 7;
export const NBD_INFO_EXPORT = 0;
export const NBD_INFO_BLOCK_SIZE = 3;

// Transmission flags (from NBD_INFO_EXPORT).
export const NBD_FLAG_HAS_FLAGS = 1 << 0;
export const NBD_FLAG_READ_ONLY = 1 << 1;
export const NBD_FLAG_SEND_FLUSH = 1 << 2;
export const NBD_FLAG_SEND_TRIM = 1 << 5;
export const NBD_FLAG_SEND_WRITE_ZEROES = 1 << 6;
export const NBD_FLAG_CAN_MULTI_CONN = 1 << 8;

// Requests.
export const NBD_REQUEST_MAGIC = 0x25609513;
export const NBD_CMD_READ = 0;
export const NBD_CMD_WRITE = 1;
export const NBD_CMD_DISC = 2;
export const NBD_CMD_FLUSH = 3;
export const NBD_CMD_TRIM = 4;
export const NBD_CMD_WRITE_ZEROES = 6;
export const NBD_CMD_BLOCK_STATUS = 7;
export const NBD_CMD_FLAG_NO_HOLE = 1 << 1;

// Replies.
export const NBD_SIMPLE_REPLY_MAGIC = 0x67446698;
export const NBD_STRUCTURED_REPLY_MAGIC = 0x668e33ef;
export const NBD_REPLY_FLAG_DONE = 1 << 0;
export const NBD_REPLY_TYPE_NONE = 0;
export const NBD_REPLY_TYPE_OFFSET_DATA = 1;
export const NBD_REPLY_TYPE_OFFSET_HOLE = 2;
export const NBD_REPLY_TYPE_BLOCK_STATUS = 5;
/** Bit 15 marks every error chunk type, known or not. */
export const NBD_REPLY_TYPE_FLAG_ERROR = 1 << 15;
export const NBD_REPLY_TYPE_ERROR = NBD_REPLY_TYPE_FLAG_ERROR + 1;
export const NBD_REPLY_TYPE_ERROR_OFFSET = NBD_REPLY_TYPE_FLAG_ERROR + 2;

// Block status flags: base:allocation, and qemu:dirty-bitmap:NAME.
export const NBD_STATE_HOLE = 1 << 0;
export const NBD_STATE_ZERO = 1 << 1;
export const NBD_STATE_DIRTY = 1 << 0;

// Error values in replies (the spec's list, plus Linux errnos some servers pass through).
export const NBD_EPERM = 1;
export const NBD_EIO = 5;
export const NBD_ENOMEM = 12;
export const NBD_EINVAL = 22;
export const NBD_ENOSPC = 28;
export const NBD_EROFS = 30;
export const NBD_EOVERFLOW = 75;
export const NBD_ENOTSUP = 95;
export const NBD_ESHUTDOWN = 108;
export const NBD_EDQUOT = 122;

/** Sizes of the fixed headers. */
export const REQUEST_BYTES = 28;
export const SIMPLE_REPLY_BYTES = 16;
export const CHUNK_HEADER_BYTES = 20;
export const OPTION_REPLY_BYTES = 20;

/** The spec's safe payload size, and the most the agent ever asks for in one request. */
export const MAX_PAYLOAD_BYTES = 32 * 1024 * 1024;
/** Largest non-data chunk believed: block status of 2^20 extents (the spec's SHOULD) with room to spare. */
export const MAX_METADATA_CHUNK_BYTES = 16 * 1024 * 1024;
/** Largest option reply believed during the handshake (names and messages are at most 4 KiB). */
export const MAX_OPTION_REPLY_BYTES = 64 * 1024;

/** The exception for anything the server sent that the spec does not allow. */
export function protocolError(detail: string): KvmcloneError {
  return dataLoss(`NBD protocol error: ${detail}`);
}

/** Reads a 64-bit unsigned field; above 2^53 it cannot be an offset or size here, so it is a protocol error. */
export function readU64(buf: Buffer, at: number): number {
  const hi = buf.readUInt32BE(at);
  if (hi > 0x1f_ffff) throw protocolError(`64-bit value at byte ${at} is beyond 2^53`);
  return hi * 0x1_0000_0000 + buf.readUInt32BE(at + 4);
}

/** Writes a 64-bit unsigned field from a safe integer. */
export function writeU64(buf: Buffer, value: number, at: number): void {
  buf.writeUInt32BE(Math.floor(value / 0x1_0000_0000), at);
  buf.writeUInt32BE(value >>> 0, at + 4);
}

/** One transmission request header. Cookies are 32-bit counters in the low half of the 64-bit field. */
export interface RequestHeader {
  flags: number;
  type: number;
  cookie: number;
  offset: number;
  length: number;
}

/** Encodes a request header into `target` at `at` (a fresh 28 bytes by default) and returns `target`. */
export function encodeRequest(req: RequestHeader, target: Buffer = Buffer.allocUnsafe(REQUEST_BYTES), at = 0): Buffer {
  target.writeUInt32BE(NBD_REQUEST_MAGIC, at);
  target.writeUInt16BE(req.flags, at + 4);
  target.writeUInt16BE(req.type, at + 6);
  target.writeUInt32BE(0, at + 8);
  target.writeUInt32BE(req.cookie, at + 12);
  writeU64(target, req.offset, at + 16);
  target.writeUInt32BE(req.length, at + 24);
  return target;
}

/** An option as the client sends it during the handshake. */
export function encodeOption(option: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.allocUnsafe(16);
  head.writeBigUInt64BE(NBD_OPTS_MAGIC, 0);
  head.writeUInt32BE(option, 8);
  head.writeUInt32BE(data.length, 12);
  return Buffer.concat([head, data]);
}

/** The header of one option reply. */
export interface OptionReplyHeader {
  option: number;
  type: number;
  length: number;
}

/** Decodes an option reply header (20 bytes), checking magic and length. */
export function decodeOptionReply(buf: Buffer): OptionReplyHeader {
  if (buf.readBigUInt64BE(0) !== NBD_REP_MAGIC) throw protocolError(`bad option reply magic 0x${buf.readBigUInt64BE(0).toString(16)}`);
  const reply = { option: buf.readUInt32BE(8), type: buf.readUInt32BE(12), length: buf.readUInt32BE(16) };
  if (reply.length > MAX_OPTION_REPLY_BYTES) throw protocolError(`option reply of ${reply.length} bytes`);
  return reply;
}

/** An error chunk's payload: the errno, the server's text, and the offset of NBD_REPLY_TYPE_ERROR_OFFSET. */
export interface ChunkError {
  errno: number;
  message: string;
  offset?: number;
}

/** Decodes the payload of an error chunk (any type with bit 15 set). */
export function decodeErrorChunk(type: number, payload: Buffer): ChunkError {
  if (payload.length < 6) throw protocolError(`error chunk of ${payload.length} bytes`);
  const errno = payload.readUInt32BE(0);
  const messageLength = payload.readUInt16BE(4);
  if (6 + messageLength > payload.length) throw protocolError(`error message of ${messageLength} bytes in a ${payload.length}-byte chunk`);
  const message = payload.toString('utf8', 6, 6 + messageLength);
  if (type !== NBD_REPLY_TYPE_ERROR_OFFSET) return { errno, message };
  if (payload.length !== 6 + messageLength + 8) throw protocolError(`error-offset chunk of ${payload.length} bytes`);
  return { errno, message, offset: readU64(payload, 6 + messageLength) };
}

const ERRNO_NAMES: ReadonlyMap<number, string> = new Map([
  [NBD_EPERM, 'EPERM'],
  [NBD_EIO, 'EIO'],
  [NBD_ENOMEM, 'ENOMEM'],
  [NBD_EINVAL, 'EINVAL'],
  [NBD_ENOSPC, 'ENOSPC'],
  [NBD_EROFS, 'EROFS'],
  [NBD_EOVERFLOW, 'EOVERFLOW'],
  [NBD_ENOTSUP, 'ENOTSUP'],
  [NBD_ESHUTDOWN, 'ESHUTDOWN'],
  [NBD_EDQUOT, 'EDQUOT'],
]);

const ERRNO_CODES: ReadonlyMap<number, ErrorCode> = new Map([
  [NBD_EIO, 'DATA_LOSS'],
  [NBD_ENOSPC, 'RESOURCE_EXHAUSTED'],
  [NBD_EDQUOT, 'RESOURCE_EXHAUSTED'],
  [NBD_ENOMEM, 'RESOURCE_EXHAUSTED'],
  [NBD_EPERM, 'PERMISSION_DENIED'],
  [NBD_EROFS, 'PERMISSION_DENIED'],
  [NBD_EINVAL, 'INVALID_ARGUMENT'],
  [NBD_EOVERFLOW, 'INVALID_ARGUMENT'],
  [NBD_ENOTSUP, 'UNIMPLEMENTED'],
  [NBD_ESHUTDOWN, 'UNAVAILABLE'],
]);

/**
 * The KvmcloneError for an error the server returned for `what` ("read of
 * 4096 bytes at 0"): EIO is DATA_LOSS, ENOSPC/EDQUOT RESOURCE_EXHAUSTED,
 * EPERM/EROFS PERMISSION_DENIED, EINVAL/EOVERFLOW INVALID_ARGUMENT, a server
 * shutting down UNAVAILABLE, anything else INTERNAL. The server's own text
 * is kept: it is usually the only hint of what went wrong.
 */
export function serverError(errno: number, what: string, message = ''): KvmcloneError {
  const name = ERRNO_NAMES.get(errno) ?? `error ${errno}`;
  const text = message.trim() === '' ? '' : `: ${message.trim()}`;
  return new KvmcloneError(ERRNO_CODES.get(errno) ?? 'INTERNAL', `NBD server failed ${what} with ${name}${text}`);
}

/** One run of a block status reply, as flags of a metadata context. */
export interface NbdExtent {
  offset: number;
  length: number;
  flags: number;
}

/**
 * Decodes an NBD_REPLY_TYPE_BLOCK_STATUS payload (after its 4-byte context
 * id) into extents from `offset`, clamped to `limit` bytes: the spec lets the
 * last extent run past the request, and callers want exactly what they asked
 * about. Zero-length extents are a protocol error (they stall a client).
 */
export function decodeExtents(payload: Buffer, offset: number, limit: number): NbdExtent[] {
  const extents: NbdExtent[] = [];
  let covered = 0;
  for (let at = 4; at + 8 <= payload.length && covered < limit; at += 8) {
    const length = payload.readUInt32BE(at);
    if (length === 0) throw protocolError('block status extent of length 0');
    const take = Math.min(length, limit - covered);
    extents.push({ offset: offset + covered, length: take, flags: payload.readUInt32BE(at + 4) });
    covered += take;
  }
  return extents;
}
