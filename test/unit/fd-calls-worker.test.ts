/**
 * kvmclone's native addon in worker threads (fs-ext, which it replaced,
 * crashed the process when threads loaded and unloaded it): threads load it
 * beside the main thread, see the main thread's flock as any other open file
 * would, seek and lock on their own, and come and go in rounds while the main
 * thread keeps using it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { LOCK, flock, seek, SEEK, tryLockExclusive } from '../../agent/native/fd-calls.js';

const MiB = 1024 * 1024;
const MODULE = new URL('../../agent/native/fd-calls.js', import.meta.url).href;

/** What a thread saw: whether it got the lock (then released it) and where the file's data is. */
interface Seen {
  readonly locked: boolean;
  readonly data: number | null;
  readonly hole: number | null;
}

// CommonJS (eval), importing the compiled fd-calls.js: it opens the file itself, as another open file description.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { openSync, closeSync } = require('node:fs');
import(workerData.module).then((m) => {
  const fd = openSync(workerData.path, 'r');
  try {
    const locked = m.tryLockExclusive(fd);
    if (locked) m.flock(fd, m.LOCK.UN);
    const data = m.seek(fd, 0, m.SEEK.DATA);
    parentPort.postMessage({ locked, data, hole: data === null ? null : m.seek(fd, data, m.SEEK.HOLE) });
  } finally {
    closeSync(fd);
  }
});
`;

/** Runs the worker script on `path` in a new thread; its report, once the thread has exited. */
function inThread(path: string): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { eval: true, workerData: { module: MODULE, path } });
    let seen: Seen | undefined;
    worker.once('message', (m: Seen) => (seen = m));
    worker.once('error', reject);
    worker.once('exit', (code) => (seen !== undefined && code === 0 ? resolve(seen) : reject(new Error(`worker exited ${code} without a report`))));
  });
}

test('worker threads load the addon, lock and seek, and see the main thread holding a lock', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kvmclone-fd-worker-'));
  const path = join(dir, 'f');
  const fh = await open(path, 'w+');
  try {
    await fh.truncate(8 * MiB);
    await fh.write(Buffer.alloc(MiB, 7), 0, MiB, 3 * MiB);
    const where = { data: 3 * MiB, hole: 4 * MiB };

    flock(fh.fd, LOCK.EX | LOCK.NB);
    assert.deepEqual(await inThread(path), { locked: false, ...where }, 'the main thread holds the lock');
    flock(fh.fd, LOCK.UN);

    // Threads started and ended in rounds, several at once, while the main thread keeps calling.
    for (let round = 0; round < 3; round += 1) {
      const seen = await Promise.all(Array.from({ length: 4 }, () => inThread(path)));
      for (const s of seen) assert.deepEqual({ data: s.data, hole: s.hole }, where);
      // Threads that overlap may find another's lock; the first to try finds none.
      assert.ok(
        seen.some((s) => s.locked),
        'at least one thread got the lock',
      );
      assert.equal(seek(fh.fd, 0, SEEK.DATA), 3 * MiB);
    }
    assert.equal(tryLockExclusive(fh.fd), true, 'every thread released what it took');
  } finally {
    await fh.close();
    await rm(dir, { recursive: true, force: true });
  }
});
