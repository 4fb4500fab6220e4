/**
 * kvmclone's native addon through agent/native/fd-calls.ts: flock conflicts
 * between two open files and clears on unlock; SEEK_DATA / SEEK_HOLE find the
 * data of a sparse file and answer null past it; fallocate punches a hole and
 * zeroes a range; posix_fadvise takes advice; errors carry Node's code, errno
 * and syscall, and bad arguments throw TypeError or RangeError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FADV, FALLOC, fadvise, fallocate, flock, LOCK, seek, SEEK, tryLockExclusive } from '../../agent/native/fd-calls.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Runs `fn` with a new file in a temporary directory (ext4 here, /tmp: holes are real). */
async function withFile(fn: (path: string, fh: FileHandle) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kvmclone-fd-calls-'));
  const path = join(dir, 'f');
  const fh = await open(path, 'w+');
  try {
    await fn(path, fh);
  } finally {
    await fh.close();
    await rm(dir, { recursive: true, force: true });
  }
}

test('an exclusive flock held through one open file refuses another with EAGAIN until it is unlocked', async () => {
  await withFile(async (path, first) => {
    const second = await open(path, 'r');
    try {
      flock(first.fd, LOCK.EX | LOCK.NB);
      assert.throws(
        () => flock(second.fd, LOCK.EX | LOCK.NB),
        (err: NodeJS.ErrnoException) => {
          assert.ok(err.code === 'EAGAIN' || err.code === 'EWOULDBLOCK', String(err.code));
          assert.equal(err.errno, -11);
          assert.equal(err.syscall, 'flock');
          assert.match(err.message, /^EAGAIN: .*, flock$/);
          return true;
        },
      );
      assert.equal(tryLockExclusive(second.fd), false);
      assert.throws(() => flock(second.fd, LOCK.SH | LOCK.NB), { code: 'EAGAIN' });
      flock(first.fd, LOCK.UN);
      assert.equal(tryLockExclusive(second.fd), true);
      assert.equal(tryLockExclusive(first.fd), false, 'now the second holds it');
    } finally {
      await second.close();
    }
    assert.equal(tryLockExclusive(first.fd), true, 'closing the holder released it');
  });
});

test('SEEK_DATA and SEEK_HOLE find the data written in the middle of a sparse file; past it they answer null', async () => {
  await withFile(async (_path, fh) => {
    const size = 4 * MiB;
    await fh.truncate(size);
    await fh.write(Buffer.alloc(64 * KiB, 0x5a), 0, 64 * KiB, MiB);
    assert.equal(seek(fh.fd, 0, SEEK.DATA), MiB);
    assert.equal(seek(fh.fd, MiB, SEEK.HOLE), MiB + 64 * KiB);
    assert.equal(seek(fh.fd, MiB + 4 * KiB, SEEK.DATA), MiB + 4 * KiB, 'inside data: where it is');
    assert.equal(seek(fh.fd, 0, SEEK.HOLE), 0);
    assert.equal(seek(fh.fd, 2 * MiB, SEEK.DATA), null, 'no data after 2 MiB (ENXIO)');
    assert.equal(seek(fh.fd, 2 * MiB, SEEK.HOLE), 2 * MiB);
    assert.equal(seek(fh.fd, size, SEEK.HOLE), null, 'at the end (ENXIO)');
    assert.equal(seek(fh.fd, size + MiB, SEEK.DATA), null, 'past the end (ENXIO)');
  });
});

