/**
 * The two system calls Node does not expose and the agent's security needs:
 * `getsockopt(SO_PEERCRED)` (who is on the other end of a unix socket, for
 * the audit trail) and `openat2` with `RESOLVE_BENEATH` (open a path so that
 * no `..`, absolute symlink or magic link can lead outside a root, in one step
 * the kernel checks — no resolve-then-open race). Both go through koffi, an
 * FFI binding shipped prebuilt (no compiler at install time), loaded lazily so
 * that a process which needs neither never maps libc through it.
 */
import { createRequire } from 'node:module';

interface KoffiLib {
  func(signature: string): (...args: unknown[]) => unknown;
}
interface Koffi {
  load(path: string): KoffiLib;
  errno(): number;
}

/** x86_64 and aarch64 syscall number of openat2 (Linux ≥ 5.6). */
const SYS_OPENAT2: Partial<Record<string, number>> = { x64: 437, arm64: 437 };
const SOL_SOCKET = 1;
const SO_PEERCRED = 17;

/** `resolve` flags of openat2 (linux/openat2.h). */
export const RESOLVE = {
  NO_XDEV: 0x01,
  NO_MAGICLINKS: 0x02,
  NO_SYMLINKS: 0x04,
  BENEATH: 0x08,
  IN_ROOT: 0x10,
} as const;

interface Bound {
  koffi: Koffi;
  getsockopt: (fd: number, level: number, name: number, out: Buffer, len: number[]) => number;
  syscall: (...args: unknown[]) => number | bigint;
  renameat2: (olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags: number) => number;
  linkat: (olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags: number) => number;
  unlinkat: (dirfd: number, path: string, flags: number) => number;
  mkdirat: (dirfd: number, path: string, mode: number) => number;
  fchmod: (fd: number, mode: number) => number;
  fsetxattr: (fd: number, name: string, value: Buffer, size: number, flags: number) => number;
  lgetxattr: (path: string, name: string, value: Buffer, size: number) => number | bigint;
  mallocTrim: (pad: number) => number;
}

let bound: Bound | undefined;

function lib(): Bound {
  if (bound === undefined) {
    const koffi = createRequire(import.meta.url)('koffi') as Koffi;
    const libc = koffi.load('libc.so.6');
    bound = {
      koffi,
      getsockopt: libc.func('int getsockopt(int, int, int, _Out_ uint8_t *optval, _Inout_ uint32_t *optlen)') as Bound['getsockopt'],
      syscall: libc.func('long syscall(long, ...)') as Bound['syscall'],
      renameat2: libc.func('int renameat2(int, const char *, int, const char *, unsigned int)') as Bound['renameat2'],
      linkat: libc.func('int linkat(int, const char *, int, const char *, int)') as Bound['linkat'],
      unlinkat: libc.func('int unlinkat(int, const char *, int)') as Bound['unlinkat'],
      mkdirat: libc.func('int mkdirat(int, const char *, uint32_t)') as Bound['mkdirat'],
      fchmod: libc.func('int fchmod(int, uint32_t)') as Bound['fchmod'],
      fsetxattr: libc.func('int fsetxattr(int, const char *, const uint8_t *, size_t, int)') as Bound['fsetxattr'],
      lgetxattr: libc.func('long lgetxattr(const char *, const char *, _Out_ uint8_t *, size_t)') as Bound['lgetxattr'],
      mallocTrim: libc.func('int malloc_trim(size_t)') as Bound['mallocTrim'],
    };
  }
  return bound;
}

/** An error carrying the errno name, as Node's fs errors do (`code`). */
export class ErrnoError extends Error {
  constructor(
    readonly errno: number,
    readonly code: string,
    what: string,
  ) {
    super(`${what}: ${code}`);
  }
}

const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM',
  2: 'ENOENT',
  9: 'EBADF',
  13: 'EACCES',
  17: 'EEXIST',
  18: 'EXDEV',
  20: 'ENOTDIR',
  21: 'EISDIR',
  22: 'EINVAL',
  24: 'EMFILE',
  36: 'ENAMETOOLONG',
  38: 'ENOSYS',
  40: 'ELOOP',
  95: 'EOPNOTSUPP',
  11: 'EAGAIN',
  61: 'ENODATA',
  34: 'ERANGE',
  5: 'EIO',
  16: 'EBUSY',
  28: 'ENOSPC',
  30: 'EROFS',
  31: 'EMLINK',
  39: 'ENOTEMPTY',
  122: 'EDQUOT',
};

function fail(what: string): never {
  const errno = lib().koffi.errno();
  throw new ErrnoError(errno, ERRNO_NAMES[errno] ?? `errno ${errno}`, what);
}

