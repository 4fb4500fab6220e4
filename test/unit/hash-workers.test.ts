/**
 * Block hashing on worker threads: the same hashes as hashing the bytes in
 * place (data, written zeros, holes, a short last block, big blocks), jobs at
 * once on several threads, errors carried across with their codes, and a stop
 * (abort or early return) that waits until the thread has let go of the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blockHash, DEFAULT_BLOCK_SIZE } from '../../shared/block-hash.js';
import { KvmcloneError } from '../../shared/errors.js';
import { hashBlocks, type HashPlan } from '../../agent/disk/block-hasher.js';
import { hashOnWorker } from '../../agent/disk/hash-workers.js';
import { hashingThreads, MAX_THREADS, TIGHT_IDLE_MS } from '../../agent/disk/hash-thread-pool.js';
import { memoryTight, setMemoryTight } from '../../agent/memory/memory-pressure.js';

const MiB = 1024 * 1024;

/** A sparse file: random data, a written all-zero MiB, holes, and a tail that ends mid-block. */
async function withImage(fn: (path: string, fh: FileHandle, size: number) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kvmclone-hash-workers-'));
  const path = join(dir, 'image');
  const size = 9 * MiB + 12345;
  const fh = await open(path, 'w+');
  try {
    await fh.truncate(size);
    await fh.write(randomBytes(3 * MiB + 777), 0, 3 * MiB + 777, 100_000);
    await fh.write(Buffer.alloc(MiB), 0, MiB, 5 * MiB);
    await fh.write(randomBytes(20_000), 0, 20_000, size - 20_000);
    await fn(path, fh, size);
  } finally {
    await fh.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The hashes of every block of the file, computed here from its bytes. */
async function expected(path: string, blockSize: number, from = 0, to?: number): Promise<Buffer> {
  const bytes = await readFile(path);
  const end = to ?? bytes.length;
  const parts: Buffer[] = [];
  for (let at = from; at < end; at += blockSize) parts.push(blockHash(bytes.subarray(at, Math.min(end, at + blockSize))));
  return Buffer.concat(parts);
}

async function collect(batches: AsyncIterable<{ offset: number; blockCount: number; hashes: Buffer }>, blockSize: number, from: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let next = from;
  for await (const b of batches) {
    assert.equal(b.offset, next, 'batches come in order, without gaps');
    assert.equal(b.hashes.length, b.blockCount * 16);
    parts.push(b.hashes);
    next += b.blockCount * blockSize;
  }
  return Buffer.concat(parts);
}

test('a worker hashes data, written zeros, holes and a short last block as hashing the bytes does', async () => {
  await withImage(async (path, fh, size) => {
    for (const blockSize of [DEFAULT_BLOCK_SIZE, 4096, 4 * MiB]) {
      const plan: HashPlan = { blockSize, offset: 0, length: 0, batchBlocks: 7 };
      assert.deepEqual(await collect(hashBlocks(fh, size, plan, AbortSignal.timeout(30_000)), blockSize, 0), await expected(path, blockSize), `block size ${blockSize}`);
    }
    const part: HashPlan = { blockSize: DEFAULT_BLOCK_SIZE, offset: 2 * MiB, length: 4 * MiB, batchBlocks: 1024 };
    assert.deepEqual(
      await collect(hashBlocks(fh, size, part, AbortSignal.timeout(30_000)), DEFAULT_BLOCK_SIZE, 2 * MiB),
      await expected(path, DEFAULT_BLOCK_SIZE, 2 * MiB, 6 * MiB),
    );
  });
});

test('jobs run at once on separate threads, each gets its own hashes, and threads come and go safely', async () => {
  await withImage(async (path, fh, size) => {
    const want = await expected(path, DEFAULT_BLOCK_SIZE);
    // More jobs than idle threads are kept: each round starts threads and ends the extra ones.
    // (With a native module that is unsafe in threads loaded there, this crashed the process.)
    for (let round = 0; round < 3; round += 1) {
      const jobs = Array.from({ length: 6 }, () => collect(hashOnWorker(fh.fd, 0, size, DEFAULT_BLOCK_SIZE, 3, AbortSignal.timeout(30_000)), DEFAULT_BLOCK_SIZE, 0));
      for (const got of await Promise.all(jobs)) assert.deepEqual(got, want);
    }
  });
});

test(`however many calls hash at once, at most ${MAX_THREADS} threads live, and every call's segments come whole and in order`, async () => {
  await withImage(async (path, fh, size) => {
    const want = await expected(path, DEFAULT_BLOCK_SIZE);
    let most = 0;
    const watch = setInterval(() => (most = Math.max(most, hashingThreads())), 1);
    try {
      // 1 MiB segments (4 batches of 4 blocks): each call goes back in line nine times.
      const jobs = Array.from({ length: 10 }, () => collect(hashOnWorker(fh.fd, 0, size, DEFAULT_BLOCK_SIZE, 4, AbortSignal.timeout(60_000), MiB), DEFAULT_BLOCK_SIZE, 0));
      for (const got of await Promise.all(jobs)) assert.deepEqual(got, want);
    } finally {
      clearInterval(watch);
    }
    assert.ok(most <= MAX_THREADS, `${most} threads at most, limit ${MAX_THREADS}`);
    assert.ok(hashingThreads() <= MAX_THREADS);
  });
});

test('a call whose batches are not being read does not hold a thread: more such calls than threads all get their first batch', async () => {
  await withImage(async (_path, fh, size) => {
    const calls = Array.from({ length: MAX_THREADS + 2 }, () => hashOnWorker(fh.fd, 0, size, DEFAULT_BLOCK_SIZE, 4, AbortSignal.timeout(30_000), MiB));
    // Each is read once and then left: its thread must still go back when the job ends (a caller reading two ranges in
    // step would otherwise wait forever for a thread it holds itself).
    const firsts = await Promise.all(calls.map((c) => c.next()));
    for (const f of firsts) assert.equal(f.done, false);
    await Promise.all(calls.map((c) => c.return(undefined)));
  });
});

test('an abort stops the thread, the generator ends only after it has, and the next job still works', async () => {
  await withImage(async (path, fh, size) => {
    const controller = new AbortController();
    let batches = 0;
    await assert.rejects(
      (async () => {
        for await (const _ of hashOnWorker(fh.fd, 0, size, 4096, 1, controller.signal)) {
          batches += 1;
          if (batches === 2) controller.abort(new DOMException('stop', 'AbortError'));
        }
      })(),
      (err: unknown) => err instanceof DOMException && err.name === 'AbortError',
    );
    assert.equal(batches, 2, 'no batch is yielded after the abort');
    // A consumer that returns early stops the job too.
    for await (const b of hashOnWorker(fh.fd, 0, size, 4096, 1, AbortSignal.timeout(30_000))) {
      assert.equal(b.offset, 0);
      break;
    }
    assert.deepEqual(
      await collect(hashOnWorker(fh.fd, 0, size, DEFAULT_BLOCK_SIZE, 64, AbortSignal.timeout(30_000)), DEFAULT_BLOCK_SIZE, 0),
      await expected(path, DEFAULT_BLOCK_SIZE),
    );
  });
  await assert.rejects(
    async () => {
      for await (const _ of hashOnWorker(0, 0, MiB, DEFAULT_BLOCK_SIZE, 1, AbortSignal.abort())) assert.fail('nothing is hashed after an abort');
    },
    (err: unknown) => err instanceof DOMException && err.name === 'AbortError',
  );
});

test('a failure on the thread arrives with its code: an errno stays an errno, a kvmclone error keeps its status', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kvmclone-hash-workers-'));
  try {
    // A descriptor number no process has open (a closed one could be reused by the time the thread seeks).
    await assert.rejects(collect(hashOnWorker(2 ** 30, 0, MiB, DEFAULT_BLOCK_SIZE, 1, AbortSignal.timeout(30_000)), DEFAULT_BLOCK_SIZE, 0), (err: unknown) => {
      assert.equal((err as NodeJS.ErrnoException).code, 'EBADF');
      return true;
    });
    // Fewer bytes than the plan's end: the read comes up short, which is the file changing under the call.
    const short = await open(join(dir, 'short'), 'w+');
    try {
      await short.write(randomBytes(1000), 0, 1000, 0);
      await assert.rejects(
        collect(hashOnWorker(short.fd, 0, 1000 + DEFAULT_BLOCK_SIZE, DEFAULT_BLOCK_SIZE, 1, AbortSignal.timeout(30_000)), DEFAULT_BLOCK_SIZE, 0),
        (err: unknown) => {
          assert.ok(err instanceof KvmcloneError);
          assert.equal(err.code, 'FAILED_PRECONDITION');
          assert.match(err.message, /changed during the call/);
          return true;
        },
      );
    } finally {
      await short.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('above the memory soft limit the pool shrinks to one thread and every call still completes; below it, it grows again', async () => {
  await withImage(async (path, fh, size) => {
    const want = await expected(path, DEFAULT_BLOCK_SIZE);
    const run = (): Promise<Buffer[]> =>
      Promise.all(Array.from({ length: 6 }, () => collect(hashOnWorker(fh.fd, 0, size, DEFAULT_BLOCK_SIZE, 4, AbortSignal.timeout(60_000), MiB), DEFAULT_BLOCK_SIZE, 0)));
    let most = 0;
    let afterFirstRelease = 0;
    const watch = setInterval(() => {
      const now = hashingThreads();
      most = Math.max(most, now);
      if (memoryTight()) afterFirstRelease = Math.max(afterFirstRelease, now);
    }, 1);
    try {
      for (const got of await run()) assert.deepEqual(got, want);
      setMemoryTight(true);
      // Idle threads kept from before the pressure are ended at the next call; once they have gone, one at most lives.
      await collect(hashOnWorker(fh.fd, 0, MiB, DEFAULT_BLOCK_SIZE, 4, AbortSignal.timeout(60_000), MiB), DEFAULT_BLOCK_SIZE, 0);
      await new Promise((resolve) => setTimeout(resolve, 300));
      afterFirstRelease = 0;
      for (const got of await run()) assert.deepEqual(got, want);
      assert.ok(afterFirstRelease <= 1, `${afterFirstRelease} threads under memory pressure`);
      setMemoryTight(false);
      for (const got of await run()) assert.deepEqual(got, want);
    } finally {
      clearInterval(watch);
      setMemoryTight(false);
    }
    assert.ok(most <= MAX_THREADS);
  });
});

test('above the memory soft limit, a thread idle for TIGHT_IDLE_MS ends; below it, idle threads are kept', async () => {
  await withImage(async (path, fh, size) => {
    const want = await expected(path, DEFAULT_BLOCK_SIZE);
    const hash = (): Promise<Buffer> => collect(hashOnWorker(fh.fd, 0, size, DEFAULT_BLOCK_SIZE, 4, AbortSignal.timeout(60_000), MiB), DEFAULT_BLOCK_SIZE, 0);
    const settle = (ms: number): Promise<unknown> => new Promise((resolve) => setTimeout(resolve, ms));
    try {
      assert.deepEqual(await hash(), want);
      assert.ok(hashingThreads() > 0, 'threads are kept idle after a call');
      setMemoryTight(true); // a look just after the call: not idle long enough yet
      await settle(100);
      assert.ok(hashingThreads() > 0, 'a thread idle for less than TIGHT_IDLE_MS is kept');
      setMemoryTight(false);
      await settle(TIGHT_IDLE_MS + 100);
      assert.ok(hashingThreads() > 0, 'below the soft limit idle threads stay, however long');
      setMemoryTight(true);
      await settle(300);
      assert.equal(hashingThreads(), 0, 'above it, the long-idle threads have ended');
      assert.deepEqual(await hash(), want, 'and the next call starts threads again');
    } finally {
      setMemoryTight(false);
    }
  });
});
