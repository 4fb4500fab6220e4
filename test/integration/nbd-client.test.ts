/**
 * NbdClient against real qemu-nbd (started by startQemuNbd) on real raw and
 * qcow2 images: the handshake, round trips checked against the image file
 * itself, zeroing seen through base:allocation and the file's blocks, a
 * persistent dirty bitmap, and the failures (no export, a killed server,
 * aborts, many reads at once). A scripted server over a unix socket covers
 * what qemu never sends: error chunks with text, replies cut into single
 * bytes, garbage, short and partial replies.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep, setImmediate as nextTurn } from 'node:timers/promises';
import { promisify } from 'node:util';
import { KvmcloneError, isAbortError } from '../../shared/errors.js';
import { NbdClient, type NbdExtent } from '../../agent/nbd/nbd-client.js';
import { startQemuNbd, type QemuNbdServer } from '../../agent/nbd/qemu-nbd-server.js';
import {
  NBD_CMD_BLOCK_STATUS,
  NBD_CMD_READ,
  NBD_CMD_WRITE,
  NBD_CMD_WRITE_ZEROES,
  NBD_EINVAL,
  NBD_EIO,
  NBD_ENOSPC,
  NBD_OPT_GO,
  NBD_OPT_SET_META_CONTEXT,
  NBD_REPLY_FLAG_DONE,
  NBD_REPLY_TYPE_BLOCK_STATUS,
  NBD_REPLY_TYPE_ERROR,
  NBD_REPLY_TYPE_OFFSET_DATA,
  NBD_REP_ACK,
  NBD_REP_INFO,
  NBD_REP_MAGIC,
  NBD_REP_META_CONTEXT,
  NBD_SIMPLE_REPLY_MAGIC,
  NBD_STATE_DIRTY,
  NBD_STATE_HOLE,
  NBD_STATE_ZERO,
  NBD_STRUCTURED_REPLY_MAGIC,
} from '../../agent/nbd/nbd-protocol.js';

const run = promisify(execFile);
const KiB = 1024;
const MiB = 1024 * KiB;
const ALLOCATION = 'base:allocation';
let dir: string;
let serial = 0;
const servers: QemuNbdServer[] = [];
const clients: NbdClient[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvmclone-nbd-'));
});
after(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  for (const s of servers) await s.close().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

/** A fresh image of `size` bytes; raw ones optionally filled from `data`. */
async function image(format: 'raw' | 'qcow2', size: number, data?: Buffer): Promise<string> {
  const path = join(dir, `img-${(serial += 1)}.${format}`);
  if (data !== undefined) await writeFile(path, data);
  else await run('qemu-img', ['create', '-q', '-f', format, path, String(size)]);
  return path;
}

async function serve(path: string, format: 'raw' | 'qcow2', options: { readOnly?: boolean; bitmap?: string; exportName?: string } = {}): Promise<QemuNbdServer> {
  const { readOnly = false, bitmap, exportName = 'vdb' } = options;
  const server = await startQemuNbd({
    image: path,
    format,
    socketPath: join(dir, `nbd-${(serial += 1)}.sock`),
    readOnly,
    exportName,
    bitmap,
    signal: new AbortController().signal,
  });
  servers.push(server);
  return server;
}

async function connect(server: QemuNbdServer | string, metaContexts: string[] = [ALLOCATION], exportName = 'vdb'): Promise<NbdClient> {
  const path = typeof server === 'string' ? server : server.socketPath;
  const client = await NbdClient.connect(path, { exportName: typeof server === 'string' ? exportName : server.exportName, metaContexts });
  clients.push(client);
  return client;
}

