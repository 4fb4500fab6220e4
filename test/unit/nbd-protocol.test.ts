/**
 * The NBD wire format from crafted bytes: request headers, the reply reader
 * fed every possible split of a reply stream (and reading straight into the
 * destination), the lengths and magics it must refuse before believing
 * them, error chunks, and the errno → status mapping.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KvmcloneError } from '../../shared/errors.js';
import {
  NBD_CMD_READ,
  NBD_EDQUOT,
  NBD_EINVAL,
  NBD_EIO,
  NBD_ENOSPC,
  NBD_EPERM,
  NBD_REPLY_FLAG_DONE,
  NBD_REPLY_TYPE_BLOCK_STATUS,
  NBD_REPLY_TYPE_ERROR,
  NBD_REPLY_TYPE_ERROR_OFFSET,
  NBD_REPLY_TYPE_NONE,
  NBD_REPLY_TYPE_OFFSET_DATA,
  NBD_REPLY_TYPE_OFFSET_HOLE,
  NBD_SIMPLE_REPLY_MAGIC,
  NBD_STRUCTURED_REPLY_MAGIC,
  decodeErrorChunk,
  decodeExtents,
  encodeRequest,
  readU64,
  serverError,
} from '../../agent/nbd/nbd-protocol.js';
import { ReplyReader, type ReplyHandler } from '../../agent/nbd/nbd-reply-reader.js';

function simple(cookie: number, error: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(NBD_SIMPLE_REPLY_MAGIC, 0);
  b.writeUInt32BE(error, 4);
  b.writeUInt32BE(cookie, 12);
  return b;
}

function chunk(cookie: number, type: number, flags: number, payload: Buffer, length = payload.length): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt32BE(NBD_STRUCTURED_REPLY_MAGIC, 0);
  b.writeUInt16BE(flags, 4);
  b.writeUInt16BE(type, 6);
  b.writeUInt32BE(cookie, 12);
  b.writeUInt32BE(length, 16);
  return Buffer.concat([b, payload]);
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

function dataChunk(cookie: number, offset: number, data: Buffer, flags = 0): Buffer {
  return chunk(cookie, NBD_REPLY_TYPE_OFFSET_DATA, flags, Buffer.concat([u64(offset), data]));
}

function errorPayload(errno: number, message: string, offset?: number): Buffer {
  const text = Buffer.from(message);
  const head = Buffer.alloc(6);
  head.writeUInt32BE(errno, 0);
  head.writeUInt16BE(text.length, 4);
  return Buffer.concat([head, text, offset === undefined ? Buffer.alloc(0) : u64(offset)]);
}

/** Records what the reader delivers; data of cookie 7 goes into `target`. */
function recorder(target = Buffer.alloc(64)): { handler: ReplyHandler; events: string[]; target: Buffer } {
  const events: string[] = [];
  const handler: ReplyHandler = {
    simpleReply: (cookie, error) => events.push(`simple ${cookie} ${error}`),
    dataStart: (h, offset, length) => {
      events.push(`data-start ${h.cookie} ${offset} ${length}`);
      return h.cookie === 7 ? target.subarray(offset, offset + length) : undefined;
    },
    chunk: (h, payload) => events.push(`chunk ${h.cookie} type ${h.type} flags ${h.flags} ${payload.toString('hex')}`),
  };
  return { handler, events, target };
}

const stream = Buffer.concat([
  simple(1, 0),
  dataChunk(7, 4, Buffer.from('hello world')),
  chunk(7, NBD_REPLY_TYPE_OFFSET_HOLE, 0, Buffer.concat([u64(20), Buffer.from([0, 0, 0, 9])])),
  dataChunk(9, 0, Buffer.from('dropped')),
  chunk(7, NBD_REPLY_TYPE_NONE, NBD_REPLY_FLAG_DONE, Buffer.alloc(0)),
  simple(2, NBD_ENOSPC),
  chunk(3, NBD_REPLY_TYPE_ERROR, NBD_REPLY_FLAG_DONE, errorPayload(NBD_EIO, 'disk on fire')),
]);

const expected = [
  'simple 1 0',
  'data-start 7 4 11',
  `chunk 7 type 1 flags 0 ${u64(4).toString('hex')}`,
  `chunk 7 type 2 flags 0 ${u64(20).toString('hex')}00000009`,
  'data-start 9 0 7',
  `chunk 9 type 1 flags 0 ${u64(0).toString('hex')}`,
  'chunk 7 type 0 flags 1 ',
  `simple 2 ${NBD_ENOSPC}`,
  `chunk 3 type ${NBD_REPLY_TYPE_ERROR} flags 1 ${errorPayload(NBD_EIO, 'disk on fire').toString('hex')}`,
];

