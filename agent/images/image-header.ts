/**
 * What an image header says about other files, read by kvmclone itself.
 *
 * A qcow2 header may name a backing file and an external data file; qemu
 * opens both with the agent's privileges. Whoever writes an image (a source
 * agent over WriteRanges, a pull) therefore chooses what the agent, qemu-img
 * and later the VM read: `/dev/sda`, another VM's disk. So headers are parsed
 * here from their bytes (qemu never opens a file kvmclone has not checked),
 * the format of an untrusted image is never probed (qcow2 magic or raw), and
 * every chain is walked link by link: each backing file must resolve, without
 * a protocol prefix, to a regular file under the image roots; external data
 * files are refused always (kvmclone does not copy them).
 */
import { constants } from 'node:fs';
import { lstat, open, realpath, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { dataLoss, errnoCode, invalidArgument, permissionDenied } from '../../shared/errors.js';
import type { ImageRoots } from '../paths/image-roots.js';

/** The formats kvmclone reads and writes; anything else is refused, never probed. */
export type ImageFormat = 'qcow2' | 'raw';
export const IMAGE_FORMATS: readonly ImageFormat[] = ['qcow2', 'raw'];

/** 'QFI\xfb', the first four bytes of every qcow2 image. */
export const QCOW2_MAGIC = Buffer.from([0x51, 0x46, 0x49, 0xfb]);

const EXT_END = 0x00000000;
const EXT_BACKING_FORMAT = 0xe2792aca;
const EXT_DATA_FILE = 0x44415441;
const INCOMPAT_DATA_FILE = 2n;
/** qemu refuses longer backing names (1023) and headers past one 2 MiB cluster; so do we. */
const MAX_BACKING_NAME = 1023;
const MAX_HEADER_BYTES = 2 * 1024 * 1024;
/** Longer chains are refused as malformed (qemu's own limit is far beyond any real chain). */
const MAX_CHAIN = 64;

/** The parts of a qcow2 header that name other files. */
export interface Qcow2Header {
  version: number;
  virtualSize: number;
  /** Backing file name as written, or "". */
  backingReference: string;
  /** Backing format from the header extension, or "" when the header has none. */
  backingFormat: string;
  /** External data file name from the header extension, or "". */
  dataFile: string;
  /** The incompatible-feature bit that says an external data file is in use. */
  hasDataFile: boolean;
  /** Bytes of one cluster: the header, its extensions and the backing name all live in the first. */
  clusterSize: number;
  /** Where the header extensions start (72 for version 2). */
  headerLength: number;
}

/** Checks a value is a format kvmclone handles. */
export function checkImageFormat(format: unknown, field = 'format'): ImageFormat {
  if (typeof format === 'string' && (IMAGE_FORMATS as readonly string[]).includes(format)) return format as ImageFormat;
  throw invalidArgument(`${field}: ${JSON.stringify(format)} is not qcow2 or raw`);
}

async function readAt(fh: FileHandle, offset: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, offset);
  return buf.subarray(0, bytesRead);
}

/** True when the open file starts with the qcow2 magic. */
export async function hasQcow2Magic(fh: FileHandle): Promise<boolean> {
  return (await readAt(fh, 0, 4)).equals(QCOW2_MAGIC);
}

/**
 * The format of an image nobody has told us: qcow2 if it starts with the
 * qcow2 magic, raw otherwise. Unlike qemu's probe this never yields a format
 * (vmdk, vhdx, ...) whose header could name further files.
 */
export async function sniffFormat(path: string): Promise<ImageFormat> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    return (await hasQcow2Magic(fh)) ? 'qcow2' : 'raw';
  } finally {
    await fh.close();
  }
}

/** Reads `length` bytes at `offset` (fewer at the end of the image). */
type ReadAt = (offset: number, length: number) => Promise<Buffer>;

/** Parses the qcow2 header of an open image; DATA_LOSS when it is not a well-formed one. */
export function readQcow2Header(fh: FileHandle, name: string): Promise<Qcow2Header> {
  return parseHeader((offset, length) => readAt(fh, offset, length), name);
}

/**
 * Parses a qcow2 header from the first bytes of an image held in memory
 * (e.g. what an in-place sync is about to write); DATA_LOSS when they do not
 * hold a well-formed one.
 */
export function qcow2HeaderOf(bytes: Buffer, name: string): Promise<Qcow2Header> {
  return parseHeader(async (offset, length) => bytes.subarray(Math.min(offset, bytes.length), Math.min(offset + length, bytes.length)), name);
}