async function collect(it: AsyncIterable<NbdExtent>): Promise<NbdExtent[]> {
  const out: NbdExtent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

function hasCode(code: string, pattern?: RegExp): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof KvmcloneError, `expected a KvmcloneError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (pattern !== undefined) assert.match(err.message, pattern);
    return true;
  };
}

/** Checks that extents tile [0, size) in order. */
function assertTiles(extents: NbdExtent[], size: number): void {
  let at = 0;
  for (const e of extents) {
    assert.equal(e.offset, at);
    assert.ok(e.length > 0);
    at += e.length;
  }
  assert.equal(at, size);
}

describe('against qemu-nbd', () => {
  test('handshake: size, transmission flags and granted contexts; read-only refusals; close is final', async () => {
    const size = 10 * MiB + 3 * 512; // qemu-nbd exports whole sectors
    const rw = await connect(await serve(await image('raw', size, randomBytes(size)), 'raw'), [ALLOCATION, 'qemu:dirty-bitmap:nope']);
    assert.equal(rw.size, size);
    assert.equal(rw.exportName, 'vdb');
    assert.deepEqual([rw.readOnly, rw.canFlush, rw.canTrim, rw.canWriteZeroes, rw.canMultiConn], [false, true, true, true, true]);
    assert.equal(rw.maxRequest, 32 * MiB);
    assert.equal(rw.minBlockSize, 1);
    assert.equal(rw.hasContext(ALLOCATION), true);
    assert.equal(rw.hasContext('qemu:dirty-bitmap:nope'), false);
    await assert.rejects(rw.blockStatus('qemu:dirty-bitmap:nope', 0, 4096), hasCode('NOT_FOUND', /did not grant metadata context "qemu:dirty-bitmap:nope"/));
    assert.equal((await rw.read(size - 3, 3)).length, 3);
    await assert.rejects(rw.read(size - 3, 4), hasCode('OUT_OF_RANGE'));
    await assert.rejects(rw.read(-1, 4), hasCode('INVALID_ARGUMENT'));

    const ro = await connect(await serve(await image('qcow2', 64 * MiB), 'qcow2', { readOnly: true }), []);
    assert.equal(ro.size, 64 * MiB);
    assert.equal(ro.readOnly, true);
    assert.equal(ro.canWriteZeroes, false);
    assert.equal(ro.hasContext(ALLOCATION), false);
    await assert.rejects(ro.write(0, Buffer.alloc(512)), hasCode('PERMISSION_DENIED', /read-only NBD export "vdb"/));
    await assert.rejects(ro.writeZeroes(0, 512), hasCode('PERMISSION_DENIED'));
    assert.ok((await ro.read(0, 1 * MiB)).equals(Buffer.alloc(MiB)), 'a fresh qcow2 reads as zeros (holes)');

    await Promise.all([rw.close(), rw.close()]);
    await rw.close();
    await assert.rejects(rw.read(0, 1), hasCode('UNAVAILABLE', /closed/));
  });

  for (const format of ['raw', 'qcow2'] as const) {
    test(`${format}: writes at unaligned offsets read back byte for byte, through the client and in the image itself`, async () => {
      const size = 80 * MiB;
      const path = await image(format, size);
      const server = await serve(path, format);
      const client = await connect(server);
      const model = Buffer.alloc(size);
      const put = async (offset: number, data: Buffer): Promise<void> => {
        await client.write(offset, data);
        data.copy(model, offset);
      };
      await put(1_000_003, randomBytes(40 * MiB + 12_345)); // more than maxRequest: split into pieces
      await put(5, randomBytes(777));
      await put(size - 1, Buffer.from([0x5a]));
      await put(3 * MiB + 1, randomBytes(64 * KiB - 2));

      const whole = await client.read(0, size);
      assert.ok(whole.length > client.maxRequest);
      assert.ok(whole.equals(model), 'the whole export reads back as written');
      const into = Buffer.alloc(50 * MiB, 0xee);
      const part = await client.read(999_999, 33 * MiB + 7, undefined, into);
      assert.equal(part.buffer, into.buffer, 'read into the buffer given');
      assert.ok(part.equals(model.subarray(999_999, 999_999 + 33 * MiB + 7)));
      assert.equal(into[33 * MiB + 7], 0xee, 'nothing written past the length asked for');

      await client.flush();
      await client.close();
      await server.close();
      let bytes: Buffer;
      if (format === 'raw') {
        bytes = await readFile(path);
      } else {
        await run('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', path, `${path}.raw`]);
        bytes = await readFile(`${path}.raw`);
      }
      assert.ok(bytes.equals(model), 'the image holds exactly what was written');
    });
  }

  test('writeZeroes reads back as zeros, shows as zero in base:allocation, and punches a hole only when it may', async () => {
    const size = 32 * MiB;
    const data = randomBytes(size);
    const path = await image('raw', size, data);
    const client = await connect(await serve(path, 'raw'));
    const blocks = async (): Promise<number> => (await stat(path)).blocks;
    const full = await blocks();
    await client.writeZeroes(4 * MiB, 4 * MiB);
    await client.flush();
    assert.ok(full - (await blocks()) >= (4 * MiB) / 512, 'mayTrim (the default): the range is deallocated');
    const afterTrimmed = await blocks();
    await client.writeZeroes(12 * MiB, 4 * MiB, { mayTrim: false });
    await client.flush();
    // NO_HOLE zeroes in place (ext4 may turn the range into an unwritten extent): nothing is freed,
    // though splitting the extent can cost the file system an extent-tree block or two.
    const afterZeroed = await blocks();
    assert.ok(afterZeroed >= afterTrimmed && afterZeroed - afterTrimmed <= (16 * KiB) / 512, `NO_HOLE: the range stays allocated (${afterTrimmed} → ${afterZeroed} blocks)`);

    const back = await client.read(0, size, undefined, Buffer.alloc(size, 0xff)); // holes must be filled in, not skipped
    assert.ok(back.subarray(4 * MiB, 8 * MiB).equals(Buffer.alloc(4 * MiB)));
    assert.ok(back.subarray(12 * MiB, 16 * MiB).equals(Buffer.alloc(4 * MiB)));
    assert.ok(back.subarray(0, 4 * MiB).equals(data.subarray(0, 4 * MiB)));
    assert.ok(back.subarray(8 * MiB, 12 * MiB).equals(data.subarray(8 * MiB, 12 * MiB)));
    assert.ok(back.subarray(16 * MiB).equals(data.subarray(16 * MiB)));

    const extents = await collect(client.extents(ALLOCATION, 0, size));
    assertTiles(extents, size);
    const flagsAt = (offset: number): number => (extents.find((e) => e.offset <= offset && offset < e.offset + e.length) as NbdExtent).flags;
    for (const at of [4 * MiB, 8 * MiB - 1, 12 * MiB, 16 * MiB - 1]) assert.ok(flagsAt(at) & NBD_STATE_ZERO, `zero at ${at}`);
    for (const at of [0, 4 * MiB - 1, 8 * MiB, 12 * MiB - 1, 16 * MiB, size - 1]) assert.equal(flagsAt(at), 0, `data at ${at}`);
    const one = await client.blockStatus(ALLOCATION, 5 * MiB, 1000);
    assert.deepEqual(one, [{ offset: 5 * MiB, length: 1000, flags: NBD_STATE_HOLE | NBD_STATE_ZERO }], 'clamped to the request');
  });

  test('a persistent dirty bitmap lists exactly the ranges written since it was added', async () => {
    const size = 64 * MiB;
    const path = await image('qcow2', size);
    await run('qemu-img', ['bitmap', '--add', '--enable', '-g', String(64 * KiB), path, 'b0']);
    const writer = await serve(path, 'qcow2');
    const w = await connect(writer);
    await w.write(1 * MiB, randomBytes(64 * KiB));
    await w.write(10 * MiB + 100, randomBytes(5000)); // inside one 64 KiB granule
    await w.write(20 * MiB, randomBytes(3 * MiB));
    await w.writeZeroes(40 * MiB, 128 * KiB);
    await w.flush();
    await w.close();
    await writer.close();

    const reader = await connect(await serve(path, 'qcow2', { readOnly: true, bitmap: 'b0' }), ['qemu:dirty-bitmap:b0', ALLOCATION]);
    assert.equal(reader.hasContext('qemu:dirty-bitmap:b0'), true);
    const extents = await collect(reader.extents('qemu:dirty-bitmap:b0', 0, size));
    assertTiles(extents, size);
    const dirty = extents.filter((e) => e.flags & NBD_STATE_DIRTY).map(({ offset, length }) => ({ offset, length }));
    assert.deepEqual(dirty, [
      { offset: 1 * MiB, length: 64 * KiB },
      { offset: 10 * MiB, length: 64 * KiB },
      { offset: 20 * MiB, length: 3 * MiB },
      { offset: 40 * MiB, length: 128 * KiB },
    ]);
    assert.deepEqual(await reader.blockStatus('qemu:dirty-bitmap:b0', 20 * MiB + 5, 10), [{ offset: 20 * MiB + 5, length: 10, flags: NBD_STATE_DIRTY }]);
    assert.deepEqual(await reader.blockStatus('qemu:dirty-bitmap:b0', 30 * MiB, 10), [{ offset: 30 * MiB, length: 10, flags: 0 }]);
  });

  test('an unknown export is NOT_FOUND; a socket nobody serves is UNAVAILABLE; a missing image fails the start with its stderr', async () => {
    const server = await serve(await image('raw', MiB), 'raw', { exportName: 'vda' });
    await assert.rejects(NbdClient.connect(server.socketPath, { exportName: 'vdz' }), hasCode('NOT_FOUND', /no export "vdz"/));
    await assert.rejects(NbdClient.connect(server.socketPath, { exportName: 'vdz', metaContexts: [ALLOCATION] }), hasCode('NOT_FOUND', /no export "vdz"/));
    await assert.rejects(NbdClient.connect(join(dir, 'nobody.sock'), { exportName: 'vda' }), hasCode('UNAVAILABLE', /ENOENT/));
    const signal = new AbortController().signal;
    await assert.rejects(
      startQemuNbd({ image: join(dir, 'missing.qcow2'), format: 'qcow2', socketPath: join(dir, 'm.sock'), readOnly: true, signal }),
      hasCode('NOT_FOUND', /missing\.qcow2.*No such file/),
    );
    await assert.rejects(
      startQemuNbd({ image: join(dir, 'x.raw'), format: 'raw', socketPath: server.socketPath, readOnly: true, signal }),
      hasCode('FAILED_PRECONDITION', /already serving/),
    );
    const locked = await image('qcow2', MiB);
    await serve(locked, 'qcow2');
    await assert.rejects(serve(locked, 'qcow2'), hasCode('FAILED_PRECONDITION', /lock/));
  });

  test('qemu-nbd stops, releasing the image, when the process that started it dies', async () => {
    const path = await image('raw', MiB);
    const moduleUrl = new URL('../../agent/nbd/qemu-nbd-server.js', import.meta.url).href;
    const script = `const { startQemuNbd } = await import(process.argv[1]);
      const s = await startQemuNbd({ image: process.argv[2], format: 'raw', socketPath: process.argv[3], readOnly: false, signal: new AbortController().signal });
      console.log(s.pid);
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, moduleUrl, path, join(dir, 'orphan.sock')], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = (await once(child.stdout, 'data')) as [Buffer];
    const pid = Number(line.toString().trim());
    assert.ok(pid > 0);
    child.kill('SIGKILL');
    const alive = async (): Promise<boolean> => {
      const st = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
      return st !== '' && !/^\d+ \(.*\) Z/.test(st);
    };
    for (let i = 0; i < 100 && (await alive()); i += 1) await sleep(50);
    assert.equal(await alive(), false, 'qemu-nbd outlived the process that started it');
    await serve(path, 'raw'); // the write lock is free again
  });

  test('a qemu-nbd killed mid-read fails every request in flight with UNAVAILABLE', async () => {
    const size = 256 * MiB;
    const piece = randomBytes(16 * MiB);
    const path = await image('raw', size, Buffer.concat(Array.from({ length: size / piece.length }, () => piece)));
    const server = await serve(path, 'raw', { readOnly: true });
    const client = await connect(server);
    const into = Buffer.alloc(size);
    const reading = client.read(0, size, undefined, into);
    const small = client.read(size - 4096, 4096);
    // Wait until bytes are landing, then kill the server while the rest is still owed.
    while (![0, 32, 64, 96].some((m) => into[m * MiB] !== 0)) await nextTurn();
    process.kill(server.pid, 'SIGKILL');
    await assert.rejects(reading, hasCode('UNAVAILABLE', /NBD connection to/));
    await small.catch(() => undefined); // may have been answered before the kill
    await assert.rejects(client.read(0, 10), hasCode('UNAVAILABLE'));
    await client.close();
    await assert.rejects(server.close(), hasCode('INTERNAL', /killed by SIGKILL/));
  });

  test('an aborted request rejects at once; the connection carries on unless the socket held its buffer', async () => {
    const size = 64 * MiB;
    const data = randomBytes(size);
    const server = await serve(await image('raw', size, data), 'raw');
    const client = await connect(server);

    const early = new AbortController();
    early.abort();
    await assert.rejects(client.read(0, 10, early.signal), (err) => isAbortError(err));

    process.kill(server.pid, 'SIGSTOP');
    try {
      const ac = new AbortController();
      const into = Buffer.alloc(MiB);
      const reading = client.read(MiB, MiB, ac.signal, into);
      await sleep(50);
      const t0 = Date.now();
      ac.abort();
      await assert.rejects(reading, (err) => isAbortError(err));
      assert.ok(Date.now() - t0 < 500, 'the abort does not wait for the server');
      process.kill(server.pid, 'SIGCONT');
      assert.ok((await client.read(0, 2 * MiB)).equals(data.subarray(0, 2 * MiB)), 'the connection still works');
      assert.ok(into.equals(Buffer.alloc(MiB)), 'the abandoned reply never reached the caller buffer');

      // A write whose payload cannot leave the socket (the server is stopped): the abort drops the connection.
      process.kill(server.pid, 'SIGSTOP');
      const wc = new AbortController();
      const writing = client.write(0, randomBytes(32 * MiB), wc.signal);
      const queued = client.read(0, 4096);
      await sleep(50);
      wc.abort();
      await assert.rejects(writing, (err) => isAbortError(err));
      await assert.rejects(queued, hasCode('UNAVAILABLE', /cancelled write of 33554432 bytes at 0 still had its buffer/));
      await assert.rejects(client.read(0, 1), hasCode('UNAVAILABLE'));
    } finally {
      process.kill(server.pid, 'SIGCONT');
    }
  });

  test('many concurrent reads on one connection each get their own bytes', async () => {
    const size = 96 * MiB;
    const data = randomBytes(size);
    const client = await connect(await serve(await image('raw', size, data), 'raw', { readOnly: true }));
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const spans = Array.from({ length: 40 }, (_, i) => {
      const length = i === 0 ? 33 * MiB + 1 : 1 + rand(3 * MiB);
      return { offset: rand(size - length), length };
    });
    const results = await Promise.all(spans.map((s) => client.read(s.offset, s.length)));
    spans.forEach((s, i) => assert.ok(results[i].equals(data.subarray(s.offset, s.offset + s.length)), `read ${i} at ${s.offset}+${s.length}`));
  });
});

