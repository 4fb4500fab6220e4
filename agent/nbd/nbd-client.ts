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
 */
import { connect, type Socket } from 'node:net';
import { KvmcloneError, invalidArgument, notFound, outOfRange, permissionDenied, unavailable } from '../../shared/errors.js';
import {
  MAX_PAYLOAD_BYTES, NBD_CLISERV_MAGIC, NBD_CMD_BLOCK_STATUS, NBD_CMD_DISC, NBD_CMD_FLAG_NO_HOLE, NBD_CMD_FLUSH, NBD_CMD_READ, NBD_CMD_TRIM,
  NBD_CMD_WRITE, NBD_CMD_WRITE_ZEROES, NBD_FLAG_CAN_MULTI_CONN, NBD_FLAG_C_FIXED_NEWSTYLE, NBD_FLAG_C_NO_ZEROES, NBD_FLAG_FIXED_NEWSTYLE, NBD_FLAG_NO_ZEROES,
  NBD_FLAG_READ_ONLY, NBD_FLAG_SEND_FLUSH, NBD_FLAG_SEND_TRIM, NBD_FLAG_SEND_WRITE_ZEROES, NBD_INFO_BLOCK_SIZE, NBD_INFO_EXPORT, NBD_INIT_MAGIC, NBD_OPTS_MAGIC,
  NBD_OPT_ABORT, NBD_OPT_GO, NBD_OPT_SET_META_CONTEXT, NBD_OPT_STRUCTURED_REPLY, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_BLOCK_STATUS, NBD_REPLY_TYPE_FLAG_ERROR,
  NBD_REPLY_TYPE_OFFSET_DATA, NBD_REPLY_TYPE_OFFSET_HOLE, NBD_REP_ACK, NBD_REP_ERR_UNKNOWN, NBD_REP_ERR_UNSUP, NBD_REP_FLAG_ERROR, NBD_REP_INFO, NBD_REP_META_CONTEXT,
  OPTION_REPLY_BYTES, ReplyReader, decodeErrorChunk, decodeExtents, decodeOptionReply, encodeOption, encodeRequest, protocolError, readU64, serverError,
  type ChunkHeader, type NbdExtent, type ReplyHandler,
} from './nbd-protocol.js';

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

const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
/** How long `close` waits for the server to finish outstanding requests and hang up. */
const CLOSE_TIMEOUT_MS = 10_000;
/** Pieces of one oversized call in flight at once. */
const SPLIT_DEPTH = 4;
/** Largest effect length of one WRITE_ZEROES, TRIM or BLOCK_STATUS (a multiple of any block size). */
const EFFECT_PIECE_BYTES = 2 ** 31;
/** Read buffer for headers, metadata and the edges of data chunks. */
const READ_BUFFER_BYTES = 256 * 1024;
/** Data chunks with at least this much left are read by the socket straight into their destination. */
const DIRECT_READ_MIN_BYTES = 64 * 1024;
/** Longest export name or metadata context name (the spec's string limit). */
const MAX_NAME_BYTES = 4096;

/** A request on the wire, until its reply is complete. */
interface Pending {
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

const COMMAND_NAMES: Record<number, string> = {
  [NBD_CMD_READ]: 'read',
  [NBD_CMD_WRITE]: 'write',
  [NBD_CMD_FLUSH]: 'flush',
  [NBD_CMD_TRIM]: 'trim',
  [NBD_CMD_WRITE_ZEROES]: 'write-zeroes',
  [NBD_CMD_BLOCK_STATUS]: 'block-status',
};

function describe(p: Pending): string {
  const name = COMMAND_NAMES[p.type] ?? `command ${p.type}`;
  return p.type === NBD_CMD_FLUSH ? name : `${name} of ${p.length} bytes at ${p.offset}`;
}

/** A promise that rejects with the signal's reason on abort (listener removed when settled). */
function raced<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Bytes received during the handshake, handed out in exact amounts. */
class Inbox {
  private chunks: Buffer[] = [];
  private total = 0;
  private waiter: { n: number; resolve(b: Buffer): void; reject(e: unknown): void } | undefined;
  private error: unknown;

  push(bytes: Buffer): void {
    this.chunks.push(Buffer.from(bytes)); // the read buffer is reused: copy (handshake bytes only)
    this.total += bytes.length;
    this.wake();
  }

