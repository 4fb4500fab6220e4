/**
 * The on-disk format of a sync journal: the changed blocks of an in-place
 * pull, written beside the image before the image itself is touched.
 *
 * The format exists to answer one question after a crash without trusting
 * anything: "is this journal complete, and for this image?". Complete means a
 * commit trailer at the very end whose checksum covers every record byte; the
 * trailer is written only after the records are fdatasynced, so a valid
 * trailer implies durable records. Everything else — a short file, a torn
 * trailer, a flipped bit — is discarded and the image, never touched before
 * the commit, stays as it was.
 *
 * The apply code took the header's once-reserved word at offset 12, whose 0
 * means what every older journal meant (the file layer), so file journals
 * are still version 1 and read exactly as before. A guest journal is version
 * 2: an agent older than the guest layer would ignore the word and write
 * guest offsets into the file as stored, so it must see such a journal as
 * one it does not know (discarded, the image left alone) rather than apply
 * it. An unknown code, or a code that does not go with the version, is
 * corrupt.
 *
 * Layout, all integers little-endian:
 *
 *     header, 64 bytes
 *        0  magic     8   "KVMCJNL\0"
 *        8  version   u32 1 for the file layer, 2 for the guest layer
 *       12  apply     u32 how the records reach the image (JournalLayer):
 *                         0 = the file as stored (every journal before the guest layer),
 *                         1 = guest layer of a raw image, 2 = guest layer of a qcow2
 *                         image (through qemu-nbd; offsets and size are guest ones)
 *       16  dev       u64 st_dev of the image when the journal was made (for logs)
 *       24  ino       u64 st_ino of the image: the journal applies to that inode only
 *       32  size      u64 the image's size after the apply (the source's file size;
 *                         its virtual size for the guest layer)
 *       40  id        u64 0, or the id of the restore point that goes with this journal
 *                         (restore-point-files.ts): a sync journal with keep_points, and the
 *                         undo record kept for it, carry the same id. Older agents read it as
 *                         reserved and ignore it.
 *       48  check     16  blake3-128 of bytes 0..48
 *     records, in the order they are applied, each a 24-byte head
 *        0  kind      u32 1 = data, 2 = zero
 *        4  reserved  u32 0
 *        8  offset    u64 byte offset in the image
 *       16  length    u64 bytes covered (> 0; data records at most MAX_DATA_RECORD_BYTES)
 *       data records then carry hash (16, blake3-128 of the bytes) and the bytes;
 *       zero records nothing (the span reads as zeros: punched, or zeros written);
 *       kind 4 = note: offset 0, length at most MAX_NOTE_BYTES, then that many bytes
 *       of UTF-8 JSON that the apply skips — a restore point's description (its
 *       digest, time, label) inside the undo record itself, so that renaming the
 *       point into the journal slot (a restore) needs no second file. An older agent
 *       finds a note unknown and discards such a journal as corrupt, image untouched.
 *     commit trailer, 48 bytes, the last bytes of the file
 *        0  kind      u32 3
 *        4  reserved  u32 0
 *        8  records   u64 number of records
 *       16  bytes     u64 length of the records region (header end to trailer start)
 *       24  checksum  16  blake3-128 over the whole records region
 *       40  magic     8   "KVMCEND\0"
 */
import { Blake3Hasher } from '@napi-rs/blake-hash';
import { asBuffer, chunkHash, HASH_BYTES } from '../../shared/block-hash.js';
import { MAX_CHUNK_BYTES } from '../../shared/grpc-tuning.js';

/** Fixed sizes of the layout above (records start at HEADER_BYTES; the trailer is the last TRAILER_BYTES). */
export const HEADER_BYTES = 64;
export const RECORD_HEAD_BYTES = 24;
export const TRAILER_BYTES = 48;
/** Bumped on any layout change: a journal of another version is never applied (it is discarded as corrupt). */
export const JOURNAL_VERSION = 1;
/** The version of a guest-layer journal (see above: older agents must not apply it). */
export const GUEST_JOURNAL_VERSION = 2;
/** Largest data record: one ReadRanges chunk. Bounds what a reader allocates for a damaged length. */
export const MAX_DATA_RECORD_BYTES = MAX_CHUNK_BYTES;

