/**
 * The koffi-bound system calls: SO_PEERCRED names this very process for a
 * connection it made to itself, and openat2 under RESOLVE_BENEATH opens a
 * file inside a directory but refuses `..` and a symlink that leaves it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, constants, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ErrnoError, mallocTrim, openat2, peerCredentials, RESOLVE } from '../../agent/native/libc.js';

test('peerCredentials reports the connecting process', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kvmclone-peercred-'));
  const path = join(dir, 's.sock');
  try {
    const server = createServer();
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    await new Promise<void>((resolve) => server.listen(path, resolve));
    const client = connect(path);
    const s = await accepted;
    server.close();
    const fd = (s as unknown as { _handle: { fd: number } })._handle.fd;
    const cred = peerCredentials(fd);
    assert.deepEqual(cred, { pid: process.pid, uid: process.getuid?.(), gid: process.getgid?.() });
    s.destroy();
    client.destroy();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('openat2 with RESOLVE_BENEATH opens inside and refuses escapes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kvmclone-openat2-'));
  try {
    await mkdir(join(dir, 'root', 'sub'), { recursive: true });
    await writeFile(join(dir, 'root', 'sub', 'f'), 'inside');
    await writeFile(join(dir, 'outside'), 'outside');
    await symlink(join(dir, 'outside'), join(dir, 'root', 'abs-link'));
    await symlink('../outside', join(dir, 'root', 'rel-link'));
    await symlink('sub/f', join(dir, 'root', 'ok-link'));
    const rootFd = openSync(join(dir, 'root'), constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      const how = RESOLVE.BENEATH | RESOLVE.NO_MAGICLINKS;
      for (const name of ['sub/f', 'ok-link']) {
        const fd = openat2(rootFd, name, constants.O_RDONLY, 0, how);
        assert.equal(readFileSync(fd, 'utf8'), 'inside');
        closeSync(fd);
      }
      for (const name of ['../outside', 'abs-link', 'rel-link', join(dir, 'outside')]) {
        assert.throws(
          () => openat2(rootFd, name, constants.O_RDONLY, 0, how),
          (e: unknown) => e instanceof ErrnoError && e.code === 'EXDEV',
          name,
        );
      }
      assert.throws(
        () => openat2(rootFd, 'ok-link', constants.O_RDONLY, 0, how | RESOLVE.NO_SYMLINKS),
        (e: unknown) => e instanceof ErrnoError && e.code === 'ELOOP',
      );
      assert.throws(
        () => openat2(rootFd, 'missing', constants.O_RDONLY, 0, how),
        (e: unknown) => e instanceof ErrnoError && e.code === 'ENOENT',
      );
    } finally {
      closeSync(rootFd);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('mallocTrim gives back megabyte buffers freed between live smaller ones (glibc keeps them otherwise)', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const rssKb = async (): Promise<number> => Number(/VmRSS:\s+(\d+)/.exec(await readFile('/proc/self/status', 'utf8'))?.[1]);
  // The pattern of a transfer: megabyte frames that die young between smaller allocations that live on. A first
  // megabyte freed raises glibc's dynamic mmap threshold, so the frames after it come from the heap.
  let first: Buffer | undefined = Buffer.alloc(1024 * 1024, 1);
  assert.equal(first.length, 1024 * 1024);
  first = undefined;
  gc();
  const small: Buffer[] = [];
  let big: Buffer[] = [];
  for (let i = 0; i < 64; i += 1) {
    big.push(Buffer.alloc(1024 * 1024, 1));
    small.push(Buffer.alloc(256 * 1024, 2));
  }
  assert.equal(big.length, 64);
  big = [];
  for (let i = 0; i < 3; i += 1) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const freed = await rssKb();
  assert.equal(mallocTrim(), true, 'malloc_trim is there on this glibc');
  const trimmed = await rssKb();
  assert.ok(trimmed < freed - 48 * 1024, `RSS went from ${freed} kB (64 MiB of frames collected, ${small.length} small buffers live) to ${trimmed} kB after the trim`);
});