  fail(err: unknown): void {
    this.error ??= err;
    this.wake();
  }

  read(n: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.waiter = { n, resolve, reject };
      this.wake();
    });
  }

  /** What arrived beyond the handshake (a server may not send any, but nothing is lost if it does). */
  rest(): Buffer {
    return Buffer.concat(this.chunks);
  }

  private wake(): void {
    const w = this.waiter;
    if (w === undefined) return;
    if (this.total >= w.n) {
      this.waiter = undefined;
      const all = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
      this.chunks = all.length > w.n ? [all.subarray(w.n)] : [];
      this.total -= w.n;
      w.resolve(all.subarray(0, w.n));
    } else if (this.error !== undefined) {
      this.waiter = undefined;
      w.reject(this.error);
    }
  }
}

/** What NBD_OPT_GO and NBD_OPT_SET_META_CONTEXT told about the export. */
interface ExportInfo {
  size: number;
  flags: number;
  minBlock: number;
  preferredBlock: number;
  maxPayload: number;
  contexts: Map<string, number>;
  /** Why no context was granted, when the server refused the whole option. */
  contextRefusal: string;
}

function lengthPrefixed(text: string, what: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > MAX_NAME_BYTES) throw invalidArgument(`${what} is ${bytes.length} bytes long (NBD allows ${MAX_NAME_BYTES})`);
  const out = Buffer.allocUnsafe(4 + bytes.length);
  out.writeUInt32BE(bytes.length, 0);
  bytes.copy(out, 4);
  return out;
}