test('a request header is 28 bytes: magic, flags, type, cookie, 64-bit offset, length', () => {
  const b = encodeRequest({ flags: 2, type: NBD_CMD_READ, cookie: 0xdeadbeef, offset: 2 ** 40 + 5, length: 4096 });
  assert.equal(b.toString('hex'), '25609513' + '0002' + '0000' + '00000000deadbeef' + '0000010000000005' + '00001000');
  assert.equal(readU64(b, 16), 2 ** 40 + 5);
});

test('the reader delivers the same replies however the stream is split', () => {
  const whole = recorder();
  new ReplyReader(whole.handler).push(stream);
  assert.deepEqual(whole.events, expected);
  assert.equal(whole.target.toString('latin1', 4, 15), 'hello world');
  for (let cut = 1; cut < stream.length; cut += 1) {
    const r = recorder();
    const reader = new ReplyReader(r.handler);
    reader.push(stream.subarray(0, cut));
    reader.push(stream.subarray(cut));
    assert.deepEqual(r.events, expected, `split at ${cut}`);
    assert.equal(r.target.toString('latin1', 4, 15), 'hello world');
    assert.ok(reader.idle);
  }
  // One byte at a time, from a buffer reused for every read (as the socket's is).
  const r = recorder();
  const reader = new ReplyReader(r.handler);
  const reused = Buffer.alloc(1);
  for (const byte of stream) {
    reused[0] = byte;
    reader.push(reused);
  }
  assert.deepEqual(r.events, expected);
});

test('data can be read straight into its destination, and dropped midway', () => {
  const data = Buffer.from('0123456789abcdefghij');
  const bytes = dataChunk(7, 0, data, NBD_REPLY_FLAG_DONE);
  const r = recorder();
  const reader = new ReplyReader(r.handler);
  assert.equal(reader.directTarget(1), undefined, 'no data chunk in progress');
  reader.push(bytes.subarray(0, 28 + 5));
  assert.equal(reader.dataCookie, 7);
  assert.equal(reader.directTarget(16), undefined, 'less than asked for is left');
  const slot = reader.directTarget(15);
  assert.ok(slot !== undefined);
  assert.equal(slot.length, 15);
  data.copy(slot, 0, 5, 12); // the "socket" fills 7 bytes of it
  reader.advanceDirect(7);
  reader.dropData();
  reader.push(bytes.subarray(28 + 12));
  assert.equal(r.target.toString('latin1', 0, 12), '0123456789ab');
  assert.ok(r.target.subarray(12, 20).equals(Buffer.alloc(8)), 'dropped bytes are not copied');
  assert.equal(r.events.at(-1), `chunk 7 type 1 flags 1 ${u64(0).toString('hex')}`);
});

function protocolFailure(bytes: Buffer, pattern: RegExp): void {
  const reader = new ReplyReader(recorder().handler);
  const check = (err: unknown): boolean => err instanceof KvmcloneError && err.code === 'DATA_LOSS' && /protocol error/.test(err.message) && pattern.test(err.message);
  assert.throws(() => reader.push(bytes), check);
  assert.throws(() => reader.push(simple(1, 0)), check, 'the reader stays failed');
}

test('a bad magic, even after good replies, is a protocol error and the reader stays failed', () => {
  const bad = Buffer.concat([simple(1, 0), Buffer.from('HTTP/1.1 400 Bad Request\r\n')]);
  protocolFailure(bad, /bad reply magic 0x48545450/);
});

