/**
 * NbdClient and startQemuNbd when the server is not there or goes away: an
 * unknown export, a socket nobody serves, a qemu-nbd that cannot start, one
 * that stops with the process that started it, and one killed mid-read.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { setTimeout as sleep, setImmediate as nextTurn } from 'node:timers/promises';
import { NbdClient } from '../../agent/nbd/nbd-client.js';
import { startQemuNbd } from '../../agent/nbd/qemu-nbd-server.js';
import { ALLOCATION, hasCode, MiB, useNbdImages } from './support/nbd-fixture.js';

const { dir, image, serve, connect } = useNbdImages();

describe('against qemu-nbd', () => {
  test('an unknown export is NOT_FOUND; a socket nobody serves is UNAVAILABLE; a missing image fails the start with its stderr', async () => {
    const server = await serve(await image('raw', MiB), 'raw', { exportName: 'vda' });
    await assert.rejects(NbdClient.connect(server.socketPath, { exportName: 'vdz' }), hasCode('NOT_FOUND', /no export "vdz"/));
    await assert.rejects(NbdClient.connect(server.socketPath, { exportName: 'vdz', metaContexts: [ALLOCATION] }), hasCode('NOT_FOUND', /no export "vdz"/));
    await assert.rejects(NbdClient.connect(join(dir(), 'nobody.sock'), { exportName: 'vda' }), hasCode('UNAVAILABLE', /ENOENT/));
    const signal = new AbortController().signal;
    await assert.rejects(
      startQemuNbd({ image: join(dir(), 'missing.qcow2'), format: 'qcow2', socketPath: join(dir(), 'm.sock'), readOnly: true, signal }),
      hasCode('NOT_FOUND', /missing\.qcow2.*No such file/),
    );
    await assert.rejects(
      startQemuNbd({ image: join(dir(), 'x.raw'), format: 'raw', socketPath: server.socketPath, readOnly: true, signal }),
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
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, moduleUrl, path, join(dir(), 'orphan.sock')], { stdio: ['ignore', 'pipe', 'inherit'] });
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
});