const HEADER_MAGIC = Buffer.from('KVMCJNL\0', 'latin1');
const TRAILER_MAGIC = Buffer.from('KVMCEND\0', 'latin1');
const KIND_DATA = 1;
const KIND_ZERO = 2;
const KIND_COMMIT = 3;
const KIND_NOTE = 4;
/** Largest note record (a restore point's description is a few hundred bytes). */
export const MAX_NOTE_BYTES = 64 * 1024;

/**
 * How a journal's records reach its image: written into the file as stored,
 * or through the image's format (qemu-nbd) at guest offsets — a live copy of
 * a qcow2 disk stays a qcow2, so its sync must go through the format too.
 */
export type JournalLayer = 'file' | 'guest-raw' | 'guest-qcow2';

/** Header codes of the layers (offset 12). */
const LAYER_CODES: Readonly<Record<JournalLayer, number>> = { file: 0, 'guest-raw': 1, 'guest-qcow2': 2 };

/** The layer of a header code; undefined for a code this agent does not know. */
function layerOfCode(code: number): JournalLayer | undefined {
  return (Object.keys(LAYER_CODES) as JournalLayer[]).find((layer) => LAYER_CODES[layer] === code);
}

/** What a journal is for: one inode, brought to one size, through one layer. */
export interface JournalHeader {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: number;
  /** Absent means 'file' (decodeHeader leaves it out then, as every older journal reads). */
  readonly layer?: JournalLayer;
  /** The restore point that goes with this journal (offset 40); absent or 0n: none. */
  readonly id?: bigint;
}

/** One record: bytes to write, or a span to make read as zeros. */
export type JournalRecord =
  | { readonly kind: 'data'; readonly offset: number; readonly length: number; readonly hash: Buffer; readonly data: Buffer }
  | { readonly kind: 'zero'; readonly offset: number; readonly length: number }
  /** Not applied: text for whoever reads the journal (a restore point's description). */
  | { readonly kind: 'note'; readonly offset: 0; readonly length: number; readonly data: Buffer };

/** What the commit trailer vouches for. */
export interface JournalTrailer {
  readonly records: number;
  readonly recordBytes: number;
  readonly checksum: Buffer;
}

/** A journal's content does not follow the format (torn, truncated or damaged). */
export class JournalFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JournalFormatError';
  }
}

function safeU64(buf: Buffer, at: number, field: string): number {
  const value = buf.readBigUInt64LE(at);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new JournalFormatError(`${field} ${value} is not an exact byte count`);
  return Number(value);
}

/** The 64-byte header. */
export function encodeHeader(header: JournalHeader): Buffer {
  const buf = Buffer.alloc(HEADER_BYTES);
  HEADER_MAGIC.copy(buf, 0);
  buf.writeUInt32LE((header.layer ?? 'file') === 'file' ? JOURNAL_VERSION : GUEST_JOURNAL_VERSION, 8);
  buf.writeUInt32LE(LAYER_CODES[header.layer ?? 'file'], 12);
  buf.writeBigUInt64LE(header.dev, 16);
  buf.writeBigUInt64LE(header.ino, 24);
  buf.writeBigUInt64LE(BigInt(header.size), 32);
  buf.writeBigUInt64LE(header.id ?? 0n, 40);
  chunkHash(buf.subarray(0, 48)).copy(buf, 48);
  return buf;
}

/** Parses and checks a header; JournalFormatError when it is not one this version wrote intact. */
export function decodeHeader(buf: Buffer): JournalHeader {
  if (buf.length < HEADER_BYTES) throw new JournalFormatError(`the header is ${buf.length} bytes, not ${HEADER_BYTES}`);
  if (!buf.subarray(0, 8).equals(HEADER_MAGIC)) throw new JournalFormatError('the header has no journal magic');
  if (!chunkHash(buf.subarray(0, 48)).equals(buf.subarray(48, 64))) throw new JournalFormatError('the header does not match its check hash');
  const version = buf.readUInt32LE(8);
  if (version !== JOURNAL_VERSION && version !== GUEST_JOURNAL_VERSION)
    throw new JournalFormatError(`journal version ${version} is not ${JOURNAL_VERSION} or ${GUEST_JOURNAL_VERSION}`);
  const code = buf.readUInt32LE(12);
  const layer = layerOfCode(code);
  if (layer === undefined) throw new JournalFormatError(`apply layer code ${code} is not one this agent knows (0 file, 1 guest raw, 2 guest qcow2)`);
  if ((layer === 'file') !== (version === JOURNAL_VERSION)) throw new JournalFormatError(`apply layer ${layer} does not go with journal version ${version}`);
  const id = buf.readBigUInt64LE(40);
  const header = { dev: buf.readBigUInt64LE(16), ino: buf.readBigUInt64LE(24), size: safeU64(buf, 32, 'size'), ...(id !== 0n && { id }) };
  return layer === 'file' ? header : { ...header, layer };
}