/** The process at the other end of a connected unix socket, as the kernel recorded it at connect(). */
export interface PeerCredentials {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

/** SO_PEERCRED of socket `fd`. */
export function peerCredentials(fd: number): PeerCredentials {
  const out = Buffer.alloc(12);
  const len = [12];
  if (lib().getsockopt(fd, SOL_SOCKET, SO_PEERCRED, out, len) !== 0) fail('getsockopt(SO_PEERCRED)');
  return { pid: out.readInt32LE(0), uid: out.readUInt32LE(4), gid: out.readUInt32LE(8) };
}

/**
 * openat2(dirfd, path, {flags, mode, resolve}). Returns the new descriptor;
 * throws ErrnoError (EXDEV when the path would leave `dirfd`'s tree under
 * RESOLVE_BENEATH, ELOOP for a refused symlink).
 */
export function openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number {
  const nr = SYS_OPENAT2[process.arch];
  if (nr === undefined) throw new ErrnoError(38, 'ENOSYS', `openat2 on ${process.arch}`);
  const how = Buffer.alloc(24);
  how.writeBigUInt64LE(BigInt(flags), 0);
  how.writeBigUInt64LE(BigInt(mode), 8);
  how.writeBigUInt64LE(BigInt(resolve), 16);
  const fd = Number(lib().syscall(nr, 'int', dirfd, 'str', path, 'uint8_t *', how, 'size_t', 24));
  if (fd < 0) fail(`openat2(${path})`);
  return fd;
}

/** `renameat2` flags (linux/fs.h). */
export const RENAME = {
  /** Fail with EEXIST instead of replacing an existing target. */
  NOREPLACE: 1,
  /** Swap the two names atomically (both must exist). */
  EXCHANGE: 2,
} as const;

/**
 * renameat2(olddirfd, oldname, newdirfd, newname, flags): a rename between
 * directories the caller already holds open, so neither directory is looked
 * up by path again — nothing swapped into a path after it was checked can
 * redirect the move.
 */
export function renameat2(olddirfd: number, oldname: string, newdirfd: number, newname: string, flags = 0): void {
  if (lib().renameat2(olddirfd, oldname, newdirfd, newname, flags) !== 0) fail(`renameat2(${oldname}, ${newname})`);
}

/** linkat(olddirfd, oldname, newdirfd, newname, 0): a hard link between held directories; EEXIST when the new name is taken. */
export function linkat(olddirfd: number, oldname: string, newdirfd: number, newname: string): void {
  if (lib().linkat(olddirfd, oldname, newdirfd, newname, 0) !== 0) fail(`linkat(${oldname}, ${newname})`);
}

/** unlinkat(dirfd, name, 0): removes a file's name from a held directory. */
export function unlinkat(dirfd: number, name: string): void {
  if (lib().unlinkat(dirfd, name, 0) !== 0) fail(`unlinkat(${name})`);
}

/** mkdirat(dirfd, name, mode): a directory in a held directory (the umask applies); EEXIST when the name is taken. */
export function mkdirat(dirfd: number, name: string, mode: number): void {
  if (lib().mkdirat(dirfd, name, mode) !== 0) fail(`mkdirat(${name})`);
}

/** fchmod(fd, mode) on a held descriptor (an O_PATH one cannot: EBADF). */
export function fchmod(fd: number, mode: number): void {
  if (lib().fchmod(fd, mode) !== 0) fail('fchmod');
}

/**
 * fsetxattr(fd, name, value, 0) on an open descriptor: metadata that travels
 * with the file (not its name) and changes nothing a reader of the file sees.
 * EOPNOTSUPP where the filesystem keeps no user attributes.
 */
export function fsetxattr(fd: number, name: string, value: Buffer): void {
  if (lib().fsetxattr(fd, name, value, value.length, 0) !== 0) fail(`fsetxattr(${name})`);
}

/**
 * lgetxattr(path, name) without following a symlink at `path`: the value, or
 * undefined when the file has no such attribute (ENODATA) or the filesystem
 * keeps none. Values longer than `max` bytes are refused (ERANGE).
 */
export function lgetxattr(path: string, name: string, max = 256): Buffer | undefined {
  const out = Buffer.alloc(max);
  const n = Number(lib().lgetxattr(path, name, out, max));
  if (n >= 0) return out.subarray(0, n);
  const errno = lib().koffi.errno();
  if (errno === 61 || errno === 95) return undefined;
  return fail(`lgetxattr(${name})`);
}

/**
 * glibc's malloc_trim(0): gives memory freed inside its heaps (not only at
 * their top) back to the kernel. Returns false where it cannot be called
 * (not glibc); true otherwise, whether or not there was anything to give.
 */
export function mallocTrim(): boolean {
  try {
    lib().mallocTrim(0);
    return true;
  } catch {
    return false;
  }
}
