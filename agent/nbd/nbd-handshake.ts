/**
 * The NBD handshake up to the transmission phase: fixed newstyle
 * negotiation, structured replies, metadata contexts, then NBD_OPT_GO with
 * the export's size, flags and block sizes. Kept apart from NbdClient because
 * it is a strict question-and-answer exchange read through an Inbox, while
 * the transmission phase is pipelined and read by a ReplyReader.
 */
import { type Socket } from 'node:net';
import { type KvmcloneError, invalidArgument, notFound, unavailable } from '../../shared/errors.js';
import {
  MAX_PAYLOAD_BYTES,
  NBD_CLISERV_MAGIC,
  NBD_FLAG_C_FIXED_NEWSTYLE,
  NBD_FLAG_C_NO_ZEROES,
  NBD_FLAG_FIXED_NEWSTYLE,
  NBD_FLAG_NO_ZEROES,
  NBD_INFO_BLOCK_SIZE,
  NBD_INFO_EXPORT,
  NBD_INIT_MAGIC,
  NBD_OPTS_MAGIC,
  NBD_OPT_GO,
  NBD_OPT_SET_META_CONTEXT,
  NBD_OPT_STRUCTURED_REPLY,
  NBD_REP_ACK,
  NBD_REP_ERR_UNKNOWN,
  NBD_REP_ERR_UNSUP,
  NBD_REP_FLAG_ERROR,
  NBD_REP_INFO,
  NBD_REP_META_CONTEXT,
  OPTION_REPLY_BYTES,
  decodeOptionReply,
  encodeOption,
  protocolError,
  readU64,
} from './nbd-protocol.js';

/** Longest export name or metadata context name (the spec's string limit). */
const MAX_NAME_BYTES = 4096;

/**
 * Bytes received during the handshake, handed out in exact amounts: the
 * handshake reads field by field however the socket splits them, and a
 * failure (socket error, close, abort, timeout) rejects the read waiting.
 */
export class Inbox {
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
      const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
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
export interface ExportInfo {
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

/** One handshake's socket, inbox and names, for its steps below. */
interface Negotiation {
  socket: Socket;
  inbox: Inbox;
  /** The server, for messages (its socket path). */
  where: string;
  exportName: string;
  /** The export name as sent: length-prefixed. */
  name: Buffer;
}

/** The server's greeting, checked, and the client's flags in answer. */
async function greet({ socket, inbox, where }: Negotiation): Promise<void> {
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
}

/** Sends one option and reads its replies until `onReply` says the last has come. */
async function ask({ socket, inbox }: Negotiation, option: number, data: Buffer | undefined, onReply: (type: number, payload: Buffer) => boolean): Promise<void> {
  socket.write(encodeOption(option, data));
  for (;;) {
    const head = decodeOptionReply(await inbox.read(OPTION_REPLY_BYTES));
    if (head.option !== option) throw protocolError(`reply to option ${head.option} while option ${option} was asked`);
    const payload = head.length > 0 ? await inbox.read(head.length) : Buffer.alloc(0);
    if (onReply(head.type, payload)) return;
  }
}

function refusal(type: number, payload: Buffer): string {
  return `${payload.length > 0 ? payload.toString('utf8') : 'no message'} (reply 0x${type.toString(16)})`;
}

function noExport({ exportName, where }: Negotiation): KvmcloneError {
  return notFound(`no export ${JSON.stringify(exportName)} on the NBD server at ${where}`);
}

/** NBD_OPT_SET_META_CONTEXT: the contexts granted go into `info.contexts`, a refusal into `info.contextRefusal`. */
async function selectContexts(n: Negotiation, metaContexts: readonly string[], info: ExportInfo): Promise<void> {
  const count = Buffer.allocUnsafe(4);
  count.writeUInt32BE(metaContexts.length);
  const data = Buffer.concat([n.name, count, ...metaContexts.map((c) => lengthPrefixed(c, 'metadata context name'))]);
  await ask(n, NBD_OPT_SET_META_CONTEXT, data, (type, payload) => {
    if (type === NBD_REP_META_CONTEXT) {
      if (payload.length < 5) throw protocolError(`META_CONTEXT reply of ${payload.length} bytes`);
      info.contexts.set(payload.toString('utf8', 4), payload.readUInt32BE(0));
      return false;
    }
    if (type === NBD_REP_ACK) return true;
    if (type === NBD_REP_ERR_UNKNOWN) throw noExport(n);
    if (type & NBD_REP_FLAG_ERROR) {
      // The spec: after an error, contexts already listed do not count. Block status then says why.
      info.contexts.clear();
      info.contextRefusal = refusal(type, payload);
      return true;
    }
    throw protocolError(`reply type ${type} to SET_META_CONTEXT`);
  });
}

/** One NBD_REP_INFO of GO: the export's size and flags, or its block sizes, into `info`. */
function readInfoReply(payload: Buffer, info: ExportInfo): void {
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
}

/** NBD_OPT_GO, asking for block sizes: the transmission phase begins once it is acknowledged. */
async function go(n: Negotiation, info: ExportInfo): Promise<void> {
  const { where, exportName } = n;
  const requests = Buffer.allocUnsafe(4);
  requests.writeUInt16BE(1, 0);
  requests.writeUInt16BE(NBD_INFO_BLOCK_SIZE, 2);
  await ask(n, NBD_OPT_GO, Buffer.concat([n.name, requests]), (type, payload) => {
    if (type === NBD_REP_INFO) {
      readInfoReply(payload, info);
      return false;
    }
    if (type === NBD_REP_ACK) {
      if (info.size < 0) throw protocolError('GO acknowledged without INFO_EXPORT');
      return true;
    }
    if (type === NBD_REP_ERR_UNKNOWN) throw noExport(n);
    if (type === NBD_REP_ERR_UNSUP) throw unavailable(`the NBD server at ${where} is too old: it does not know NBD_OPT_GO`);
    if (type & NBD_REP_FLAG_ERROR) throw unavailable(`the NBD server at ${where} refused export ${JSON.stringify(exportName)}: ${refusal(type, payload)}`);
    throw protocolError(`reply type ${type} to GO`);
  });
}

/**
 * The fixed-newstyle negotiation: structured replies, metadata contexts, then
 * GO with block sizes. Throws NOT_FOUND for an unknown export, UNAVAILABLE for
 * a server that refuses or is too old, DATA_LOSS for one that is not NBD.
 */
export async function negotiate(socket: Socket, inbox: Inbox, where: string, exportName: string, metaContexts: readonly string[]): Promise<ExportInfo> {
  const n: Negotiation = { socket, inbox, where, exportName, name: lengthPrefixed(exportName, 'export name') };
  await greet(n);
  await ask(n, NBD_OPT_STRUCTURED_REPLY, undefined, (type, payload) => {
    if (type === NBD_REP_ACK) return true;
    if (type & NBD_REP_FLAG_ERROR) throw unavailable(`the NBD server at ${where} refused structured replies: ${refusal(type, payload)}`);
    throw protocolError(`reply type ${type} to STRUCTURED_REPLY`);
  });
  const info: ExportInfo = { size: -1, flags: 0, minBlock: 1, preferredBlock: 4096, maxPayload: MAX_PAYLOAD_BYTES, contexts: new Map(), contextRefusal: '' };
  if (metaContexts.length > 0) await selectContexts(n, metaContexts, info);
  await go(n, info);
  return info;
}