async function parseHeader(read: ReadAt, name: string): Promise<Qcow2Header> {
  const head = await read(0, 112);
  if (head.length < 72 || !head.subarray(0, 4).equals(QCOW2_MAGIC)) throw dataLoss(`${name} is not a qcow2 image (no qcow2 header)`);
  const version = head.readUInt32BE(4);
  if (version !== 2 && version !== 3) throw dataLoss(`${name}: qcow2 version ${version} is not 2 or 3`);
  const backingOffset = head.readBigUInt64BE(8);
  const backingSize = head.readUInt32BE(16);
  const clusterBits = head.readUInt32BE(20);
  const virtualSize = Number(head.readBigUInt64BE(24));
  let headerLength = 72;
  let incompatible = 0n;
  if (version === 3) {
    if (head.length < 104) throw dataLoss(`${name}: qcow2 v3 header is truncated`);
    incompatible = head.readBigUInt64BE(72);
    headerLength = head.readUInt32BE(100);
    if (headerLength < 104 || headerLength > MAX_HEADER_BYTES) throw dataLoss(`${name}: qcow2 header length ${headerLength} is invalid`);
  }
  const clusterSize = clusterBits >= 9 && clusterBits <= 21 ? 2 ** clusterBits : 0;
  if (clusterSize === 0) throw dataLoss(`${name}: qcow2 cluster bits ${clusterBits} are invalid`);

  let backingReference = '';
  if (backingOffset !== 0n) {
    if (backingSize > MAX_BACKING_NAME || backingOffset > BigInt(MAX_HEADER_BYTES)) throw dataLoss(`${name}: the qcow2 backing file name is out of bounds`);
    const raw = await read(Number(backingOffset), backingSize);
    if (raw.length !== backingSize) throw dataLoss(`${name}: the qcow2 backing file name is truncated`);
    backingReference = raw.toString('utf8');
    if (backingReference.includes('\0')) throw dataLoss(`${name}: the qcow2 backing file name contains a NUL byte`);
  }

  // Header extensions: type, length, data padded to 8, until the end marker or the first cluster's end.
  let backingFormat = '';
  let dataFile = '';
  const extEnd = Math.min(clusterSize, backingOffset !== 0n && Number(backingOffset) > headerLength ? Number(backingOffset) : clusterSize);
  const ext = await read(headerLength, Math.max(0, extEnd - headerLength));
  for (let at = 0; at + 8 <= ext.length;) {
    const type = ext.readUInt32BE(at);
    const length = ext.readUInt32BE(at + 4);
    if (type === EXT_END) break;
    if (at + 8 + length > ext.length) throw dataLoss(`${name}: a qcow2 header extension runs past the header`);
    const data = ext.subarray(at + 8, at + 8 + length).toString('utf8');
    if (type === EXT_BACKING_FORMAT) backingFormat = data;
    if (type === EXT_DATA_FILE) dataFile = data;
    at += 8 + Math.ceil(length / 8) * 8;
  }
  return { version, virtualSize, backingReference, backingFormat, dataFile, hasDataFile: (incompatible & (1n << INCOMPAT_DATA_FILE)) !== 0n, clusterSize, headerLength };
}

/** One image of a chain as its headers say it, checked. */
export interface ChainLink {
  /** Resolved path of the image. */
  path: string;
  format: ImageFormat;
  /** Backing reference as written in the header, or "". */
  backingReference: string;
  /** The backing file's resolved path, or "". */
  backingPath: string;
  /** Backing format as the header says it (or as sniffed when it says none), or "". */
  backingFormat: ImageFormat | '';
}

export interface ChainCheckOptions {
  /** Backing files must resolve under these roots; without them any regular file passes (read-only uses). */
  roots?: ImageRoots;
  /**
   * A backing file that does not exist yet (its path under the roots): allowed
   * where the base is staged by the same operation and committed after the
   * overlay; the chain then ends at that link.
   */
  allowMissingBacking?: boolean;
  /** Check only the image's own header (its data file), not where its backing reference leads. */
  headerOnly?: boolean;
  /** Field name for error messages. */
  field?: string;
  /**
   * The top image's header as it will be rather than as its file holds it
   * now (an in-place sync checks the header it is about to write before
   * its journal commits); the rest of the chain is read from the files.
   */
  topHeader?: Qcow2Header;
}

/** True when qemu would read `reference` as `protocol:...` (nbd:, http:, json:, file:) rather than a path. */
export function hasProtocolPrefix(reference: string): boolean {
  const stop = reference.search(/[:/]/);
  return stop >= 0 && reference[stop] === ':';
}

/**
 * Resolves a backing reference as qemu does (relative to the directory of the
 * image naming it), physically (symlinks and `..` by the kernel's rules);
 * undefined when it does not exist (and is not a dangling symlink).
 */