test('lengths the spec does not allow are refused before anything is allocated or copied', () => {
  protocolFailure(chunk(7, NBD_REPLY_TYPE_OFFSET_DATA, 0, Buffer.alloc(0), 0xffff_ffff), /data outside/);
  protocolFailure(chunk(7, NBD_REPLY_TYPE_OFFSET_DATA, 0, u64(0)), /data outside/);
  protocolFailure(chunk(7, NBD_REPLY_TYPE_OFFSET_HOLE, 0, Buffer.alloc(16)), /12 bytes/);
  protocolFailure(chunk(7, NBD_REPLY_TYPE_BLOCK_STATUS, 0, Buffer.alloc(0), 20 * 1024 * 1024 + 4), /extents/);
  protocolFailure(chunk(7, NBD_REPLY_TYPE_BLOCK_STATUS, 0, Buffer.alloc(13)), /extents/);
  protocolFailure(chunk(7, NBD_REPLY_TYPE_ERROR, 0, Buffer.alloc(0), 1_000_000), /error chunk/);
  protocolFailure(chunk(7, NBD_REPLY_TYPE_NONE, 0, Buffer.alloc(0)), /must be the last/);
  protocolFailure(chunk(7, 42, 0, Buffer.alloc(4)), /unknown chunk type/);
  const foreignCookie = simple(1, 0);
  foreignCookie.writeUInt32BE(1, 8);
  protocolFailure(foreignCookie, /never sent/);
  protocolFailure(dataChunk(7, 2 ** 60, Buffer.from('x')), /beyond 2\^53/);
});

test('an exception from the handler fails the reader', () => {
  const reader = new ReplyReader({
    ...recorder().handler,
    simpleReply: () => {
      throw new Error('boom');
    },
  });
  assert.throws(() => reader.push(simple(1, 0)), /boom/);
  assert.throws(() => reader.push(simple(1, 0)), /boom/);
});

test('error chunks carry the errno, the server message and (ERROR_OFFSET) the offset', () => {
  assert.deepEqual(decodeErrorChunk(NBD_REPLY_TYPE_ERROR, errorPayload(NBD_EIO, 'disk on fire')), { errno: NBD_EIO, message: 'disk on fire' });
  assert.deepEqual(decodeErrorChunk(NBD_REPLY_TYPE_ERROR_OFFSET, errorPayload(NBD_EINVAL, 'bad', 4096)), { errno: NBD_EINVAL, message: 'bad', offset: 4096 });
  assert.deepEqual(decodeErrorChunk(0x8000 + 77, errorPayload(NBD_EPERM, '')), { errno: NBD_EPERM, message: '' });
  const lying = errorPayload(NBD_EIO, 'abc');
  lying.writeUInt16BE(100, 4);
  assert.throws(() => decodeErrorChunk(NBD_REPLY_TYPE_ERROR, lying), /protocol error: error message of 100 bytes/);
  assert.throws(() => decodeErrorChunk(NBD_REPLY_TYPE_ERROR_OFFSET, errorPayload(NBD_EIO, 'x')), /protocol error/);
});

test('server errnos map to status codes, keeping the server text', () => {
  const cases: [number, string][] = [
    [NBD_EIO, 'DATA_LOSS'],
    [NBD_ENOSPC, 'RESOURCE_EXHAUSTED'],
    [NBD_EDQUOT, 'RESOURCE_EXHAUSTED'],
    [NBD_EPERM, 'PERMISSION_DENIED'],
    [30, 'PERMISSION_DENIED'],
    [NBD_EINVAL, 'INVALID_ARGUMENT'],
    [75, 'INVALID_ARGUMENT'],
    [108, 'UNAVAILABLE'],
    [9999, 'INTERNAL'],
  ];
  for (const [errno, code] of cases) assert.equal(serverError(errno, 'read of 1 bytes at 0').code, code, `errno ${errno}`);
  const e = serverError(NBD_EIO, 'read of 4096 bytes at 8192', ' sector 16 unreadable ');
  assert.equal(e.message, 'NBD server failed read of 4096 bytes at 8192 with EIO: sector 16 unreadable');
});

test('block status extents are placed from the request offset and clamped to its length', () => {
  const payload = Buffer.alloc(4 + 3 * 8);
  payload.writeUInt32BE(1, 0);
  [
    [100, 0],
    [50, 3],
    [1_000_000, 1],
  ].forEach(([length, flags], i) => {
    payload.writeUInt32BE(length, 4 + i * 8);
    payload.writeUInt32BE(flags, 8 + i * 8);
  });
  assert.deepEqual(decodeExtents(payload, 1000, 400), [
    { offset: 1000, length: 100, flags: 0 },
    { offset: 1100, length: 50, flags: 3 },
    { offset: 1150, length: 250, flags: 1 },
  ]);
  assert.deepEqual(decodeExtents(payload, 0, 120), [
    { offset: 0, length: 100, flags: 0 },
    { offset: 100, length: 20, flags: 3 },
  ]);
  payload.writeUInt32BE(0, 4);
  assert.throws(() => decodeExtents(payload, 0, 10), /protocol error: block status extent of length 0/);
});