test('fallocate PUNCH_HOLE | KEEP_SIZE makes a hole that reads back as zeros; ZERO_RANGE zeroes in place', async () => {
  await withFile(async (_path, fh) => {
    await fh.write(Buffer.alloc(MiB, 0xaa), 0, MiB, 0);
    await fh.datasync();
    assert.equal(seek(fh.fd, 0, SEEK.HOLE), MiB, 'all data before the punch');
    fallocate(fh.fd, FALLOC.PUNCH_HOLE | FALLOC.KEEP_SIZE, 256 * KiB, 256 * KiB);
    assert.equal(seek(fh.fd, 0, SEEK.HOLE), 256 * KiB);
    assert.equal(seek(fh.fd, 256 * KiB, SEEK.DATA), 512 * KiB);
    assert.equal((await fh.stat()).size, MiB, 'KEEP_SIZE');
    const back = Buffer.alloc(MiB);
    await fh.read(back, 0, MiB, 0);
    assert.ok(back.subarray(256 * KiB, 512 * KiB).every((b) => b === 0));
    assert.ok(back.subarray(0, 256 * KiB).every((b) => b === 0xaa) && back.subarray(512 * KiB).every((b) => b === 0xaa));

    fallocate(fh.fd, FALLOC.ZERO_RANGE | FALLOC.KEEP_SIZE, 768 * KiB, 4 * KiB);
    await fh.read(back, 0, MiB, 0);
    assert.ok(back.subarray(768 * KiB, 772 * KiB).every((b) => b === 0));
    assert.equal(back[772 * KiB], 0xaa);
  });
});

test('posix_fadvise takes DONTNEED and WILLNEED (length 0: to the end) and refuses unknown advice with EINVAL', async () => {
  await withFile(async (_path, fh) => {
    await fh.write(Buffer.alloc(64 * KiB, 1), 0, 64 * KiB, 0);
    fadvise(fh.fd, 0, 0, FADV.DONTNEED);
    fadvise(fh.fd, 0, 64 * KiB, FADV.WILLNEED);
    assert.throws(() => fadvise(fh.fd, 0, 0, 99), { code: 'EINVAL', errno: -22, syscall: 'posix_fadvise' });
  });
});

test('a closed descriptor is EBADF, as Node reports it', async () => {
  await withFile(async (path) => {
    const fh = await open(path, 'r');
    const fd = fh.fd;
    await fh.close();
    assert.throws(() => flock(fd, LOCK.EX | LOCK.NB), { name: 'Error', code: 'EBADF', errno: -9, syscall: 'flock' });
    assert.throws(() => seek(fd, 0, SEEK.DATA), { code: 'EBADF', syscall: 'lseek' });
    assert.throws(() => fallocate(fd, FALLOC.PUNCH_HOLE | FALLOC.KEEP_SIZE, 0, 4096), { code: 'EBADF', syscall: 'fallocate' });
  });
});

test('bad arguments throw TypeError or RangeError before any system call', async () => {
  await withFile(async (_path, fh) => {
    const fd = fh.fd;
    const type = { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' };
    const range = { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' };
    assert.throws(() => seek('3' as unknown as number, 0, SEEK.DATA), type);
    assert.throws(() => seek(fd, 10n as unknown as number, SEEK.DATA), type);
    assert.throws(() => seek(fd, 1.5, SEEK.DATA), range);
    assert.throws(() => seek(fd, -1, SEEK.DATA), range);
    assert.throws(() => seek(fd, 2 ** 53, SEEK.DATA), range);
    assert.throws(() => seek(fd, Number.NaN, SEEK.DATA), range);
    assert.throws(() => seek(fd, 0, 7), range);
    assert.throws(() => seek(-1, 0, SEEK.DATA), range);
    assert.throws(() => seek(2 ** 31, 0, SEEK.DATA), range);
    assert.throws(() => fadvise(fd, 0, -4096, FADV.DONTNEED), range);
    assert.throws(() => fallocate(fd, FALLOC.PUNCH_HOLE, Infinity, 1), range);
    assert.throws(() => fallocate(fd, 0x08, 0, 4096), range, 'COLLAPSE_RANGE is not offered');
    assert.throws(() => flock(fd, LOCK.EX), range, 'a blocking lock would stall the event loop');
    assert.throws(() => flock(fd, 0), range);
    assert.throws(() => (flock as (fd: number) => void)(fd), type, 'op missing');
    assert.equal(seek(fd, 5 * 2 ** 40, 0), 5 * 2 ** 40, 'offsets past 32 bits (SEEK_SET to 5 TiB)');
    try {
      seek(fd, 2 ** 53 - 1, 0);
    } catch (err) {
      // The largest safe integer passes the checks; the filesystem may refuse it (ext4: EINVAL past its largest file).
      assert.equal((err as NodeJS.ErrnoException).syscall, 'lseek');
    }
  });
});