async function resolveBacking(image: string, reference: string, options: ChainCheckOptions, field: string): Promise<string | undefined> {
  const joined = reference.startsWith('/') ? reference : `${dirname(image)}/${reference}`;
  const refuse = (why: string): never => {
    throw permissionDenied(`${field}: the qcow2 header of ${image} names ${JSON.stringify(reference)} as its backing file, ${why}; the image is refused`);
  };
  let resolved: string;
  try {
    resolved = await realpath(joined);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT' && errnoCode(err) !== 'ENOTDIR') throw err;
    const link = await lstat(joined).catch(() => undefined);
    if (link !== undefined) refuse('a symlink that leads nowhere');
    if (!options.allowMissingBacking) throw permissionDenied(`${field}: the backing file ${JSON.stringify(reference)} of ${image} does not exist; the image is refused`);
    const dir = await realpath(dirname(joined)).catch(() => refuse('in a directory that does not exist'));
    const candidate = join(dir, basename(joined));
    if (options.roots !== undefined && !options.roots.contains(candidate)) refuse("outside the agent's image roots");
    return undefined;
  }
  if (options.roots !== undefined && !options.roots.contains(resolved)) refuse(`outside the agent's image roots (it resolves to ${resolved})`);
  const st = await stat(resolved);
  if (!st.isFile()) refuse(`which is not a regular file (${resolved})`);
  return resolved;
}

/** Reads the header of one link of a chain (through `top` when given, which stays open). */
async function readLinkHeader(path: string, top: FileHandle | undefined, field: string): Promise<Qcow2Header> {
  // O_NONBLOCK: a FIFO put in a backing file's place must not hang the agent.
  const fh = top ?? (await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK));
  try {
    if (!(await fh.stat()).isFile()) throw permissionDenied(`${field}: ${path} is not a regular file`);
    return await readQcow2Header(fh, path);
  } finally {
    if (fh !== top) await fh.close();
  }
}

/**
 * Walks the chain of the image at `path` (already resolved and confined by the
 * caller) in `format`, as the headers say it, checking every link; returns the
 * links, the image first. PERMISSION_DENIED for a reference anywhere
 * unexpected, DATA_LOSS for a malformed header or a loop. `top` may be an
 * already open descriptor of `path` (a locked staging file).
 */
export async function checkImageChain(path: string, format: ImageFormat, options: ChainCheckOptions = {}, top?: FileHandle): Promise<ChainLink[]> {
  const field = options.field ?? 'path';
  const links: ChainLink[] = [];
  const seen = new Set<string>();
  let current: string | undefined = path;
  let currentFormat: ImageFormat = format;
  while (current !== undefined) {
    if (seen.has(current)) throw dataLoss(`${field}: the backing chain of ${path} loops back to ${current}`);
    if (links.length >= MAX_CHAIN) throw dataLoss(`${field}: the backing chain of ${path} is longer than ${MAX_CHAIN} images`);
    seen.add(current);
    const link: ChainLink = { path: current, format: currentFormat, backingReference: '', backingPath: '', backingFormat: '' };
    links.push(link);
    if (currentFormat === 'raw') break;
    const header = links.length === 1 && options.topHeader !== undefined ? options.topHeader : await readLinkHeader(current, links.length === 1 ? top : undefined, field);
    if (header.hasDataFile || header.dataFile !== '') {
      throw permissionDenied(
        `${field}: the qcow2 header of ${current} names an external data file${header.dataFile === '' ? '' : ` (${JSON.stringify(header.dataFile)})`}; kvmclone does not use external data files, the image is refused`,
      );
    }
    link.backingReference = header.backingReference;
    link.backingFormat = (header.backingFormat as ImageFormat | '') || '';
    if (header.backingReference === '' || options.headerOnly) break;
    if (hasProtocolPrefix(header.backingReference)) {
      throw permissionDenied(
        `${field}: the qcow2 header of ${current} names ${JSON.stringify(header.backingReference)} as its backing file, a protocol rather than a file; the image is refused`,
      );
    }
    if (header.backingFormat !== '' && !(IMAGE_FORMATS as readonly string[]).includes(header.backingFormat)) {
      throw permissionDenied(
        `${field}: the qcow2 header of ${current} gives its backing file the format ${JSON.stringify(header.backingFormat)}; kvmclone handles only qcow2 and raw`,
      );
    }
    const next = await resolveBacking(current, header.backingReference, options, field);
    if (next === undefined) break;
    link.backingPath = next;
    link.backingFormat = header.backingFormat === '' ? await sniffFormat(next) : (header.backingFormat as ImageFormat);
    current = next;
    currentFormat = link.backingFormat;
  }
  return links;
}

/**
 * The qemu block-driver options that open exactly a checked chain, each link
 * with its format and its own backing stated, so qemu neither probes a format
 * nor follows a reference by itself (used as `json:{...}` filenames).
 */
export function chainBlockdevOptions(links: readonly ChainLink[]): Record<string, unknown> {
  const [first, ...rest] = links;
  if (first === undefined) throw invalidArgument('an empty chain has no image to open');
  const node: Record<string, unknown> = { driver: first.format, file: { driver: 'file', filename: first.path } };
  if (first.format === 'qcow2') {
    if (rest.length > 0) node.backing = chainBlockdevOptions(rest);
    else if (first.backingReference !== '') throw invalidArgument(`the backing file of ${first.path} does not exist yet; its chain cannot be opened`);
  }
  return node;
}