/** A request as the scripted server sees it. */
interface SeenRequest {
  type: number;
  flags: number;
  cookie: Buffer;
  offset: number;
  length: number;
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

const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const u64 = (n: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};

function optionReply(option: number, type: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([u64(Number(NBD_REP_MAGIC)), u32(option), u32(type), u32(payload.length), payload]);
}

function structured(req: SeenRequest, type: number, flags: number, payload: Buffer): Buffer {
  return Buffer.concat([u32(NBD_STRUCTURED_REPLY_MAGIC), u16(flags), u16(type), req.cookie, u32(payload.length), payload]);
}

function simpleReply(req: SeenRequest, error: number): Buffer {
  return Buffer.concat([u32(NBD_SIMPLE_REPLY_MAGIC), u32(error), req.cookie]);
}

function errorChunk(req: SeenRequest, errno: number, message: string): Buffer {
  const text = Buffer.from(message);
  return structured(req, NBD_REPLY_TYPE_ERROR, NBD_REPLY_FLAG_DONE, Buffer.concat([u32(errno), u16(text.length), text]));
}

/**
 * A server that negotiates like a fixed-newstyle NBD server (1 MiB export,
 * flush, trim, write zeroes; context base:allocation with id 1) and then
 * hands every request to `script`.
 */
async function scriptedServer(script: (req: SeenRequest, socket: Socket) => void | Promise<void>): Promise<{ path: string; seen: SeenRequest[]; server: Server }> {
  const path = join(dir, `scripted-${(serial += 1)}.sock`);
  const seen: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    const need = byteReader(socket);
    void (async () => {
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
        if (req.type === 2) return socket.end();
        seen.push(req);
        await script(req, socket);
      }
    })().catch(() => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  after(() => {
    server.close();
    for (const s of sockets) s.destroy();
  });
  return { path, seen, server };
}

describe('against a scripted NBD server', () => {
  test('error chunks keep the server text; replies cut into single bytes still parse', async () => {
    const { path } = await scriptedServer(async (req, socket) => {
      if (req.type === NBD_CMD_READ && req.offset === 0) return void socket.write(errorChunk(req, NBD_EIO, 'medium error at sector 0'));
      if (req.type === NBD_CMD_WRITE) return void socket.write(simpleReply(req, NBD_ENOSPC));
      if (req.type === NBD_CMD_WRITE_ZEROES) return void socket.write(errorChunk(req, NBD_EINVAL, 'zeroes too large'));
      const data = Buffer.alloc(req.length, req.offset & 0xff);
      const bytes = structured(req, NBD_REPLY_TYPE_OFFSET_DATA, NBD_REPLY_FLAG_DONE, Buffer.concat([u64(req.offset), data]));
      for (const byte of bytes) {
        socket.write(Buffer.from([byte]));
        await nextTurn();
      }
    });
    const client = await connect(path, [ALLOCATION], 'any');
    await assert.rejects(client.read(0, 512), hasCode('DATA_LOSS', /read of 512 bytes at 0 with EIO: medium error at sector 0/));
    assert.ok((await client.read(4097, 300)).equals(Buffer.alloc(300, 4097 & 0xff)), 'the connection survives an error reply');
    await assert.rejects(client.write(0, Buffer.alloc(10)), hasCode('RESOURCE_EXHAUSTED', /ENOSPC/));
    await assert.rejects(client.writeZeroes(0, 4096), hasCode('INVALID_ARGUMENT', /zeroes too large/));
  });

  test('garbage in the reply stream fails every request in flight, and later ones, with DATA_LOSS', async () => {
    const { path, seen } = await scriptedServer((req, socket) => {
      if (seen.length === 3) socket.write(Buffer.from('garbage that is no NBD reply at all'));
      void req;
    });
    const client = await connect(path, [ALLOCATION], 'any');
    const reads = [client.read(0, 10), client.read(10, 10), client.flush()];
    for (const r of reads) await assert.rejects(r, hasCode('DATA_LOSS', /protocol error: bad reply magic/));
    await assert.rejects(client.read(0, 1), hasCode('DATA_LOSS'));
  });

  test('content outside the request, or too little of it, is a protocol error', async () => {
    const { path } = await scriptedServer((req, socket) => {
      const offset = req.offset === 0 ? req.offset + 100 : req.offset;
      const length = req.offset === 0 ? req.length : req.length - 1;
      socket.write(structured(req, NBD_REPLY_TYPE_OFFSET_DATA, NBD_REPLY_FLAG_DONE, Buffer.concat([u64(offset), Buffer.alloc(length)])));
    });
    await assert.rejects((await connect(path, [], 'any')).read(0, 200), hasCode('DATA_LOSS', /content \[100, \+200\) outside the read of 200 bytes at 0/));
    await assert.rejects((await connect(path, [], 'any')).read(4096, 200), hasCode('DATA_LOSS', /read of 200 bytes at 4096 answered with 199 bytes/));
  });

  test('block status: a reply covering less is followed up, one running past the request is clamped', async () => {
    const { path, seen } = await scriptedServer((req, socket) => {
      assert.equal(req.type, NBD_CMD_BLOCK_STATUS);
      const extents =
        req.offset === 0
          ? [
              [64 * KiB, 0],
              [64 * KiB, 3],
            ]
          : [[4 * MiB, 3]];
      const payload = Buffer.concat([u32(1), ...extents.flatMap(([l, f]) => [u32(l), u32(f)])]);
      socket.write(structured(req, NBD_REPLY_TYPE_BLOCK_STATUS, NBD_REPLY_FLAG_DONE, payload));
    });
    const client = await connect(path, [ALLOCATION], 'any');
    assert.deepEqual(await client.blockStatus(ALLOCATION, 0, MiB), [
      { offset: 0, length: 64 * KiB, flags: 0 },
      { offset: 64 * KiB, length: 64 * KiB, flags: 3 },
    ]);
    const all = await collect(client.extents(ALLOCATION, 0, MiB));
    assert.deepEqual(
      all,
      [
        { offset: 0, length: 64 * KiB, flags: 0 },
        { offset: 64 * KiB, length: MiB - 64 * KiB, flags: 3 },
      ],
      'merged and clamped',
    );
    assert.deepEqual(
      seen.slice(1).map((r) => [r.offset, r.length]),
      [
        [0, MiB],
        [128 * KiB, MiB - 128 * KiB],
      ],
    );
  });

  test('a server that never speaks is DEADLINE_EXCEEDED after timeoutMs; an abort ends the wait too', async () => {
    const path = join(dir, 'silent.sock');
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(path, resolve));
    try {
      await assert.rejects(NbdClient.connect(path, { exportName: 'x', timeoutMs: 200 }), hasCode('DEADLINE_EXCEEDED'));
      await assert.rejects(NbdClient.connect(path, { exportName: 'x', signal: AbortSignal.timeout(100) }), (err) => err instanceof Error && err.name === 'TimeoutError');
    } finally {
      silent.close();
    }
  });
});