/** The bytes of one record (head, and for data the hash; the data, or a note's text, follows them). */
export function encodeRecordHead(record: JournalRecord): Buffer {
  const data = record.kind === 'data';
  const buf = Buffer.alloc(RECORD_HEAD_BYTES + (data ? HASH_BYTES : 0));
  buf.writeUInt32LE(data ? KIND_DATA : record.kind === 'zero' ? KIND_ZERO : KIND_NOTE, 0);
  buf.writeBigUInt64LE(BigInt(record.offset), 8);
  buf.writeBigUInt64LE(BigInt(record.length), 16);
  if (data) record.hash.copy(buf, RECORD_HEAD_BYTES);
  return buf;
}

/** The commit trailer. */
export function encodeTrailer(trailer: JournalTrailer): Buffer {
  const buf = Buffer.alloc(TRAILER_BYTES);
  buf.writeUInt32LE(KIND_COMMIT, 0);
  buf.writeBigUInt64LE(BigInt(trailer.records), 8);
  buf.writeBigUInt64LE(BigInt(trailer.recordBytes), 16);
  trailer.checksum.copy(buf, 24);
  TRAILER_MAGIC.copy(buf, 40);
  return buf;
}

/** Parses a trailer; undefined when the bytes are not one (the commit never completed). */
export function decodeTrailer(buf: Buffer): JournalTrailer | undefined {
  if (buf.length !== TRAILER_BYTES || buf.readUInt32LE(0) !== KIND_COMMIT || buf.readUInt32LE(4) !== 0 || !buf.subarray(40).equals(TRAILER_MAGIC)) return undefined;
  try {
    return { records: safeU64(buf, 8, 'records'), recordBytes: safeU64(buf, 16, 'bytes'), checksum: Buffer.from(buf.subarray(24, 40)) };
  } catch {
    return undefined;
  }
}

/** The running checksum of the records region (blake3 truncated to 128 bits, like every hash here). */
export class RecordChecksum {
  private readonly hasher = new Blake3Hasher();

  update(bytes: Uint8Array): void {
    this.hasher.update(asBuffer(bytes));
  }

  digest(): Buffer {
    return this.hasher.digestBuffer().subarray(0, HASH_BYTES);
  }
}

/**
 * Parses a record head (24 bytes) and checks it against the image size:
 * a known kind, a positive length, the span inside the image, and a data
 * length a reader may allocate.
 */
export function decodeRecordHead(buf: Buffer, imageSize: number): { kind: 'data' | 'zero' | 'note'; offset: number; length: number } {
  const code = buf.readUInt32LE(0);
  if ((code !== KIND_DATA && code !== KIND_ZERO && code !== KIND_NOTE) || buf.readUInt32LE(4) !== 0) throw new JournalFormatError(`record kind ${code} is not data, zero or note`);
  const offset = safeU64(buf, 8, 'record offset');
  const length = safeU64(buf, 16, 'record length');
  if (code === KIND_NOTE) {
    if (offset !== 0 || length === 0 || length > MAX_NOTE_BYTES)
      throw new JournalFormatError(`note record at ${offset} of ${length} bytes: a note is at offset 0 and 1 to ${MAX_NOTE_BYTES} bytes`);
    return { kind: 'note', offset, length };
  }
  const kind = code === KIND_DATA ? 'data' : 'zero';
  if (length === 0 || offset + length > imageSize) throw new JournalFormatError(`record ${offset}+${length} lies outside the ${imageSize}-byte image`);
  if (kind === 'data' && length > MAX_DATA_RECORD_BYTES) throw new JournalFormatError(`data record of ${length} bytes exceeds ${MAX_DATA_RECORD_BYTES}`);
  return { kind, offset, length };
}