/** The fixed-newstyle negotiation: structured replies, metadata contexts, then GO with block sizes. */
async function negotiate(socket: Socket, inbox: Inbox, where: string, exportName: string, metaContexts: readonly string[]): Promise<ExportInfo> {
  const name = lengthPrefixed(exportName, 'export name');
  const hello = await inbox.read(18);
  if (hello.readBigUInt64BE(0) !== NBD_INIT_MAGIC) throw protocolError(`${where} is not an NBD server (no NBDMAGIC)`);
  const style = hello.readBigUInt64BE(8);
  if (style === NBD_CLISERV_MAGIC) throw unavailable(`the NBD server at ${where} only speaks the oldstyle handshake`);
  if (style !== NBD_OPTS_MAGIC) throw protocolError(`bad handshake magic 0x${style.toString(16)} from ${where}`);
  const serverFlags = hello.readUInt16BE(16);
  if ((serverFlags & NBD_FLAG_FIXED_NEWSTYLE) === 0) throw unavailable(`the NBD server at ${where} does not speak fixed newstyle negotiation`);
  const clientFlags = Buffer.allocUnsafe(4);
  clientFlags.writeUInt32BE(NBD_FLAG_C_FIXED_NEWSTYLE | (serverFlags & NBD_FLAG_NO_ZEROES ? NBD_FLAG_C_NO_ZEROES : 0));
  socket.write(clientFlags);

  const ask = async (option: number, data: Buffer | undefined, onReply: (type: number, payload: Buffer) => boolean): Promise<void> => {
    socket.write(encodeOption(option, data));
    for (;;) {
      const head = decodeOptionReply(await inbox.read(OPTION_REPLY_BYTES));
      if (head.option !== option) throw protocolError(`reply to option ${head.option} while option ${option} was asked`);
      const payload = head.length > 0 ? await inbox.read(head.length) : Buffer.alloc(0);
      if (onReply(head.type, payload)) return;
    }
  };
  const refusal = (type: number, payload: Buffer): string => `${payload.length > 0 ? payload.toString('utf8') : 'no message'} (reply 0x${type.toString(16)})`;
  const noExport = (): KvmcloneError => notFound(`no export ${JSON.stringify(exportName)} on the NBD server at ${where}`);

  await ask(NBD_OPT_STRUCTURED_REPLY, undefined, (type, payload) => {
    if (type === NBD_REP_ACK) return true;
    if (type & NBD_REP_FLAG_ERROR) throw unavailable(`the NBD server at ${where} refused structured replies: ${refusal(type, payload)}`);
    throw protocolError(`reply type ${type} to STRUCTURED_REPLY`);
  });

  const info: ExportInfo = { size: -1, flags: 0, minBlock: 1, preferredBlock: 4096, maxPayload: MAX_PAYLOAD_BYTES, contexts: new Map(), contextRefusal: '' };
  if (metaContexts.length > 0) {
    const count = Buffer.allocUnsafe(4);
    count.writeUInt32BE(metaContexts.length);
    const data = Buffer.concat([name, count, ...metaContexts.map((c) => lengthPrefixed(c, 'metadata context name'))]);
    await ask(NBD_OPT_SET_META_CONTEXT, data, (type, payload) => {
      if (type === NBD_REP_META_CONTEXT) {
        if (payload.length < 5) throw protocolError(`META_CONTEXT reply of ${payload.length} bytes`);
        info.contexts.set(payload.toString('utf8', 4), payload.readUInt32BE(0));
        return false;
      }
      if (type === NBD_REP_ACK) return true;
      if (type === NBD_REP_ERR_UNKNOWN) throw noExport();
      if (type & NBD_REP_FLAG_ERROR) {
        // The spec: after an error, contexts already listed do not count. Block status then says why.
        info.contexts.clear();
        info.contextRefusal = refusal(type, payload);
        return true;
      }
      throw protocolError(`reply type ${type} to SET_META_CONTEXT`);
    });
  }

  const requests = Buffer.allocUnsafe(4);
  requests.writeUInt16BE(1, 0);
  requests.writeUInt16BE(NBD_INFO_BLOCK_SIZE, 2);
  await ask(NBD_OPT_GO, Buffer.concat([name, requests]), (type, payload) => {
    if (type === NBD_REP_INFO) {
      if (payload.length < 2) throw protocolError('empty INFO reply');
      const infoType = payload.readUInt16BE(0);
      if (infoType === NBD_INFO_EXPORT) {
        if (payload.length !== 12) throw protocolError(`INFO_EXPORT of ${payload.length} bytes`);
        info.size = readU64(payload, 2);
        info.flags = payload.readUInt16BE(10);
      } else if (infoType === NBD_INFO_BLOCK_SIZE) {
        if (payload.length !== 14) throw protocolError(`INFO_BLOCK_SIZE of ${payload.length} bytes`);
        info.minBlock = payload.readUInt32BE(2);
        info.preferredBlock = payload.readUInt32BE(6);
        info.maxPayload = payload.readUInt32BE(10);
        const min = info.minBlock;
        if (min < 1 || min > 65536 || (min & (min - 1)) !== 0) throw protocolError(`minimum block size ${min} is not a power of 2 up to 64 KiB`);
      }
      return false;
    }
    if (type === NBD_REP_ACK) {
      if (info.size < 0) throw protocolError('GO acknowledged without INFO_EXPORT');
      return true;
    }
    if (type === NBD_REP_ERR_UNKNOWN) throw noExport();
    if (type === NBD_REP_ERR_UNSUP) throw unavailable(`the NBD server at ${where} is too old: it does not know NBD_OPT_GO`);
    if (type & NBD_REP_FLAG_ERROR) throw unavailable(`the NBD server at ${where} refused export ${JSON.stringify(exportName)}: ${refusal(type, payload)}`);
    throw protocolError(`reply type ${type} to GO`);
  });
  return info;
}

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

  private readonly pending = new Map<number, Pending>();
  private readonly reader: ReplyReader;
  private nextCookie = 1;
  private failure: KvmcloneError | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private drainWait: Promise<void> | undefined;
  private readonly gone: Promise<void>;

  private constructor(
    private readonly socket: Socket,
    readonly socketPath: string,
    readonly exportName: string,
    private readonly info: ExportInfo,
    private readonly wire: Wire,
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
    this.reader = new ReplyReader(this.handler());
    this.gone = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', (err) => {
      this.failure ??= unavailable(`NBD connection to ${socketPath} failed: ${err.message}`);
    });
    socket.once('close', () => this.onClose());
  }

  /**
   * Connects to the NBD server on `socketPath` and negotiates `exportName`.
   * NOT_FOUND when the server has no such export; UNAVAILABLE when nothing
   * listens there or the server refuses; DATA_LOSS when what it says is not
   * NBD; DEADLINE_EXCEEDED after `timeoutMs`.
   */
  static async connect(socketPath: string, options: NbdConnectOptions): Promise<NbdClient> {
    const { exportName, metaContexts = [], signal, timeoutMs = DEFAULT_CONNECT_TIMEOUT_MS } = options;
    signal?.throwIfAborted();
    const inbox = new Inbox();
    const wire = new Wire();
    wire.sink = (bytes) => inbox.push(bytes);
    const socket = connect({ path: socketPath, onread: { buffer: () => wire.nextBuffer(), callback: (n, buf) => wire.received(n, buf) } });
    const onError = (err: Error): void => inbox.fail(unavailable(`cannot reach the NBD server at ${socketPath}: ${err.message}`));
    const onClose = (): void => inbox.fail(unavailable(`the NBD server at ${socketPath} closed the connection during the handshake`));
    const onAbort = (): void => inbox.fail(signal?.reason);
    socket.on('error', onError);
    socket.once('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => inbox.fail(new KvmcloneError('DEADLINE_EXCEEDED', `NBD handshake with ${socketPath} took longer than ${timeoutMs} ms`)), timeoutMs);
    try {
      const info = await negotiate(socket, inbox, socketPath, exportName, metaContexts);
      socket.off('error', onError);
      socket.off('close', onClose);
      const client = new NbdClient(socket, socketPath, exportName, info, wire);
      wire.reader = client.reader;
      wire.onFailure = (err) => client.fail(err);
      const rest = inbox.rest();
      if (rest.length > 0) client.reader.push(rest);
      return client;
    } catch (err) {
      // A soft disconnect (harmless where the session is not that far), then hang up.
      if (!socket.destroyed) socket.end(encodeOption(NBD_OPT_ABORT));
      setTimeout(() => socket.destroy(), 1000).unref();
      throw err;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
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
    await this.split(offset, length, EFFECT_PIECE_BYTES, (o, l) => this.submit({ type: NBD_CMD_WRITE_ZEROES, offset: o, length: l, callerBuffer: false }, flags, undefined, signal));
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
    this.checkOpen();
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
    const p = this.pendingFor({ type: NBD_CMD_BLOCK_STATUS, offset, length: Math.min(length, EFFECT_PIECE_BYTES), callerBuffer: false, contextId });
    await this.send(p, 0, undefined, signal);
    return p.extents ?? [];
  }

  /** Every extent of `context` over [offset, offset + length), adjacent ones with equal flags merged. */
  async *extents(context: string, offset: number, length: number, signal?: AbortSignal): AsyncGenerator<NbdExtent> {
    const end = offset + length;
    let held: NbdExtent | undefined;
    for (let at = offset; at < end; ) {
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
   * CLOSE_TIMEOUT_MS. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      if (!this.socket.destroyed && this.failure === undefined) {
        this.socket.end(encodeRequest({ flags: 0, type: NBD_CMD_DISC, cookie: 0, offset: 0, length: 0 }));
      }
      const timer = setTimeout(() => this.socket.destroy(), CLOSE_TIMEOUT_MS);
      await this.gone;
      clearTimeout(timer);
    })();
    return this.closing;
  }

  private checkOpen(): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.closed || this.socket.destroyed) throw unavailable(`the NBD connection to ${this.socketPath} is closed`);
  }

  private checkWritable(op: string): void {
    this.checkOpen();
    if (this.readOnly) throw permissionDenied(`${op} on read-only NBD export ${JSON.stringify(this.exportName)} at ${this.socketPath}`);
  }

  private checkRange(op: string, offset: number, length: number): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw invalidArgument(`${op}: offset ${offset} and length ${length} must be non-negative integers`);
    }
    if (offset + length > this.size) throw outOfRange(`${op} of ${length} bytes at ${offset} goes past the end of the ${this.size}-byte export`);
    const min = this.minBlockSize;
    if (min > 1 && (offset % min !== 0 || length % min !== 0)) throw invalidArgument(`${op}: offset ${offset} and length ${length} must be multiples of the export's ${min}-byte block`);
  }

  /** Runs `one` over pieces of at most `piece` bytes, SPLIT_DEPTH at a time; the first error wins. */
  private async split(offset: number, length: number, piece: number, one: (offset: number, length: number) => Promise<void>): Promise<void> {
    if (length === 0) return;
    if (length <= piece) return one(offset, length);
    const end = offset + length;
    let next = offset;
    let first: unknown;
    const worker = async (): Promise<void> => {
      while (next < end && first === undefined) {
        const at = next;
        const n = Math.min(piece, end - at);
        next += n;
        try {
          await one(at, n);
        } catch (err) {
          first ??= err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(SPLIT_DEPTH, Math.ceil(length / piece)) }, worker));
    if (first !== undefined) throw first;
  }

  private pendingFor(init: Pick<Pending, 'type' | 'offset' | 'length' | 'target' | 'callerBuffer' | 'contextId'>): Pending {
    return { ...init, cookie: 0, covered: 0, payloadSent: false, abandoned: false, resolve: () => {}, reject: () => {} };
  }

  private submit(init: Pick<Pending, 'type' | 'offset' | 'length' | 'target' | 'callerBuffer'>, flags: number, payload: Buffer | undefined, signal: AbortSignal | undefined): Promise<void> {
    return this.send(this.pendingFor(init), flags, payload, signal);
  }

  /** Puts one request on the socket (after backpressure) and waits for its reply. */
  private async send(p: Pending, flags: number, payload: Buffer | undefined, signal: AbortSignal | undefined): Promise<void> {
    this.checkOpen();
    signal?.throwIfAborted();
    while (this.socket.writableNeedDrain) {
      await raced(this.drained(), signal);
      this.checkOpen();
    }
    let cookie = this.nextCookie;
    while (this.pending.has(cookie)) cookie = (cookie + 1) >>> 0;
    this.nextCookie = (cookie + 1) >>> 0;
    p.cookie = cookie;
    const done = new Promise<void>((resolve, reject) => {
      p.resolve = resolve;
      p.reject = reject;
    });
    this.pending.set(cookie, p);
    const header = encodeRequest({ flags, type: p.type, cookie, offset: p.offset, length: p.length });
    if (payload === undefined) {
      this.socket.write(header);
    } else {
      this.socket.cork();
      this.socket.write(header);
      this.socket.write(payload, () => {
        p.payloadSent = true;
      });
      this.socket.uncork();
    }
    if (signal === undefined) return done;
    const onAbort = (): void => this.abandon(p, signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await done;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  private abandon(p: Pending, reason: unknown): void {
    if (p.abandoned || !this.pending.has(p.cookie)) return;
    p.abandoned = true;
    const held = (p.type === NBD_CMD_WRITE && !p.payloadSent) || (p.callerBuffer && this.wire.lentCookie === p.cookie);
    if (held) {
      this.fail(unavailable(`NBD connection to ${this.socketPath} dropped: a cancelled ${describe(p)} still had its buffer on the socket`));
    } else if (this.reader.dataCookie === p.cookie) {
      this.reader.dropData();
    }
    p.reject(reason);
  }

  private drained(): Promise<void> {
    this.drainWait ??= new Promise<void>((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        this.drainWait = undefined;
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
    return this.drainWait;
  }

  /** Drops the connection; every request in flight fails with `err`. */
  private fail(err: KvmcloneError): void {
    this.failure ??= err;
    this.socket.destroy();
  }

  private onClose(): void {
    const err = this.failure ?? unavailable(`the NBD connection to ${this.socketPath} closed with ${this.pending.size} request(s) in flight`);
    this.failure ??= err;
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) if (!p.abandoned) p.reject(err);
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

  private handler(): ReplyHandler {
    return {
      simpleReply: (cookie, error) => {
        const p = this.take(cookie);
        if (error === 0 && (p.type === NBD_CMD_READ || p.type === NBD_CMD_BLOCK_STATUS)) throw protocolError(`simple reply to a ${describe(p)}`);
        this.pending.delete(cookie);
        this.settle(p, error === 0 ? undefined : serverError(error, describe(p)));
      },
      dataStart: (h, offset, length) => {
        const p = this.take(h.cookie);
        this.checkContent(p, h, offset, length);
        p.covered += length;
        if (p.abandoned || p.target === undefined) return undefined;
        return p.target.subarray(offset - p.offset, offset - p.offset + length);
      },
      chunk: (h, payload) => {
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
      },
    };
  }
}

/**
 * The socket's read side. Bytes go to the handshake inbox first, then to the
 * reply reader; while a large data chunk is in progress the next socket read
 * goes straight into its destination (Node calls `nextBuffer` after every
 * read), and `lentCookie` says whose buffer that is.
 */
class Wire {
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

