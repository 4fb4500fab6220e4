/**
 * NbdClient's aborts and timeouts: an aborted request against a stopped
 * qemu-nbd rejects at once (and the connection carries on unless the socket
 * held its buffer), and a server that never speaks is DEADLINE_EXCEEDED.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAbortError } from '../../shared/errors.js';
import { NbdClient } from '../../agent/nbd/nbd-client.js';
import { hasCode, MiB, useNbdImages } from './support/nbd-fixture.js';

const { dir, image, serve, connect } = useNbdImages();

describe('against qemu-nbd', () => {
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
});

describe('against a scripted NBD server', () => {
  test('a server that never speaks is DEADLINE_EXCEEDED after timeoutMs; an abort ends the wait too', async () => {
    const path = join(dir(), 'silent.sock');
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
