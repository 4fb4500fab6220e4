/**
 * An NBD server for the NbdClient tests that negotiates like a fixed-newstyle
 * server and then hands every request to a script, for what qemu never sends
 * (error chunks with text, replies cut into single bytes, garbage, short and
 * partial replies), and the reply encoders the scripts answer with.
 */
import { createServer, type Server, type Socket } from 'node:net';
import {
  NBD_CMD_WRITE,
  NBD_OPT_GO,
  NBD_OPT_SET_META_CONTEXT,
  NBD_REPLY_FLAG_DONE,
  NBD_REPLY_TYPE_ERROR,
  NBD_REP_ACK,
  NBD_REP_INFO,
  NBD_REP_MAGIC,
  NBD_REP_META_CONTEXT,
  NBD_SIMPLE_REPLY_MAGIC,
  NBD_STRUCTURED_REPLY_MAGIC,
} from '../../../agent/nbd/nbd-protocol.js';

const MiB = 1024 * 1024;
const ALLOCATION = 'base:allocation';

/** A request as the scripted server sees it. */
export interface SeenRequest {
  type: number;
  flags: number;
  cookie: Buffer;
  offset: number;
  length: number;
}

/** What the server does with each request after the handshake. */
export type Script = (req: SeenRequest, socket: Socket) => void | Promise<void>;

/** A listening scripted server: its socket path, the requests it saw, and how to stop it. */
export interface ScriptedServer {
  path: string;
  seen: SeenRequest[];
  server: Server;
  stop(): void;
}

/** Bytes from a socket in exact amounts. */
function byteReader(socket: Socket): (n: number) => Promise<Buffer> {
  let held = Buffer.alloc(0);
  let wake: (() => void) | undefined;
  let ended = false;
  socket.on('data', (d: Buffer) => {
    held = Buffer.concat([held, d]);
    wake?.();
  });
  socket.on('close', () => {
    ended = true;
    wake?.();
  });
  return async (n) => {
    while (held.length < n) {
      if (ended) throw new Error('client hung up');
      await new Promise<void>((resolve) => (wake = resolve));
    }
    const out = held.subarray(0, n);
    held = held.subarray(n);
    return out;
  };
}

export const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);
export const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
export const u64 = (n: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};

function optionReply(option: number, type: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([u64(Number(NBD_REP_MAGIC)), u32(option), u32(type), u32(payload.length), payload]);
}

export function structured(req: SeenRequest, type: number, flags: number, payload: Buffer): Buffer {
  return Buffer.concat([u32(NBD_STRUCTURED_REPLY_MAGIC), u16(flags), u16(type), req.cookie, u32(payload.length), payload]);
}

export function simpleReply(req: SeenRequest, error: number): Buffer {
  return Buffer.concat([u32(NBD_SIMPLE_REPLY_MAGIC), u32(error), req.cookie]);
}

export function errorChunk(req: SeenRequest, errno: number, message: string): Buffer {
  const text = Buffer.from(message);
  return structured(req, NBD_REPLY_TYPE_ERROR, NBD_REPLY_FLAG_DONE, Buffer.concat([u32(errno), u16(text.length), text]));
}

/** The option haggling: base:allocation granted with id 1, a 1 MiB export with flush, trim and write zeroes. */
async function negotiate(socket: Socket, need: (n: number) => Promise<Buffer>): Promise<void> {
  socket.write(Buffer.concat([Buffer.from('NBDMAGICIHAVEOPT'), u16(3)]));
  await need(4);
  for (;;) {
    const head = await need(16);
    const option = head.readUInt32BE(8);
    await need(head.readUInt32BE(12));
    if (option === NBD_OPT_SET_META_CONTEXT) socket.write(optionReply(option, NBD_REP_META_CONTEXT, Buffer.concat([u32(1), Buffer.from(ALLOCATION)])));
    if (option === NBD_OPT_GO) socket.write(optionReply(option, NBD_REP_INFO, Buffer.concat([u16(0), u64(MiB), u16(1 | 4 | 32 | 64)])));
    socket.write(optionReply(option, NBD_REP_ACK));
    if (option === NBD_OPT_GO) break;
  }
}

/** Serves one connection: the handshake, then each request (a write's payload read) to `script` until a disconnect. */
async function serveConnection(socket: Socket, seen: SeenRequest[], script: Script): Promise<void> {
  const need = byteReader(socket);
  await negotiate(socket, need);
  for (;;) {
    const h = await need(28);
    const req = {
      flags: h.readUInt16BE(4),
      type: h.readUInt16BE(6),
      cookie: Buffer.from(h.subarray(8, 16)),
      offset: Number(h.readBigUInt64BE(16)),
      length: h.readUInt32BE(24),
    };
    if (req.type === NBD_CMD_WRITE) await need(req.length);
    if (req.type === 2) return void socket.end();
    seen.push(req);
    await script(req, socket);
  }
}

/** A server at `path` that negotiates like a fixed-newstyle NBD server and then hands every request to `script`. */
export async function listenScripted(path: string, script: Script): Promise<ScriptedServer> {
  const seen: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    serveConnection(socket, seen, script).catch(() => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const stop = (): void => {
    server.close();
    for (const s of sockets) s.destroy();
  };
  return { path, seen, server, stop };
}
