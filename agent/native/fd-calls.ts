/**
 * The file-descriptor calls Node lacks and the agent needs, from kvmclone's own
 * native addon (native/fd_calls.c, built by `npm ci`): flock, which keeps two
 * writers off one staging file or journal; lseek SEEK_DATA / SEEK_HOLE, so
 * holes are never read or sent; posix_fadvise, which keeps copies out of the
 * page cache and reads ahead for the hashing threads; fallocate, which punches
 * zeroed ranges out on the descriptor already checked.
 *
 * The addon is plain Node-API and context-aware, so worker threads load it
 * too (the hashing threads do, through page-cache.ts). It is required: without
 * it the agent cannot lock a staging file, so importing this module throws,
 * at start-up, when the addon was not built. Every call is synchronous and
 * throws as Node's fs does (`code` the errno name, `errno`, `syscall`); a
 * non-integer or negative argument throws TypeError or RangeError.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

interface Addon {
  flock(fd: number, op: number): void;
  seek(fd: number, offset: number, whence: number): number | null;
  fadvise(fd: number, offset: number, length: number, advice: number): void;
  fallocate(fd: number, mode: number, offset: number, length: number): void;
  readonly LOCK_SH: number;
  readonly LOCK_EX: number;
  readonly LOCK_NB: number;
  readonly LOCK_UN: number;
  readonly SEEK_DATA: number;
  readonly SEEK_HOLE: number;
  readonly POSIX_FADV_WILLNEED: number;
  readonly POSIX_FADV_DONTNEED: number;
  readonly FALLOC_FL_KEEP_SIZE: number;
  readonly FALLOC_FL_PUNCH_HOLE: number;
  readonly FALLOC_FL_ZERO_RANGE: number;
}

/** Where the build puts the addon, under the package root (the source tree, or /usr/lib/kvmclone installed). */
const ADDON_PATH = 'native/build/Release/kvmclone_fd.node';

const REBUILD = 'build it with npm ci (or npm run install), which needs a C compiler, make and python3';

/** The addon under the nearest directory above this file that has it: dist/agent/native/ compiled, agent/native/ in the source. */
function findAddon(): string {
  let dir = new URL('.', import.meta.url);
  for (let i = 0; i < 5; i += 1) {
    const candidate = fileURLToPath(new URL(ADDON_PATH, dir));
    if (existsSync(candidate)) return candidate;
    dir = new URL('..', dir);
  }
  throw new Error(`kvmclone's native addon (${ADDON_PATH}) was not found above ${fileURLToPath(import.meta.url)}: ${REBUILD}`);
}

/** The addon, or an error that says which file failed and how to build it. */
function loadAddon(): Addon {
  const path = findAddon();
  try {
    return createRequire(import.meta.url)(path) as Addon;
  } catch (err) {
    throw new Error(`kvmclone's native addon ${path} did not load (${(err as Error).message}): ${REBUILD}`, { cause: err });
  }
}

const addon = loadAddon();

/** flock operations: a shared or exclusive lock is always taken with NB (a wait would stall the event loop). */
export const LOCK = { SH: addon.LOCK_SH, EX: addon.LOCK_EX, NB: addon.LOCK_NB, UN: addon.LOCK_UN } as const;

/** lseek's whence values for the next data and the next hole at or after an offset. */
export const SEEK = { DATA: addon.SEEK_DATA, HOLE: addon.SEEK_HOLE } as const;

/** posix_fadvise advice the agent gives. */
export const FADV = { WILLNEED: addon.POSIX_FADV_WILLNEED, DONTNEED: addon.POSIX_FADV_DONTNEED } as const;

/** fallocate modes (linux/falloc.h). */
export const FALLOC = { KEEP_SIZE: addon.FALLOC_FL_KEEP_SIZE, PUNCH_HOLE: addon.FALLOC_FL_PUNCH_HOLE, ZERO_RANGE: addon.FALLOC_FL_ZERO_RANGE } as const;

/**
 * flock(fd, op): `LOCK.EX | LOCK.NB` or `LOCK.SH | LOCK.NB` (an error with
 * code EAGAIN when another open file description holds a conflicting lock;
 * a blocking lock is refused with RangeError), or `LOCK.UN`.
 */
export function flock(fd: number, op: number): void {
  addon.flock(fd, op);
}

/** Takes an exclusive lock without waiting: false when someone else holds one (EAGAIN / EWOULDBLOCK). */
export function tryLockExclusive(fd: number): boolean {
  try {
    addon.flock(fd, LOCK.EX | LOCK.NB);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return false;
    throw err;
  }
}

/**
 * lseek(fd, offset, whence): the new offset, or null when the kernel answers
 * ENXIO (with SEEK.DATA: no data at or after `offset`; either: `offset` is
 * at or past the end). Synchronous on purpose: SEEK_DATA/SEEK_HOLE answer
 * from the extent tree in microseconds, less than a trip to the threadpool.
 */
export function seek(fd: number, offset: number, whence: number): number | null {
  return addon.seek(fd, offset, whence);
}

/** posix_fadvise(fd, offset, length, advice); length 0 means to the end of the file. */
export function fadvise(fd: number, offset: number, length: number, advice: number): void {
  addon.fadvise(fd, offset, length, advice);
}

/**
 * fallocate(fd, mode, offset, length) on an open descriptor (EOPNOTSUPP where
 * the filesystem cannot do `mode`). One system call, metadata only, on the
 * descriptor whose inode was checked: no path is looked up again.
 */
export function fallocate(fd: number, mode: number, offset: number, length: number): void {
  addon.fallocate(fd, mode, offset, length);
}
