/**
 * NbdClient against a scripted NBD server over a unix socket, for what qemu
 * never sends: error chunks with text, replies cut into single bytes,
 * garbage, and replies with content outside the request or too little of it.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  NBD_CMD_READ,
  NBD_CMD_WRITE,
  NBD_CMD_WRITE_ZEROES,
  NBD_EINVAL,
  NBD_EIO,
  NBD_ENOSPC,
  NBD_REPLY_FLAG_DONE,
  NBD_REPLY_TYPE_OFFSET_DATA,
} from '../../agent/nbd/nbd-protocol.js';
import { ALLOCATION, hasCode, useNbdImages } from './support/nbd-fixture.js';
import { errorChunk, simpleReply, structured, u64 } from './support/scripted-nbd-server.js';

const { connect, scriptedServer } = useNbdImages();

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
});
